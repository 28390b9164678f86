"""What a person changes in a project, as plain functions the studio and the CLI both call.

Scenes: merge with the next, split at a sentence, rewrite the narration. Characters: merge, split, move or drop
a mention, "not a character", add by hand. Every change is kept in the project and applied again whenever the
story is analysed anew, so editing the story never undoes it. Pictures: pick, lock, ask for more.
Projects: the folders of a studio's root (list, create, duplicate, delete).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError, StoreError, StoryreelError
from .pipeline import Log, _quiet, current_picks, find_character, queue_candidates, update_story
from .stages.characters import apply_edit, attribute_scenes, new_character_id
from .stages.scenes import anchors, sentences
from .stages.story import check_text, narrated_text, parse_story
from .store.db import Project, input_key
from .types import Character, Scene


def digest(*parts: Any) -> str:
    """A short fingerprint of what a page shows, for widget keys that must change when it does."""
    return input_key(*parts)[:10]


# scenes -----------------------------------------------------------------------------------------------------
def _scene_at(project: Project, scene_id: str) -> tuple[list[Scene], int]:
    scenes = project.scenes()
    for i, s in enumerate(scenes):
        if s.id == scene_id:
            return scenes, i
    raise InputError("that scene is no longer in the story: reload the page")


def _story(project: Project) -> str:
    text = project.story_text()
    if text is None:
        raise InputError("this project has no story yet: write or paste one on the Story page")
    return text


def story_sentences(text: str) -> list[tuple[int, str]]:
    """The story's sentences (script lines): (start offset, text), where scenes can be cut."""
    from .nlp import parse

    story = parse_story(text)
    return [(s, text[s:e]) for s, e in sentences(story, parse(narrated_text(story)))]


def scene_sentences(project: Project, scene_id: str) -> list[tuple[int, str]]:
    """The sentences of a scene: (start offset, text). It can be split before any but the first."""
    scenes, i = _scene_at(project, scene_id)
    return [(s, t) for s, t in story_sentences(_story(project)) if scenes[i].start <= s < scenes[i].end]


def merge_with_next(project: Project, scene_id: str, opts: dict[str, Any]) -> list[Scene]:
    scenes, i = _scene_at(project, scene_id)
    if i + 1 >= len(scenes):
        raise InputError("this is the last scene: there is no next scene to merge it with")
    project.set_scene_break(_anchor_at(project, scenes[i + 1].start), "join")
    return update_story(project, _story(project), opts)[0]


def _anchor_at(project: Project, start: int) -> str:
    """The anchor of the sentence that starts at ``start`` (or the first after it)."""
    sents = story_sentences(_story(project))
    names = anchors([t for _, t in sents])
    return next(a for (s, _), a in zip(sents, names, strict=True) if s >= start)


def split_scene(project: Project, scene_id: str, at: int | None, opts: dict[str, Any]) -> list[Scene]:
    """Cut a scene before the sentence that starts at offset ``at``."""
    if at is None:
        raise InputError("choose the sentence the new scene starts at")
    sents = scene_sentences(project, scene_id)
    if at not in {s for s, _ in sents[1:]}:
        raise InputError("a scene is split before one of its sentences, not its first: choose another sentence")
    project.set_scene_break(_anchor_at(project, at), "cut")
    return update_story(project, _story(project), opts)[0]


def edit_narration(project: Project, scene_id: str, narration: str, opts: dict[str, Any],
                   was: str | None = None) -> list[Scene]:  # fmt: skip
    """Rewrite what a scene's narrator says; the scene keeps its id (so its lock, cast and prompt). ``was`` is
    the narration the page showed: if the scene has changed since (another tab), nothing is written."""
    narration = " ".join(narration.split())
    if not narration:
        raise InputError("the narration is empty: write what the narrator says, or merge the scene with another")
    if "|" in narration and parse_story(_story(project)).form == "script":
        raise InputError("a script line's narration cannot hold '|': that mark starts what to draw")
    scenes, i = _scene_at(project, scene_id)
    scene, text = scenes[i], _story(project)
    if was is not None and " ".join(was.split()) != scene.text:
        raise InputError("this scene has changed since the page was drawn (in another tab?): reload the page")
    new = text[: scene.start] + narration + text[scene.end :]
    check_text(new)
    return update_story(project, new, opts, keep={scene.start: scene.id})[0]


