"""Storyboard: each scene's narration, cast, prompt (each character's words in its colour) and candidates; pick
one, see it bigger, ask for more, regenerate after an edit, lock; Generate all."""

from __future__ import annotations

import hashlib

import streamlit as st

from storyreel import edit, pipeline
from storyreel.errors import StoryreelError
from storyreel.stages.images import current_candidates
from storyreel.stages.prompts import compose_prompt
from storyreel.store import jobs as queue
from storyreel.ui import common

COLUMNS = 4


@st.dialog("Candidate", width="large")
def bigger(path: str, caption: str, prompt: str) -> None:
    st.image(path, caption=caption)
    st.caption(prompt)


def set_override(project, scene_id: str, visual: str | None) -> None:
    if visual is not None and not visual.strip():
        raise edit.InputError("describe what to draw, or press Reset to automatic")
    project.set_scene_visual(scene_id, visual.strip() if visual is not None else None)


@st.fragment
def scene_fragment(scene_id: str, opts: dict, backend, settings) -> None:
    """One scene's card. A click inside it (Pick, Lock, More...) redraws this card only, not the whole page."""
    if st.session_state.pop("_rerun_app", False):  # the action changed more than this scene
        st.rerun(scope="app")
    messages = st.container()
    project = common.open_project()
    if project is None:
        return
    try:
        scene = next((x for x in project.scenes() if x.id == scene_id), None)
        if scene is None:  # the story was split anew meanwhile
            st.rerun(scope="app")
        with common.guard():
            chars = project.characters()
            ctx = {"chars": chars, "colour": common.colours(project, chars), "opts": opts, "backend": backend,
                   "settings": settings, "status": queue.progress(project).targets, "picks": project.picks()}  # fmt: skip
            scene_card(project, scene, ctx)
    finally:
        project.close()
        if common.fragment_rerun():  # on a whole page, the page shows them at its top
            with messages:
                common.show_flash()


def scene_card(project, s, ctx: dict) -> None:
    chars, colour, opts, backend, settings = ctx["chars"], ctx["colour"], ctx["opts"], ctx["backend"], ctx["settings"]
    status = ctx["status"].get(s.id)
    by_id = {c.id: c for c in chars}
    prompt = compose_prompt(s, by_id, style=opts["style"], negative=opts["negative"])
    current = current_candidates(project, backend, s, prompt, by_id, settings)
    made = [r for r in current if r is not None]
    pick = ctx["picks"].get(s.id)
    user_pick = pick[0] if pick is not None and pick[1] == "user" else None
    with st.container(border=True):
        title, tools = st.columns([2, 3])
        who = " ".join(f"{common.swatch(colour.get(c, '#888'))}{by_id[c].name}" for c in s.characters if c in by_id)
        title.markdown(f"#### Scene {s.index + 1}{' :material/lock:' if s.locked else ''}")
        with tools:
            buttons(s, len(made), len(current), status, opts)
        left, right = st.columns([2, 3])
        with left:
            st.markdown(f"“{s.text}”")
            if who:
                st.markdown(who, unsafe_allow_html=True)
            st.markdown(common.marked_prompt(prompt.positive, chars, s.characters, colour), unsafe_allow_html=True,
                        help="The prompt: style, then the words of every character in the picture (each in its "
                        "colour), then what to draw.")  # fmt: skip
            if prompt.truncated:
                st.caption(f":orange[about {prompt.tokens} CLIP tokens: the model will not read] “{prompt.truncated}”")
            editor(project, s, chars, opts)
        with right:
            if status is not None and (status.busy or status.failed):
                parts = [f"{n} {w}" for n, w in ((status.running, "making"), (status.queued, "queued"),
                                                  (status.failed, "failed")) if n]  # fmt: skip
                st.caption(":material/hourglass_top: " + " · ".join(parts))
                for e in status.errors:
                    st.error(e)
            older = [r for r in project.candidates(s.id) if r.id not in {m.id for m in made}]
            shown = user_pick if user_pick is not None else made[0].id if made else older[-1].id if older else None
            if not made:
                st.caption("No candidates for this prompt yet: **Regenerate** (or **Generate all**) makes them."
                           + (" Until then the video shows the newest earlier one." if older and user_pick is None
                              else ""))  # fmt: skip
            elif user_pick is None:
                st.caption("No pick yet: the video shows its first candidate (framed in grey).")
            grid(project, s, made, shown, user_pick is not None)
            if older and st.toggle(f"Earlier candidates ({len(older)}), from earlier prompts or settings",
                                   key=f"older_{s.id}", value=shown in {r.id for r in older}):  # fmt: skip
                grid(project, s, older, shown, user_pick is not None, prefix="old")


