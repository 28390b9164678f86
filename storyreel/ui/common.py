"""What every page of the studio shares: the open project, the options in force, error boxes, colours.

The pages only read and write the project database (through storyreel's public functions); the worker makes
what they queue. Nothing here waits on a GPU.
"""

from __future__ import annotations

import html
import logging
import os
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from ..errors import StoryreelError
from ..pipeline import Options, in_force, resolve
from ..store.db import Project
from ..types import Character

log = logging.getLogger("storyreel.studio")

ROOT_ENV = "STORYREEL_STUDIO_ROOT"
STORY_LIMIT = 1_000_000  # bytes of an uploaded story
MUSIC_LIMIT = 50 * 1024 * 1024
STUDIO_CANDIDATES = 8  # candidates per scene for a project made in the studio: enough to choose from

# one colour per character, in order (readable on white, distinct for the colour-blind where it matters most)
PALETTE = ["#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4", "#b15928",
           "#6a3d9a", "#33a02c", "#fb9a99"]  # fmt: skip


# the picked candidate framed in green, the one the video shows for want of a pick in grey
STYLE = """<style>
div[class*="st-key-cand"][class*="_picked"] { outline: 3px solid #2e7d32; outline-offset: 3px; border-radius: 6px; }
div[class*="st-key-cand"][class*="_shown"] { outline: 2px dashed #9e9e9e; outline-offset: 3px; border-radius: 6px; }
</style>"""


def root() -> Path:
    return Path(os.environ.get(ROOT_ENV, ".")).resolve()


def project_name() -> str | None:
    return st.session_state.get("project")


def open_project() -> Project | None:
    """The project this browser tab has open (a fresh connection for this run), or None."""
    from ..edit import project_path

    name = project_name()
    if not name:
        return None
    path = project_path(root(), name)
    if not (path / "project.db").exists():
        st.session_state.pop("project", None)
        return None
    return Project(path)


def page(title: str, body: Callable[[Project], None], without: Callable[[], None] | None = None) -> None:
    """Draw a page: its title, then ``body(project)`` for the open project (or ``without()``, or a note when
    none is open), then, at the top, what the actions of this run said (they may run while the page is drawn).
    What goes wrong is an error box that says what to do, never a traceback."""
    st.html(STYLE)
    st.title(title)
    messages = st.container()
    project = None
    try:
        with guard():
            project = open_project()
            if project is not None:
                body(project)
            elif without is not None:
                without()
            else:
                st.info("Open a project in the sidebar, or create one from a story on the **Story** page.")
    finally:
        if project is not None:
            project.close()
        with messages:
            show_flash()


@contextmanager
def guard() -> Iterator[None]:
    """A user's mistake or the world's becomes an error box; a bug too, with its traceback in the terminal."""
    try:
        yield
    except StoryreelError as err:
        st.error(str(err))
    except Exception as err:
        log.error("studio page failed:\n%s", traceback.format_exc())
        st.error(f"storyreel hit a bug ({type(err).__name__}: {err}); the terminal has the details")


def options(project: Project) -> dict[str, Any]:
    """The options in force for this project (what it remembers, else the defaults); nothing is written."""
    merged = in_force(project)
    return resolve(project, Options()) if merged.get("seed") is None else merged  # the seed is chosen once


def save_options(project: Project, **given: Any) -> dict[str, Any]:
    """Check and remember options; a bad value raises a StoryreelError that says what to do."""
    return resolve(project, Options(**given))


# messages that outlive a rerun --------------------------------------------------------------------------------
def flash(kind: str, message: str) -> None:
    st.session_state.setdefault("_flash", []).append((kind, message))


def show_flash() -> None:
    """Errors and warnings stay as boxes until the next action; a success is a toast that goes by itself."""
    for kind, message in st.session_state.pop("_flash", []):
        if kind == "success":
            st.toast(message, icon=":material/check_circle:")
        else:
            {"error": st.error, "warning": st.warning}.get(kind, st.info)(message)