def set_story(project: Project, text: str, opts: dict[str, Any],
              clear_breaks: bool = False) -> tuple[list[Scene], list[Character]]:  # fmt: skip
    """Store a new or edited story: scenes keep their ids, pictures, picks and prompts where their text did not
    change; the user's scene breaks (unless ``clear_breaks``) and character edits are applied again."""
    check_text(text)
    if clear_breaks:
        project.clear_scene_breaks()
    return update_story(project, text, opts)


# characters -------------------------------------------------------------------------------------------------
def edit_characters(project: Project, op: str, args: dict[str, Any]) -> list[Character]:
    """Apply one edit to the project's characters, keep it for later analyses, and re-cast the scenes."""
    text = _story(project)
    with project.tx():  # read, change and write as one: another tab's edit cannot slip in between
        chars = apply_edit(project.characters(), op, args, text)
        project.add_character_edit(op, args, chars, attribute_scenes(project.scenes(), chars))
    return project.characters()


_known = find_character


def merge_characters(project: Project, source: str, into: str | None) -> list[Character]:
    if not into:
        raise InputError("choose the character to merge it into")
    if source == into:
        raise InputError("choose two different characters to merge")
    _known(project, source), _known(project, into)
    return edit_characters(project, "merge", {"source": source, "into": into})


def move_mentions(project: Project, mentions: list[tuple[int, int, str]], to: str | None) -> list[Character]:
    """Give mentions to another character."""
    if not to:
        raise InputError("choose the character to move the mentions to")
    return _move(project, mentions, _known(project, to).id)


def drop_mentions(project: Project, mentions: list[tuple[int, int, str]]) -> list[Character]:
    """These mentions are nobody's (the finder was wrong)."""
    return _move(project, mentions, None)


def _move(project: Project, mentions: list[tuple[int, int, str]], to: str | None) -> list[Character]:
    if not mentions:
        raise InputError("choose the mentions first")
    with project.tx():
        for m in mentions:
            edit_characters(project, "move", {"mention": list(m), "to": to})
    return project.characters()


def reject_character(project: Project, cid: str) -> list[Character]:
    """'Not a character': the cluster is dropped, and stays dropped when the story is analysed again."""
    _known(project, cid)
    return edit_characters(project, "reject", {"id": cid})


def _new_id(project: Project, name: str) -> str:
    if not name.strip():
        raise InputError("give the character a name")
    return new_character_id(name, {c.id for c in project.characters()})


def add_character(project: Project, name: str, aliases: list[str]) -> tuple[str, list[Character]]:
    """A character by hand: every whole-word occurrence of its name and aliases becomes its mention."""
    cid = _new_id(project, name)
    words = [a for a in dict.fromkeys([name.strip(), *(a.strip() for a in aliases)]) if a]
    return cid, edit_characters(project, "add", {"id": cid, "name": name.strip(), "aliases": words})


def split_character(project: Project, source: str, mentions: list[tuple[int, int, str]],
                    name: str) -> tuple[str, list[Character]]:  # fmt: skip
    """A new character made of some of another's mentions."""
    ch = _known(project, source)
    if not mentions:
        raise InputError("choose the mentions that belong to the new character")
    if len(mentions) == len(ch.mentions):
        raise InputError("to split a character, leave it at least one mention (or rename it instead)")
    cid = _new_id(project, name)
    return cid, edit_characters(project, "split", {"source": source, "id": cid, "name": name.strip(),
                                                  "mentions": [list(m) for m in mentions]})  # fmt: skip


# pictures ---------------------------------------------------------------------------------------------------
def pick(project: Project, scene_id: str, candidate_id: int) -> None:
    _, i = _scene_at(project, scene_id)
    row = project.candidate(candidate_id)
    if row is None or row.scene_id != scene_id:
        raise InputError("that picture is not one of this scene's candidates: reload the page")
    if project.scenes()[i].locked:
        raise InputError("this scene is locked: unlock it to pick another picture")
    project.pick(scene_id, candidate_id, by="user")


def set_scene_cast(project: Project, scene_id: str, wanted: list[str]) -> None:
    """Who is in a scene's picture, as the user wants it (the finder's say is kept for the others)."""
    scenes, i = _scene_at(project, scene_id)
    now = scenes[i].characters
    for cid in wanted:
        if cid not in now:
            project.set_cast(scene_id, cid, True)
    for cid in now:
        if cid not in wanted:
            project.set_cast(scene_id, cid, False)