def editor(project, s, chars, opts: dict) -> None:
    # drawn only when open: fewer widgets on the page make every click answer sooner
    if not st.toggle("Edit narration, cast and prompt", key=f"edit_{s.id}"):
        return
    with st.container(border=True):
        nkey = f"narr_{s.id}_{hashlib.sha256(s.text.encode()).hexdigest()[:8]}"
        st.text_area("Narration", value=s.text, key=nkey, height=80)
        st.button("Save narration", key=f"save_narr_{s.id}", on_click=common.action(
            edit.edit_narration, s.id, common.Value(nkey), opts, s.text, done=f"scene {s.index + 1}: narration saved",
            whole_page=True))  # fmt: skip
        names = {c.id: c.name for c in chars}
        ckey = f"cast_{s.id}_{'-'.join(s.characters)}"
        st.multiselect("In the picture", list(names), default=[c for c in s.characters if c in names],
                       format_func=names.get, key=ckey)  # fmt: skip
        st.button("Save cast", key=f"save_cast_{s.id}", on_click=common.action(
            edit.set_scene_cast, s.id, common.Value(ckey), done=f"scene {s.index + 1}: cast saved"))  # fmt: skip
        override = project.scene_override(s.id)
        vkey = f"visual_{s.id}_{hashlib.sha256(s.visual.encode()).hexdigest()[:8]}"
        st.text_area("What to draw", value=s.visual, key=vkey, height=70,
                     help="Replaces the scene's sentence in its prompt; the characters' words stay.")  # fmt: skip
        a, b, c = st.columns(3)
        a.button("Save prompt", key=f"save_visual_{s.id}", on_click=common.action(
            set_override, s.id, common.Value(vkey), done=f"scene {s.index + 1}: prompt saved; Regenerate makes "
            "its pictures"))  # fmt: skip
        b.button("Reset to automatic", key=f"reset_visual_{s.id}", disabled=override is None,
                 on_click=common.action(set_override, s.id, None, done=f"scene {s.index + 1}: prompt reset"))  # fmt: skip
        c.button("Ask the assistant", key=f"describe_{s.id}", icon=":material/auto_awesome:", disabled=s.locked,
                 help="Your language model (Settings, Writing assistant) writes what to draw; read it, change it.",
                 on_click=common.action(lambda p, sc=s: edit.describe_scenes(p, common.options(p), [sc]),
                                        done=f"scene {s.index + 1}: described; Regenerate makes its pictures"))  # fmt: skip