def run_action(fn: Callable[..., Any], *args: Any, done: str | None = None, **kwargs: Any) -> bool:
    """Do what a button asks; a user's mistake (or a bug) becomes an error box, never a traceback. True if done."""
    try:
        fn(*args, **kwargs)
    except StoryreelError as err:
        flash("error", str(err))
        return False
    except Exception as err:  # a bug: the terminal has the traceback, the page one line
        log.error("studio action %s failed:\n%s", getattr(fn, "__name__", fn), traceback.format_exc())
        flash("error", f"storyreel hit a bug ({type(err).__name__}: {err}); the terminal has the details")
        return False
    if done:
        flash("success", done)
    return True


@dataclass(frozen=True)
class Value:
    """An action's argument read from a widget when the button is clicked, not when the page was drawn."""

    key: str


def action(fn: Callable[..., Any], *args: Any, done: str | None = None, whole_page: bool = False,
           **kwargs: Any) -> Callable[[], None]:  # fmt: skip
    """An ``on_click`` callback that runs ``fn(project, *args)`` on the open project (a connection of its own).
    ``whole_page``: the action changes more than the fragment its button is in, so the whole page is redrawn."""

    def callback() -> None:
        if whole_page:
            st.session_state["_rerun_app"] = True
        project = open_project()
        if project is None:
            flash("error", "no project is open: choose one in the sidebar")
            return
        now = [st.session_state.get(a.key) if isinstance(a, Value) else a for a in args]
        try:
            run_action(fn, project, *now, done=done, **kwargs)
        finally:
            project.close()

    return callback


def paged(items: list, per_page: int, key: str, noun: str = "scenes") -> list:
    """A page of a long list (a long story has hundreds of scenes: drawing all of them makes every click slow)."""
    if len(items) <= per_page:
        return items
    starts = list(range(0, len(items), per_page))
    start = st.selectbox(
        f"Show {noun}", starts, key=key,
        format_func=lambda i: f"{noun} {i + 1}–{min(i + per_page, len(items))} of {len(items)}",
    )  # fmt: skip
    return items[start : start + per_page]


# characters ---------------------------------------------------------------------------------------------------
def colours(project: Project, characters: list[Character]) -> dict[str, str]:
    """Each character's colour, kept by the project: a merge or a new character never recolours the others."""
    kept: dict[str, int] = project.settings().get("colours") or {}
    new = [c.id for c in characters if c.id not in kept]
    if new:
        used = {kept[c.id] for c in characters if c.id in kept}
        free = (i for i in range(10_000) if i not in used)
        kept = {**kept, **{cid: next(free) for cid in new}}
        project.set_settings(colours=kept)
    return {c.id: PALETTE[kept[c.id] % len(PALETTE)] for c in characters}


def swatch(colour: str) -> str:
    return f'<span style="display:inline-block;width:.9em;height:.9em;border-radius:50%;background:{colour};' \
           'vertical-align:middle;margin-right:.3em"></span>'  # fmt: skip


def marked_prompt(prompt: str, characters: list[Character], cast: list[str], colours_by_id: dict[str, str]) -> str:
    """The prompt as HTML, each character's words underlined in its colour (longest words first)."""
    spans: list[tuple[int, int, str, str]] = []
    for cid in cast:
        ch = next((c for c in characters if c.id == cid), None)
        words = ch.prompt.strip() if ch else ""
        at = prompt.find(words) if words else -1
        if ch is not None and at >= 0:
            spans.append((at, at + len(words), colours_by_id.get(cid, "#888"), ch.name))
    out, pos = [], 0
    for s, e, colour, name in sorted(spans):
        if s < pos:
            continue
        out.append(html.escape(prompt[pos:s]))
        out.append(
            f'<span title="{html.escape(name)}" style="background:{colour}22;border-bottom:3px solid {colour};'
            f'padding:0 2px">{html.escape(prompt[s:e])}</span>'
        )
        pos = e
    out.append(html.escape(prompt[pos:]))
    return "".join(out)