def lock(project: Project, scene_id: str, locked: bool, opts: dict[str, Any]) -> None:
    """Lock a scene: its picture (the pick, or the first candidate) and candidates are kept whatever changes."""
    _scene_at(project, scene_id)
    if locked:
        shown = shown_pictures(project, opts).get(scene_id)
        if shown is not None:
            project.pick(scene_id, shown.id, by="user")
    project.set_scene_lock(scene_id, locked)


def shown_pictures(project: Project, opts: dict[str, Any]) -> dict[str, Any]:
    """The picture each scene shows in the video: its pick, else its first current candidate."""
    from .pipeline import backend_for

    return current_picks(project, backend_for(opts), opts)


def more(project: Project, scene_id: str, k: int, opts: dict[str, Any], log: Log = _quiet) -> list[int]:
    """Queue ``k`` more candidates for a scene, with new seeds."""
    scenes, i = _scene_at(project, scene_id)
    if scenes[i].locked:
        raise InputError("this scene is locked: unlock it to make more candidates")
    if not 1 <= k <= 32:
        raise InputError(f"ask for 1 to 32 more candidates, not {k}")
    project.add_scene_extra(scene_id, k)
    return queue_candidates(project, opts, [project.scene(scene_id)], priority=1, log=log)


def regenerate(project: Project, scene_id: str, opts: dict[str, Any], log: Log = _quiet) -> list[int]:
    """Queue the candidates a scene lacks for its current prompt (after an edit)."""
    scenes, i = _scene_at(project, scene_id)
    if scenes[i].locked:
        raise InputError("this scene is locked: unlock it to regenerate it")
    return queue_candidates(project, opts, [scenes[i]], priority=1, log=log)


def describe_scenes(project: Project, opts: dict[str, Any], scenes: list[Scene] | None = None) -> dict[str, str]:
    """Each scene's what-to-draw in the words of the user's language model, stored as the scene's prompt (its
    characters keep their names, so their words are still put in). Locked scenes keep theirs."""
    from .assist.llm import Assistant
    from .assist.llm import describe_scenes as ask

    assistant = Assistant(opts.get("llm_url"), opts.get("llm_model"))
    chosen = [s for s in (scenes if scenes is not None else project.scenes()) if not s.locked]
    if not chosen:
        raise InputError("every scene asked for is locked: unlock one to describe it")
    drawn = ask(chosen, project.characters(), assistant)
    with project.tx():
        for sid, draw in drawn.items():
            project.set_scene_visual(sid, draw)
    return drawn


def describe_character(project: Project, opts: dict[str, Any], character_id: str) -> str:
    """A character's prompt words, suggested by the user's language model from the sentences that mention it."""
    from .assist.llm import Assistant
    from .assist.llm import describe_character as ask

    character = find_character(project, character_id)
    words = ask(character, project.story_text() or "", Assistant(opts.get("llm_url"), opts.get("llm_model")))
    project.update_character(character.id, prompt=words)
    return words


def set_reference_file(project: Project, character_id: str, path: str | Path) -> str:
    """A picture file as a character's reference picture (for workflows that draw from one); its media name."""
    import io

    from PIL import Image, UnidentifiedImageError

    character = find_character(project, character_id)
    try:
        data = Path(path).read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            buf = io.BytesIO()
            im.convert("RGB").save(buf, format="PNG")
    except OSError as err:
        if isinstance(err, UnidentifiedImageError):
            raise InputError(f"{path} is not a picture storyreel can read: give a PNG or JPEG") from None
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    name = project.media.put(buf.getvalue(), ".png")
    project.update_character(character.id, reference=name)
    return name


def set_music(project: Project, data: bytes | None, filename: str | None) -> None:
    """Music under the voice: an uploaded file, checked as audio, kept in the project (None: no music)."""
    if data is None:
        project.set_settings(music=None, music_name=None)
        return
    import tempfile

    from .render.ffmpeg import check_audio

    ext = Path(filename or "music").suffix.lower()[:8] or ".audio"
    with tempfile.NamedTemporaryFile(dir=project.path, prefix=".upload-", suffix=ext) as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            check_audio(Path(tmp.name))
        except StoryreelError:
            raise InputError(f"{filename} is not an audio file: upload an MP3, WAV, OGG, FLAC or M4A file") from None
    name = project.media.put(data, ext)
    project.set_settings(music=str(project.media.path(name).relative_to(project.path)), music_name=filename)