def buttons(s, n_made: int, n_current: int, status, opts: dict) -> None:
    a, b, c, d = st.columns(4)
    a.button("Regenerate", key=f"regen_{s.id}", disabled=s.locked or n_made == n_current,
             help="Make the candidates this prompt lacks (after an edit).",
             on_click=common.action(edit.regenerate, s.id, opts, done=f"scene {s.index + 1}: queued"))  # fmt: skip
    with b.popover("More", disabled=s.locked):
        st.number_input("How many more", min_value=1, max_value=32, value=4, key=f"more_n_{s.id}")
        st.button("Queue them", key=f"more_{s.id}", on_click=common.action(
            lambda p, k, sid=s.id: edit.more(p, sid, int(k), opts), common.Value(f"more_n_{s.id}"),
            done=f"scene {s.index + 1}: more candidates queued"))  # fmt: skip
    c.button("Unlock" if s.locked else "Lock", key=f"lock_{s.id}",
             help="A locked scene keeps its picture and candidates whatever is regenerated.",
             on_click=common.action(edit.lock, s.id, not s.locked, opts,
                                    done=f"scene {s.index + 1} {'unlocked' if s.locked else 'locked'}"))  # fmt: skip
    d.button("Cancel", key=f"cancel_{s.id}", disabled=not (status and status.busy),
             on_click=common.action(lambda p, sid=s.id: queue.cancel(p, target=sid),
                                    done=f"scene {s.index + 1}: cancelled"))  # fmt: skip


def grid(project, s, rows, shown_id: int | None, picked: bool, prefix: str = "") -> None:
    for start in range(0, len(rows), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, row in zip(cols, rows[start : start + COLUMNS], strict=False):
            path = str(project.media.path(row.media))
            thumb = str(project.media.thumbnail(row.media))
            mark = "" if row.id != shown_id else "_picked" if picked else "_shown"
            with col.container(key=f"cand{prefix}_{s.id}_{row.id}{mark}"):
                note = " · in the video" if mark == "_shown" else ""
                st.image(thumb, caption=f"seed {row.seed}{note}", width="stretch")
                line = st.container(horizontal=True, gap="small")
                if mark == "_picked":
                    line.badge("Picked", icon=":material/check_circle:", color="green")
                else:
                    line.button("Pick", key=f"pick{prefix}_{s.id}_{row.id}", disabled=s.locked,
                                on_click=common.action(edit.pick, s.id, row.id))  # fmt: skip
                if line.button("View", key=f"view{prefix}_{s.id}_{row.id}", icon=":material/zoom_in:", type="tertiary",
                               help="See it bigger"):  # fmt: skip
                    bigger(path, f"Scene {s.index + 1} · seed {row.seed} · {row.width}x{row.height}", row.prompt)


def body(project) -> None:
    opts = common.options(project)
    scenes = project.scenes()
    if not scenes:
        st.info("No scenes yet: write or paste the story on the **Story** page and press **Split**.")
        return
    try:
        backend = pipeline.backend_for(opts)
        settings = pipeline.image_settings(backend, opts)
    except StoryreelError as err:
        st.error(f"{err} (change it on the Settings page)")
        return
    top = st.columns([2, 2, 2, 5])
    top[0].button("Generate all", type="primary", key="generate_all",
                  help="Queue the candidates of every unlocked scene that lacks them for its current prompt.",
                  on_click=common.action(lambda p: pipeline.queue_candidates(p, common.options(p)),
                                         done="queued: the worker is making them"))  # fmt: skip
    top[1].button("Cancel all", key="cancel_all", on_click=common.action(lambda p: queue.cancel(p), done="cancelled"))
    top[2].button("Describe scenes", key="describe_scenes", icon=":material/auto_awesome:",
                  help="Your language model (Settings, Writing assistant) writes what each unlocked scene's picture "
                       "shows, keeping the characters' names; each becomes the scene's prompt, to read and change.",
                  on_click=common.action(lambda p: edit.describe_scenes(p, common.options(p)),
                                         done="scenes described: Generate all makes their pictures"))  # fmt: skip
    top[3].caption(f"{backend.describe()} · {settings.candidates} candidates a scene · {settings.width}x"
                   f"{settings.height} · {settings.steps} step{'s' if settings.steps != 1 else ''} · guidance {settings.guidance}")  # fmt: skip
    common.progress_panel({s.id: f"Scene {s.index + 1}" for s in scenes}, kinds=("candidate",))
    for s in common.paged(scenes, 12, "storyboard_page"):
        scene_fragment(s.id, opts, backend, settings)


common.page("Storyboard", body)
