"""make(): the stages in order, over a project folder, resuming what is already made.

    story -> scenes -> characters -> prompts -> images -> narration -> video

Every stage's output is stored under a hash of its inputs, so running the same command again redoes only what
is missing or whose inputs changed. The CLI and the studio call these functions; they hold no logic of their own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import plugins
from .backends.base import ImageBackend
from .errors import BackendError, Cancelled, InputError, StoreError
from .stages.characters import apply_edits, attribute_scenes, find_characters
from .stages.images import (
    ASPECTS,
    ImageSettings,
    candidate_jobs,
    current_candidates,
    default_size,
    image_jobs,
    parse_size,
    pick_candidates,
)
from .stages.narration import narrate_scenes
from .stages.prompts import DEFAULT_NEGATIVE, DEFAULT_STYLE, compose_portrait, compose_prompt
from .stages.scenes import split_scenes
from .stages.story import narrated_text, parse_story, read_story
from .stages.video import RenderResult, VideoSettings, check_output, render_video
from .store import jobs as queue
from .store.db import CandidateRow, Project, input_key
from .types import Character, ImageRequest, Prompt, Scene

# progress(stage, done, total); log(one line for the user)
Progress = Callable[[str, int, int], None]
Log = Callable[[str], None]


@dataclass
class Options:
    """Everything a run can be told. None means: what the project has, else the default."""

    backend: str | None = None  # diffusers | sketch | auto | a plugin's name
    model: str | None = None
    scenes: int | None = None
    candidates: int | None = None
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    size: str | None = None
    style: str | None = None
    negative: str | None = None
    aspect: str | None = None
    tts: str | None = None
    voice: str | None = None
    speed: int | None = None
    music: str | None = None
    music_volume: float | None = None
    coref: str | None = None
    captions: bool | None = None
    caption_size: float | None = None
    motion: float | None = None
    transitions: bool | None = None
    language: str | None = None  # the story's language (ISO 639-1, e.g. "fr"); None: detected from the text


DEFAULTS: dict[str, Any] = {
    "backend": "diffusers",
    "model": None,
    "candidates": 1,
    "style": DEFAULT_STYLE,
    "negative": DEFAULT_NEGATIVE,
    "aspect": "9:16",
    "tts": "espeak",
    "voice": None,
    "speed": None,
    "music": None,
    "music_volume": 0.3,
    "coref": "rules",
    "captions": True,
    "caption_size": 1.0,
    "motion": 1.0,
    "transitions": True,
    "language": None,
}
# options that, once given, the project remembers for the next command
REMEMBERED = ("backend", "model", "candidates", "seed", "steps", "guidance", "size", "style", "negative", "aspect",
              "tts", "voice", "speed", "music", "music_volume", "coref", "scenes", "captions", "caption_size",
              "motion", "transitions", "language")  # fmt: skip


@dataclass
class MakeResult:
    project: Path
    render: RenderResult | None
    scenes: list[Scene]
    characters: list[Character]
    made_candidates: int = 0
    notes: list[str] = field(default_factory=list)


def _quiet(*_: Any) -> None:
    pass


def in_force(project: Project, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """The options in force, unchecked and unwritten: given now > remembered by the project > defaults."""
    stored = project.settings()
    return {**DEFAULTS, **{k: v for k, v in stored.items() if k in REMEMBERED}, **(given or {})}


def resolve(project: Project, options: Options) -> dict[str, Any]:
    """The options in force, checked; remembers what was given (and the seed, chosen once)."""
    given = {k: v for k, v in vars(options).items() if v is not None}
    merged = in_force(project, given)
    if "tts" not in given and str(given.get("voice", "")).endswith(".onnx"):
        merged["tts"] = "piper"  # a Piper voice file says which engine speaks it
    if merged.get("seed") is None:
        merged["seed"] = random.randrange(2**31)  # chosen once, then kept: a resumed run makes the same images
    if merged["aspect"] not in ASPECTS:
        raise InputError(f"--aspect {merged['aspect']!r} is not one of {', '.join(ASPECTS)}")
    if int(merged["candidates"]) < 1:
        raise InputError(f"--candidates must be at least 1, not {merged['candidates']}")
    if merged.get("music_volume") is not None and not 0 <= float(merged["music_volume"]) <= 2:
        raise InputError("--music-volume must be between 0 and 2 (0.3 is a good start)")
    if not 0.5 <= float(merged["caption_size"]) <= 2:
        raise InputError(f"--caption-size must be between 0.5 and 2 (1 is the default), not {merged['caption_size']}")
    if not 0 <= float(merged["motion"]) <= 2:
        raise InputError(f"--motion must be between 0 (still) and 2 (strong), not {merged['motion']}")
    project.set_settings(**{k: merged[k] for k in REMEMBERED if k in given or k == "seed"})
    return merged


# 1-3: story, scenes, characters --------------------------------------------------------------------------------
def analyse(text: str, scenes: int | None = None, coref: str = "rules", breaks: dict[str, str] | None = None,
            edits: list[tuple[str, dict[str, Any]]] | None = None) -> tuple[list[Scene], list[Character]]:  # fmt: skip
    """Scenes and characters of a story text, with each scene's characters set. Pure: no project.

    ``breaks`` are the user's scene merges and splits, ``edits`` the user's edits of the characters found."""
    from .nlp import parse

    story = parse_story(text)
    doc = parse(narrated_text(story))
    scene_list = split_scenes(story, doc, scenes, breaks)
    characters = apply_edits(find_characters(story, doc, engine=coref), edits or [], story.text)
    attribute_scenes(scene_list, characters)
    return scene_list, characters


def update_story(project: Project, text: str, opts: dict[str, Any],
                 keep: dict[int, str] | None = None) -> tuple[list[Scene], list[Character]]:  # fmt: skip
    """Store the story, its scenes (ids kept across edits) and its characters (the user's words and edits kept).

    ``keep`` maps a scene's start offset to the id it keeps whatever its text (a scene the user rewrote)."""
    story = parse_story(text)
    for _ in range(3):
        breaks, edits = project.scene_breaks(), project.character_edits()
        scenes, found = analyse(text, opts.get("scenes"), opts.get("coref", "rules"), breaks, edits)
        with project.tx():  # all or nothing, and only if nobody edited scenes or characters meanwhile (another tab)
            if (breaks, edits) != (project.scene_breaks(), project.character_edits()):
                continue
            project.save_story(story)
            characters = project.save_characters(found)
            attribute_scenes(scenes, characters)
            project.sync_scenes(scenes, keep)
        return project.scenes(), characters
    raise StoreError("the scenes or characters keep changing in another tab: try again")


def prompts_for(project: Project, scenes: list[Scene], characters: list[Character], opts: dict[str, Any],
                log: Log = _quiet) -> dict[str, Prompt]:  # fmt: skip
    by_id = {c.id: c for c in characters}
    out = {}
    for s in scenes:
        p = compose_prompt(s, by_id, style=opts["style"], negative=opts["negative"])
        if p.truncated:
            log(f"scene {s.index + 1}: prompt is ~{p.tokens} CLIP tokens; the model will not read: {p.truncated!r}")
        out[s.id] = p
    return out


# 4: images -----------------------------------------------------------------------------------------------------
def choose_backend(name: str, model: str | None, log: Log = _quiet) -> ImageBackend:
    """The image backend; ``auto`` takes diffusers when its weights are here, else sketch, and says why."""
    if name == "auto":
        from .backends.diffusers_local import DEFAULT_MODEL, weights_available

        ok, why = weights_available(model or DEFAULT_MODEL)
        if ok:
            log(f"backend auto: using diffusers with {model or DEFAULT_MODEL} (weights found)")
            name = "diffusers"
        else:
            log(f"backend auto: using sketch, because {why}")
            name = "sketch"
    return plugins.create("image_backend", name, model=model)


def image_settings(backend: ImageBackend, opts: dict[str, Any]) -> ImageSettings:
    d = backend.defaults()
    if opts.get("size"):
        w, h = parse_size(opts["size"])
    elif backend.name == "sketch":
        w, h = default_size(576, opts["aspect"])
    else:
        w, h = default_size(d.native, opts["aspect"])
    steps = int(opts["steps"]) if opts.get("steps") is not None else d.steps
    if steps < 1:
        raise InputError(f"--steps must be at least 1, not {steps}")
    guidance = float(opts["guidance"]) if opts.get("guidance") is not None else d.guidance
    return ImageSettings(int(opts["candidates"]), int(opts["seed"]), steps, guidance, w, h)


def queue_candidates(project: Project, opts: dict[str, Any], scenes: list[Scene] | None = None,
                     backend: ImageBackend | None = None, priority: int = 0, log: Log = _quiet,
                     fresh: list[int] | None = None) -> list[int]:  # fmt: skip
    """Queue the candidates that the scenes (default: all) lack for their current prompts; locked scenes are
    left as they are. Returns the jobs' ids; what is queued or made already is not queued again."""
    if project.story_text() is None:
        raise InputError(f"{project.path} has no story yet: run `storyreel new STORY.txt --project {project.path}`")
    backend = backend or choose_backend(opts["backend"], opts.get("model"), log)
    scenes = scenes if scenes is not None else project.scenes()
    characters = project.characters()
    prompts = prompts_for(project, scenes, characters, opts, log)
    settings = image_settings(backend, opts)
    jobs = candidate_jobs(backend, scenes, prompts, characters, settings, priority)
    return queue.enqueue(project, jobs, fresh)


def generate(project: Project, opts: dict[str, Any], backend: ImageBackend | None = None,
             scenes: list[Scene] | None = None, progress: Progress = _quiet, log: Log = _quiet,
             should_stop: Callable[[], bool] | None = None) -> tuple[ImageBackend, int]:  # fmt: skip
    """Queue the missing candidates and make them in this process (through the same queue and worker code as
    the studio; another worker on the project shares the work). Returns the backend and how many it made."""
    from .executors.inprocess import Worker

    backend = backend or choose_backend(opts["backend"], opts.get("model"), log)
    mine: list[int] = []
    ids = queue_candidates(project, opts, scenes, backend, log=log, fresh=mine)
    worker = Worker(backends={(backend.name, backend.location or backend.model_id): backend}, should_stop=should_stop)
    try:
        ended = worker.drain(project, ids, progress=lambda d, t: progress("images", d, t))
    except BaseException:
        queue.cancel(project, ids=mine, running=False)  # what this run queued does not run on behind its back
        raise
    failed = [j for j in ended if j.state == "failed"]
    if failed:
        raise BackendError(f"{len(failed)} of {len(ended)} images could not be made: {failed[0].error}")
    if any(j.state == "cancelled" for j in ended):
        raise Cancelled(f"generation was cancelled; {worker.made} images were made: run the same command to go on")
    return backend, worker.made


# portraits: a character alone, to see how its words look --------------------------------------------------------
def portrait_requests(project: Project, opts: dict[str, Any], character: Character, backend: ImageBackend,
                      n: int = 4) -> list[ImageRequest]:  # fmt: skip
    settings = image_settings(backend, opts)
    seed = character.seed if character.seed is not None else portrait_seed(character.id)
    p = compose_portrait(character, style=opts["style"], negative=opts["negative"])
    return [
        ImageRequest(p.positive, p.negative, seed + k, settings.steps, settings.guidance, settings.width,
                     settings.height, scene=0, characters=((character.name, character.prompt),))  # fmt: skip
        for k in range(n)
    ]


def portrait_seed(character_id: str) -> int:
    """A character's portrait seed until the user sets one: fixed, so its preview changes only with its words."""
    return int(input_key("portrait", character_id)[:8], 16) % 2**31


def queue_portraits(project: Project, opts: dict[str, Any], character_id: str, n: int = 4, priority: int = 1,
                    log: Log = _quiet) -> list[int]:  # fmt: skip
    """Queue ``n`` portraits of a character alone, with the project's backend and style."""
    if not 1 <= n <= 16:
        raise InputError(f"ask for 1 to 16 portraits, not {n}")
    found = find_character(project, character_id)
    backend = choose_backend(opts["backend"], opts.get("model"), log)
    return queue.enqueue(project, image_jobs("portrait", found.id, backend,
                                             portrait_requests(project, opts, found, backend, n), priority))  # fmt: skip


def current_portraits(project: Project, opts: dict[str, Any], character: Character, n: int = 4,
                      backend: ImageBackend | None = None) -> list[CandidateRow | None]:  # fmt: skip
    from .stages.images import request_key

    backend = backend or choose_backend(opts["backend"], opts.get("model"))
    reqs = portrait_requests(project, opts, character, backend, n)
    return [project.portrait_for(character.id, request_key(backend, r)) for r in reqs]


def find_character(project: Project, character_id: str) -> Character:
    for c in project.characters():
        if c.id == character_id:
            return c
    raise InputError(f"no character {character_id!r} in this project: choose one of "
                     f"{', '.join(c.id for c in project.characters())}")  # fmt: skip


def current_picks(project: Project, backend: ImageBackend, opts: dict[str, Any]) -> dict[str, CandidateRow]:
    scenes, characters = project.scenes(), project.characters()
    prompts = prompts_for(project, scenes, characters, opts)
    by_id = {c.id: c for c in characters}
    settings = image_settings(backend, opts)
    current = {s.id: current_candidates(project, backend, s, prompts[s.id], by_id, settings) for s in scenes}
    return pick_candidates(project, current)


# 5-6: narration and video -----------------------------------------------------------------------------------------
def render(project: Project, output: Path, opts: dict[str, Any], backend: ImageBackend | None = None,
           progress: Progress = _quiet, log: Log = _quiet,
           should_stop: Callable[[], bool] | None = None) -> RenderResult:  # fmt: skip
    if project.story_text() is None:
        raise InputError(f"{project.path} has no story yet: run `storyreel new STORY.txt --project {project.path}`")
    check_output(Path(output))
    backend = backend or choose_backend(opts["backend"], opts.get("model"), log)
    picks = current_picks(project, backend, opts)
    scenes = project.scenes()
    engine = plugins.create("tts_engine", opts["tts"], voice=opts.get("voice"), speed=opts.get("speed"))
    narrations = narrate_scenes(project, engine, scenes, progress=lambda d, t: progress("narration", d, t),
                                should_stop=should_stop)  # fmt: skip
    settings = VideoSettings(
        aspect=opts["aspect"], music=music_path(project, opts.get("music")),
        music_volume=float(opts.get("music_volume") or 0.3),
        captions=bool(opts.get("captions", True)), caption_size=float(opts.get("caption_size") or 1.0),
        motion=float(opts.get("motion", 1.0)), transitions=bool(opts.get("transitions", True)),
    )  # fmt: skip
    return render_video(
        project, scenes, picks, narrations, Path(output), settings,
        progress=lambda d, t: progress("video", d, t), should_stop=should_stop,
    )  # fmt: skip


RENDER_TARGET = "@video"  # a render job's target: never a scene or character id


def queue_render(project: Project, opts: dict[str, Any], output: str = "video.mp4") -> int:
    """Queue a render of the project to ``output`` inside the project folder; a render of the same options
    already queued or running is not queued twice."""
    if project.story_text() is None:
        raise InputError("this project has no story yet: write or paste one on the Story page")
    if Path(output).name != output or not output.endswith(".mp4"):
        raise InputError(f"the video's name {output!r} should be a plain file name ending in .mp4")
    spec = {"output": output, "options": dict(opts)}
    key = input_key("render", output, spec["options"])
    latest = queue.latest(project, "render")
    if latest is not None and latest.input_key == key and latest.state == "running":
        key = input_key(key, time.time())  # already rendering: what changed since it began needs another render
    return queue.enqueue(project, [queue.NewJob("render", RENDER_TARGET, key, f"render:{key}", spec)])[0]


def music_path(project: Project, music: str | None) -> str | None:
    """Music given as a path inside the project (the studio's uploads) is found there wherever the project
    has moved; any other path is as given."""
    if not music:
        return None
    inside = project.path / music
    return str(inside) if not Path(music).is_absolute() and inside.is_file() else music


def make(story_path: str | Path, output: str | Path, project_dir: str | Path | None = None,
         options: Options | None = None, progress: Progress = _quiet, log: Log = _quiet,
         should_stop: Callable[[], bool] | None = None) -> MakeResult:  # fmt: skip
    """Everything in one go: a story file in, a narrated video (and its .srt) out."""
    output = Path(output)
    # 1. check inputs before doing any work
    text = read_story(story_path)
    check_output(output)
    if options and options.music:
        from .render.ffmpeg import check_audio

        check_audio(Path(options.music))
    project = Project(project_dir or output.with_suffix(".storyreel"))
    try:
        opts = resolve(project, options or Options())
        backend = choose_backend(opts["backend"], opts.get("model"), log)  # a missing model stops us here
        # 2. scenes and characters
        progress("story", 0, 1)
        scenes, characters = update_story(project, text, opts)
        progress("story", 1, 1)
        # 3. images
        _, made = generate(project, opts, backend, scenes, progress, log, should_stop)
        # 4. narration and video
        result = render(project, output, opts, backend, progress, log, should_stop)
        return MakeResult(project.path, result, project.scenes(), project.characters(), made)
    finally:
        project.close()