def highlighted_story(text: str, characters: list[Character], colours_by_id: dict[str, str],
                      start: int = 0, end: int | None = None) -> str:  # fmt: skip
    """The story (or a stretch of it) as HTML with every mention in its character's colour."""
    end = len(text) if end is None else end
    marks = sorted(
        (m.start, m.end, c.id, c.name) for c in characters for m in c.mentions if start <= m.start and m.end <= end
    )
    out, pos = [], start
    for s, e, cid, name in marks:
        if s < pos:
            continue
        out.append(html.escape(text[pos:s]))
        colour = colours_by_id.get(cid, "#888")
        out.append(
            f'<mark title="{html.escape(name)}" style="background:{colour}33;border-bottom:2px solid {colour};'
            f'color:inherit;padding:0 1px">{html.escape(text[s:e])}</mark>'
        )
        pos = e
    out.append(html.escape(text[pos:end]))
    body = "".join(out).replace("\n", "<br>")
    return f'<div style="line-height:1.7;max-height:28em;overflow-y:auto">{body}</div>'


def fragment_rerun() -> bool:
    """Is this run redrawing fragments only (a click inside one), rather than the whole page?"""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


# progress -------------------------------------------------------------------------------------------------------
def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def progress_panel(scene_names: dict[str, str] | None = None, every: float = 1.0,
                   kinds: tuple[str, ...] = ("candidate", "portrait"), noun: str = "images") -> None:  # fmt: skip
    """The queue's progress, read from the database every ``every`` seconds (the rest of the page is not rerun,
    except once images arrive, so they show). Per scene: queued / making / done / failed, with the error."""

    @st.fragment(run_every=every)
    def panel() -> None:
        with guard():
            _panel()

    def _panel() -> None:
        from ..store import jobs

        project = open_project()
        if project is None:
            return
        try:
            p = jobs.progress(project, kinds)
            made = sum(t.done for t in p.targets.values())
        finally:
            project.close()
        if p.total == 0:
            st.caption("Nothing queued." + (" **Generate all** makes every scene's candidates." if "candidate" in kinds
                                              else ""))  # fmt: skip
        else:
            dropped = [(sum(getattr(t, w) for t in p.targets.values()), w) for w in ("failed", "cancelled")]
            label = f"{made} of {p.total} {noun} made" + "".join(f", {n} {w}" for n, w in dropped if n)
            if p.busy:
                label += f" · {p.per_second:.2f} images/s" if p.per_second else " · starting"
                if p.seconds_left is not None:
                    label += f" · about {_duration(p.seconds_left)} left"
            else:
                label += " · finished" + (f", {p.per_second:.2f} images/s" if p.per_second else "")
            st.progress(min(1.0, (p.done + p.running_fraction) / max(1, p.total)), text=label)
            rows = []
            for target, t in p.targets.items():
                name = (scene_names or {}).get(target, target)
                state = ", ".join(f"{n} {word}" for n, word in ((t.running, "making"), (t.queued, "queued"),
                                  (t.done, "done"), (t.failed, "failed"), (t.cancelled, "cancelled")) if n)  # fmt: skip
                rows.append((name, state, t.errors[0] if t.errors else ""))
            if any(t.busy or t.failed for t in p.targets.values()):
                with st.expander("Per scene" if "candidate" in kinds else "Per character", expanded=any(t.failed for t in p.targets.values())):
                    for name, state, error in rows:
                        st.markdown(f"**{html.escape(name)}** · {state}" + (f"  \n:red[{html.escape(error)}]" if error else ""))
        # new pictures: rerun the page so they show (at most every two seconds)
        import time

        mark = f"_made_seen_{'-'.join(kinds)}"
        seen = st.session_state.get(mark)
        st.session_state[mark] = made
        if seen is not None and made != seen and time.time() - st.session_state.get("_last_app_rerun", 0) > 2:
            st.session_state["_last_app_rerun"] = time.time()
            st.rerun(scope="app")
        elif seen is not None and made != seen:
            st.session_state[mark] = seen  # not shown yet: try again on the next tick

    panel()