# projects ---------------------------------------------------------------------------------------------------
_NAME = re.compile(r"^\w[\w .-]{0,63}$")  # letters of any script, digits, space, _ . -: never a path


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    path: Path
    modified: float


def project_path(root: Path, name: str) -> Path:
    """The folder of project ``name`` directly under ``root``; a name that would lead elsewhere is refused."""
    name = name.strip()
    if not _NAME.match(name) or name.endswith(".") or ".." in name:
        shown = name if len(name) <= 40 else name[:40] + "…"
        raise InputError(
            f"{shown!r} cannot be a project name: start with a letter or digit, then letters, digits, spaces, "
            "'-', '_' or '.' (at most 64)"
        )
    return root / name


def list_projects(root: Path) -> list[ProjectInfo]:
    """The projects under ``root``, the most recently changed first."""
    out = []
    try:
        children = list(root.iterdir())
    except OSError:
        return []
    for p in children:
        if not _NAME.match(p.name):
            continue  # a folder the studio could not name in a URL: open it with the CLI
        try:
            if (p / "project.db").is_file():
                times = [f.stat().st_mtime for f in (p / "project.db", p / "project.db-wal") if f.exists()]
                out.append(ProjectInfo(p.name, p, max(times)))
        except OSError:  # deleted while we looked
            continue
    return sorted(out, key=lambda i: -i.modified)


def create_project(root: Path, name: str, text: str, opts_given: dict[str, Any]) -> Project:
    """A new project from a story text. Nothing is left behind when the story is refused."""
    from .pipeline import Options, resolve

    path = project_path(root, name)
    check_text(text)
    try:
        root.mkdir(parents=True, exist_ok=True)
        path.mkdir()  # ours alone from here: a second tab creating the same name gets FileExistsError
    except FileExistsError:
        raise InputError(f"a project named {name!r} exists already: choose another name") from None
    except OSError as err:
        raise StoreError(f"cannot create {path}: {err.strerror}") from None
    project = None
    try:
        project = Project(path)
        set_story(project, text, resolve(project, Options(**opts_given)))
    except BaseException:
        if project is not None:
            project.close()
        shutil.rmtree(path, ignore_errors=True)
        raise
    return project


def duplicate_project(root: Path, name: str, new_name: str) -> Path:
    """A copy of a project (its database copied consistently while in use, its pictures and videos too)."""
    src = project_path(root, name)
    dst = project_path(root, new_name)
    if dst.exists():
        raise InputError(f"a project named {new_name!r} exists already: choose another name")
    if not (src / "project.db").exists():
        raise InputError(f"there is no project {name!r}")
    try:
        dst.mkdir()  # ours alone from here
    except FileExistsError:
        raise InputError(f"a project named {new_name!r} exists already: choose another name") from None
    try:
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("project.db*", ".render-*", ".tmp-*", ".upload-*"),
                        dirs_exist_ok=True)  # fmt: skip
        with sqlite3.connect(src / "project.db") as a, sqlite3.connect(dst / "project.db") as b:
            a.backup(b)
            b.execute("UPDATE jobs SET state = 'queued', worker = NULL, heartbeat = NULL WHERE state = 'running'")
        b.close()
        a.close()
    except (OSError, sqlite3.Error) as err:
        shutil.rmtree(dst, ignore_errors=True)
        raise StoreError(f"cannot copy the project: {err}") from None
    return dst


def delete_project(root: Path, name: str) -> None:
    """Cancel what the project has queued, move it out of the list at once, then remove it."""
    path = project_path(root, name)
    if not (path / "project.db").exists():
        raise InputError(f"there is no project {name!r}")
    from .store.jobs import cancel

    project = Project(path, create=False)
    try:
        cancel(project)
    finally:
        project.close()
    trash = root / f".deleted-{name}-{uuid.uuid4().hex[:6]}"
    try:
        path.rename(trash)
        shutil.rmtree(trash)
    except OSError as err:
        raise StoreError(f"cannot delete {path}: {err.strerror}") from None
