"""make(): the stages in order, over a project folder, resuming what is already made.

    story -> scenes -> characters -> prompts -> images -> narration -> video

Every stage's output is stored under a hash of its inputs, so running the same command again redoes only what
is missing or whose inputs changed. The CLI and the studio call these functions; they hold no logic of their own.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import plugins
from .backends.base import ImageBackend
from .errors import BackendError, Cancelled, InputError, ModelNotFoundError, ServerDown, StoreError, store_error
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
from .stages.story import narrated_text, parse_narration, parse_story, read_story
from .stages.video import RenderResult, VideoSettings, check_output, render_video, sweep_work
from .store import jobs as queue
from .store.db import CandidateRow, Project, damaged, input_key
from .types import Character, ImageRequest, Prompt, Scene

# progress(stage, done, total); log(one line for the user)
Progress = Callable[[str, int, int], None]
Log = Callable[[str], None]


@dataclass
class Options:
    """Everything a run can be told. None means: what the project has, else the default."""

    backend: str | None = None  # diffusers | sketch | auto | a1111 | a plugin's name
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
    backend_url: str | list[str] | None = None  # an HTTP backend's server(s); never with a password once given
    workflow: str | None = None  # a ComfyUI workflow (API format) with marked inputs; None: the bundled one
    llm_url: str | None = None  # an OpenAI-compatible server, for --coref llm (its key from the environment)
    llm_model: str | None = None
    executor: str | None = None  # inprocess (this process) | ray (a Ray cluster's actors); not remembered
    ray_address: str | None = None  # a running Ray cluster; None: a local one started for the run
    ray_actors: int | None = None  # None: one per GPU, or one per four CPUs
    compile: bool | None = None  # diffusers: torch.compile the UNet and the VAE decoder (remembered)
    deepcache: int | None = None  # diffusers: the UNet's deep blocks every n-th step only (0: off; remembered)


DEFAULTS: dict[str, Any] = {
    "backend": "auto",
    "model": None,
    "backend_url": None,
    "workflow": None,
    "llm_url": None,
    "llm_model": None,
    "executor": "inprocess",
    "ray_address": None,
    "ray_actors": None,
    "compile": False,
    "deepcache": 0,
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
EXECUTORS = ("inprocess", "ray")
# options that, once given, the project remembers for the next command
REMEMBERED = ("backend", "model", "backend_url", "workflow", "llm_url", "llm_model", "compile", "deepcache",
              "candidates", "seed", "steps", "guidance", "size", "style", "negative", "aspect", "tts", "voice",
              "speed", "music", "music_volume", "coref", "scenes", "captions", "caption_size", "motion",
              "transitions", "language")  # fmt: skip


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
    return merge_options(project.settings(), given or {})


def given_options(options: Options) -> dict[str, Any]:
    from .backends.http import public_url  # the user name and password stay in this process, never in the project

    given = {k: v for k, v in vars(options).items() if v is not None}
    if given.get("backend_url"):
        urls = [public_url(u) for u in server_urls(given)]
        given["backend_url"] = urls[0] if len(urls) == 1 else urls
    if given.get("llm_url"):
        given["llm_url"] = public_url(str(given["llm_url"]), "--llm-url")
    if given.get("workflow"):  # any folder the next command runs from
        given["workflow"] = str(Path(str(given["workflow"])).expanduser().resolve())
    return given


def merge_options(stored: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """given now > remembered by the project > defaults; a Piper voice file says which engine speaks it."""
    merged = {**DEFAULTS, **{k: v for k, v in stored.items() if k in REMEMBERED}, **given}
    if "tts" not in given and str(merged.get("voice") or "").endswith(".onnx"):
        merged["tts"] = "piper"
    return merged


def check_options(merged: dict[str, Any], given: dict[str, Any], project_path: Path | None = None) -> None:
    """Every option fully checked, without writing anything: a typo must never be remembered. The options the
    user gave now are checked in depth (a voice is tried, a model looked for, music read); all are range-checked."""
    from .stages.images import parse_size

    def number(key: str, kind: type, lo: float, hi: float | None, hint: str) -> None:
        value = merged.get(key)
        if value is None:
            return
        try:
            x = kind(value)
        except (TypeError, ValueError):
            raise InputError(f"--{key.replace('_', '-')} {value!r} is not a number: {hint}") from None
        if x < lo or (hi is not None and x > hi):
            raise InputError(f"--{key.replace('_', '-')} {value}: {hint}")

    if merged["aspect"] not in ASPECTS:
        raise InputError(f"--aspect {merged['aspect']!r} is not one of {', '.join(ASPECTS)}")
    number("candidates", int, 1, None, "give at least 1 candidate per scene")
    number("scenes", int, 1, None, "give at least 1 scene (or leave --scenes out: a scene per sentence)")
    number("seed", int, 0, 2**32 - 1, "give a whole number from 0 to 4294967295")
    number("steps", int, 1, 500, "give 1 to 500 denoising steps (1-4 for Turbo models, 20-30 for others)")
    number("guidance", float, 0, 50, "give a guidance scale from 0 to 50 (0 for Turbo models, about 7 for others)")
    number("speed", int, 80, 450, "give a speaking speed of 80 to 450 words per minute (165 is the default)")
    number("music_volume", float, 0, 2, "give a music volume between 0 and 2 (0.3 is a good start)")
    number("caption_size", float, 0.5, 2, "give a caption size between 0.5 and 2 (1 is the default)")
    number("motion", float, 0, 2, "give a motion strength between 0 (still) and 2 (strong)")
    if merged.get("executor") not in EXECUTORS:
        raise InputError(f"--executor {merged['executor']!r} is not one of {', '.join(EXECUTORS)}")
    number("ray_actors", int, 1, None, "give at least 1 Ray actor (or leave it out: one per GPU)")
    if merged.get("size"):
        parse_size(str(merged["size"]))
    if merged.get("language"):
        from .stages.language import check_language

        check_language(str(merged["language"]))
    if {"tts", "voice", "speed", "language"} & set(given):
        engine = plugins.create("tts_engine", merged["tts"], voice=merged.get("voice"), speed=merged.get("speed"))
        engine.check()  # a voice that does not exist is found now, not after the pictures are made
    if {"compile", "deepcache"} & set(given):  # whichever backend: a remembered pair would fail with diffusers
        from .backends.diffusers_local import check_speedups

        check_speedups(bool(merged.get("compile")), merged.get("deepcache"))
    if {"backend", "model", "backend_url", "workflow", "compile", "deepcache"} & set(given):
        backend_for(merged)  # an unknown backend, a model not found, a server URL missing
    if given.get("music"):
        from .render.ffmpeg import check_audio

        check_audio(Path(music_path(project_path or Path("."), str(given["music"]))))
    if given.get("coref"):
        plugins.registry().factory("coref_engine", str(given["coref"]))
    if {"coref", "llm_url", "llm_model"} & set(given) and merged.get("coref") == "llm":
        from .assist.llm import Assistant

        Assistant(merged.get("llm_url"), merged.get("llm_model"))  # a server and a model, before any reading


def coref_options(opts: dict[str, Any]) -> dict[str, str]:
    """What the character finder needs besides its name: the llm engine's server and model."""
    if opts.get("coref") != "llm":
        return {}
    return {k: str(opts[o]) for k, o in (("url", "llm_url"), ("model", "llm_model")) if opts.get(o)}


def resolve(project: Project, options: Options) -> dict[str, Any]:
    """The options in force, checked; remembers what was given (and the seed, chosen once) only when all of
    them are good."""
    given = given_options(options)
    merged = merge_options(project.settings(), given)
    check_options(merged, given, project.path)
    if merged.get("seed") is None:
        merged["seed"] = random.randrange(2**31)  # chosen once, then kept: a resumed run makes the same images
    project.set_settings(**{k: merged[k] for k in REMEMBERED if k in given or k == "seed"})
    return merged


# 1-3: story, scenes, characters --------------------------------------------------------------------------------
def analyse(text: str, scenes: int | None = None, coref: str = "rules", breaks: dict[str, str] | None = None,
            edits: list[tuple[str, dict[str, Any]]] | None = None, language: str | None = None,
            log: Log = _quiet, minor: bool = False,
            coref_options: dict[str, str] | None = None) -> tuple[list[Scene], list[Character]]:  # fmt: skip
    """Scenes and characters of a story text, with each scene's characters set. Pure: no project.

    ``breaks`` are the user's scene merges and splits, ``edits`` the user's edits of the characters found.
    ``language`` is the story's (ISO 639-1; None: told from the text). The character finder reads English only:
    a story in another language has just the characters added by hand (``edits``), and ``log`` is told so.
    ``minor``: the characters include the finder's minor clusters (flagged; never in a scene)."""
    from .stages.characters import english_only_note
    from .stages.language import story_language

    story = parse_story(text)
    narrated = narrated_text(story)
    language = story_language(narrated, language)
    if language != "en":  # spaCy's English model would cut sentences wrongly and take verbs for characters
        scene_list = split_scenes(story, None, scenes, breaks, language)
        characters = apply_edits([], edits or [], story.text)
        log(english_only_note(language))
        attribute_scenes(scene_list, characters)
        return scene_list, characters
    doc = parse_narration(story)
    scene_list = split_scenes(story, doc, scenes, breaks, language)
    found = find_characters(story, doc, engine=coref, minor=minor, options=coref_options, log=log)
    characters = apply_edits(found, edits or [], story.text)
    attribute_scenes(scene_list, characters)
    return scene_list, characters


def update_story(project: Project, text: str, opts: dict[str, Any], keep: dict[int, str] | None = None,
                 log: Log = _quiet) -> tuple[list[Scene], list[Character]]:  # fmt: skip
    """Store the story, its scenes (ids kept across edits) and its characters (the user's words and edits kept).

    ``keep`` maps a scene's start offset to the id it keeps whatever its text (a scene the user rewrote)."""
    story = parse_story(text)
    for _ in range(3):
        breaks, edits = project.scene_breaks(), project.character_edits()
        scenes, found = analyse(text, opts.get("scenes"), opts.get("coref", "rules"), breaks, edits,
                                opts.get("language"), log, coref_options=coref_options(opts))
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
def server_urls(opts: dict[str, Any]) -> list[str]:
    """The servers of an HTTP backend: one or several (``--backend-url`` given more than once)."""
    given = opts.get("backend_url")
    if not given:
        return []
    return [str(u) for u in given] if isinstance(given, list | tuple) else [str(given)]


def backend_for(opts: dict[str, Any], log: Log = _quiet, url: str | None = None) -> ImageBackend:
    """The image backend the options in force ask for (on its first server, or on ``url``)."""
    servers = server_urls(opts)
    extra = {"url": url or servers[0]} if url or servers else {}
    if opts.get("workflow"):
        extra["workflow"] = str(opts["workflow"])
    if opts.get("compile"):
        extra["compile"] = "1"
    if opts.get("deepcache"):
        extra["deepcache"] = str(opts["deepcache"])
    return choose_backend(opts["backend"], opts.get("model"), log, **extra)


def choose_backend(name: str, model: str | None, log: Log = _quiet, **options: str) -> ImageBackend:
    """The image backend; ``auto`` takes diffusers when its weights are here, else sketch, and says why. A model
    asked for by name must be there, even for ``auto``. ``options``: an HTTP backend's ``url``, a ``workflow``."""
    if name == "auto":
        from .backends.diffusers_local import DEFAULT_MODEL, weights_available

        ok, why = weights_available(model or DEFAULT_MODEL)
        if not ok and model:
            raise ModelNotFoundError(why)
        if ok:
            log(f"backend auto: using diffusers with {model or DEFAULT_MODEL} (weights found)")
            name = "diffusers"
        else:
            log(f"backend auto: using sketch, because {why}")
            name = "sketch"
    return plugins.create("image_backend", name, model=model, **options)


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
    backend = backend or backend_for(opts, log)
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
    from .executors.inprocess import Worker, backend_key

    backend = backend or backend_for(opts, log)
    mine: list[int] = []
    ids = queue_candidates(project, opts, scenes, backend, log=log, fresh=mine)
    ids += queue.enqueue(project, missing_pick_jobs(project, scenes or project.scenes(), backend, log), mine)
    key = backend_key(backend.name, backend.location or backend.model_id, backend.options)
    servers = server_urls(opts) if backend.options.get("url") else []
    try:
        if opts.get("executor") == "ray":  # the cluster's actors, each with a warm backend
            from .executors.ray_cluster import RayExecutor

            workers = [RayExecutor(opts.get("ray_address"), opts.get("ray_actors"), log=log)]
            ended = workers[0].drain(project, ids, progress=lambda d, t: progress("images", d, t),
                                     should_stop=should_stop)  # fmt: skip
        elif len(servers) > 1:  # each server a worker of its own on the same queue
            workers = [Worker(backends={key: b}, should_stop=should_stop, hand_over=True, say=log)
                       for b in [backend, *(backend_for(opts, log, url=u) for u in servers[1:])]]  # fmt: skip
            ended = _drain_on_servers(project, ids, workers, progress, log)
        else:
            workers = [Worker(backends={key: backend}, should_stop=should_stop, say=log)]
            ended = workers[0].drain(project, ids, progress=lambda d, t: progress("images", d, t))
    except BaseException:
        queue.cancel(project, ids=mine, running=False)  # what this run queued does not run on behind its back
        raise
    made = sum(w.made for w in workers)
    failed = [j for j in ended if j.state == "failed"]
    if failed:
        raise BackendError(f"{len(failed)} of {len(ended)} images could not be made: {failed[0].error}")
    if any(j.state == "cancelled" for j in ended):
        raise Cancelled(f"generation was cancelled; {made} images were made: run the same command to go on")
    return backend, made


def _drain_on_servers(project: Project, ids: list[int], workers: list[Any], progress: Progress,
                      log: Log) -> list[Any]:  # fmt: skip
    """Make the jobs with a worker per server, each kept busy from the shared queue; a server that stops answering
    hands its batch back to the others. Says each server's share and speed."""
    import threading

    errors: list[BaseException] = []

    def run(worker: Any) -> None:
        own = Project(project.path, create=False)  # a database connection serves the thread that made it
        try:
            worker.drain(own, ids)
        except BaseException as err:  # noqa: BLE001 (said in the calling thread)
            errors.append(err)
        finally:
            own.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(w,), daemon=True) for w in workers]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            current = queue.jobs(project, ids)
            progress("images", sum(1 for j in current if j.state in queue.FINAL), len(current))
            time.sleep(0.2)
    finally:  # Ctrl-C: each worker stops its server's batch and gives it back to the queue
        for w in workers:
            w.stopping.set()
        for t in threads:
            t.join(timeout=30)
    if errors:
        raise errors[0]
    seconds = max(time.monotonic() - t0, 1e-6)
    for w in workers:
        server = next(iter(w.backends.values())).options.get("url")
        state = f"down ({w.down})" if w.down else f"{w.made / seconds:.2f} images/s"
        log(f"{server}: {w.made} images, {state}")
    ended = queue.jobs(project, ids)
    if all(w.down for w in workers) and any(j.state not in queue.FINAL for j in ended):
        raise ServerDown("no image server left: " + "; ".join(str(w.down) for w in workers))
    return ended


def missing_pick_jobs(project: Project, scenes: list[Scene], backend: ImageBackend, log: Log = _quiet) -> list:
    """Jobs that make again, from their rows (same prompt, seed and size), the picked pictures whose files
    were deleted by hand."""
    from .stages.images import image_jobs

    picks = project.picks()
    names = {c.id: (c.name, c.prompt) for c in project.characters()}
    jobs = []
    for s in scenes:
        row = project.candidate(picks[s.id][0]) if s.id in picks else None
        if row is None or project.media.path(row.media).exists():
            continue
        if (row.backend, row.model) != (backend.name, backend.model_id):
            raise StoreError(
                f"the picture scene {s.index + 1} shows is missing from {project.path / 'media'} and was made with "
                f"{row.backend} ({row.model}): run `storyreel generate {project.path} --scene {s.index + 1} "
                f"--backend {row.backend} --model {row.model}` to make it again"
            )
        req = ImageRequest(row.prompt, row.negative, row.seed, row.steps, row.guidance, row.width, row.height,
                           scene=s.index + 1, characters=tuple(names[c] for c in s.characters if c in names))  # fmt: skip
        job = image_jobs("candidate", s.id, backend, [req])[0]
        if job.input_key == row.input_key:
            jobs.append(dataclasses.replace(job, slot=row.slot))
    if jobs:
        log(f"{len(jobs)} picked pictures are missing from the project: making them again with their seeds")
    return jobs


# portraits: a character alone, to see how its words look --------------------------------------------------------
def portrait_requests(project: Project, opts: dict[str, Any], character: Character, backend: ImageBackend,
                      n: int = 4) -> list[ImageRequest]:  # fmt: skip
    settings = image_settings(backend, opts)
    seed = character.seed if character.seed is not None else portrait_seed(character.id)
    p = compose_portrait(character, style=opts["style"], negative=opts["negative"])
    return [
        ImageRequest(p.positive, p.negative, seed + k, settings.steps, settings.guidance, settings.width,
                     settings.height, scene=0, characters=((character.name, character.prompt),),
                     reference=(character.reference or "") if backend.takes_reference else "")  # fmt: skip
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
    backend = backend_for(opts, log)
    return queue.enqueue(project, image_jobs("portrait", found.id, backend,
                                             portrait_requests(project, opts, found, backend, n), priority))  # fmt: skip


def current_portraits(project: Project, opts: dict[str, Any], character: Character, n: int = 4,
                      backend: ImageBackend | None = None) -> list[CandidateRow | None]:  # fmt: skip
    from .stages.images import request_key

    backend = backend or backend_for(opts)
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
           should_stop: Callable[[], bool] | None = None, overwrite: bool = False) -> RenderResult:  # fmt: skip
    """Narrate and render the picked pictures; one render of a project at a time (a second one waits)."""
    if project.story_text() is None:
        raise InputError(f"{project.path} has no story yet: run `storyreel new STORY.txt --project {project.path}`")
    check_output(Path(output), overwrite=overwrite, project=project)
    with render_lock(project, log):
        return _render(project, output, opts, backend, progress, log, should_stop, overwrite)


def _render(project: Project, output: Path, opts: dict[str, Any], backend: ImageBackend | None,
            progress: Progress, log: Log, should_stop: Callable[[], bool] | None,
            overwrite: bool) -> RenderResult:  # fmt: skip
    backend = backend or backend_for(opts, log)
    picks = current_picks(project, backend, opts)
    scenes = project.scenes()
    gone = [s for s in scenes if s.id in picks and not project.media.path(picks[s.id].media).exists()]
    if gone:  # pictures deleted by hand: the render makes them again (same seeds) rather than failing
        generate(project, opts, backend, gone, progress, log, should_stop)
        picks = current_picks(project, backend, opts)
    from .render.fonts import missing_font_warning
    from .stages.language import story_language

    # the voice follows the story's language unless the user chose one
    language = story_language(narrated_text(parse_story(project.story_text() or "")), opts.get("language"))
    engine = plugins.create("tts_engine", opts["tts"], voice=opts.get("voice"), speed=opts.get("speed"),
                            language=language)  # fmt: skip
    for note in getattr(engine, "notes", ()):
        log(note)
    narrations = narrate_scenes(project, engine, scenes, progress=lambda d, t: progress("narration", d, t),
                                should_stop=should_stop)  # fmt: skip
    settings = VideoSettings(
        aspect=opts["aspect"], music=music_path(project, opts.get("music")),
        music_volume=float(opts.get("music_volume") or 0.3),
        captions=bool(opts.get("captions", True)), caption_size=float(opts.get("caption_size") or 1.0),
        motion=float(opts.get("motion", 1.0)), transitions=bool(opts.get("transitions", True)),
    )  # fmt: skip
    note_upscaling(picks, settings, log)
    if settings.captions and (warning := missing_font_warning(" ".join(s.text for s in scenes))):
        log(warning)  # libass would draw empty boxes: say which font package to install
    return render_video(
        project, scenes, picks, narrations, Path(output), settings,
        progress=lambda d, t: progress("video", d, t), should_stop=should_stop, overwrite=overwrite,
    )  # fmt: skip


@contextmanager
def render_lock(project: Project, log: Log = _quiet) -> Iterator[None]:
    """Hold the project's render lock: a second render of the same project waits for the first (whose video it
    then usually reuses). The lock dies with its process, so a killed render never leaves the project locked;
    while it is held, the work folders of killed renders are swept."""
    import fcntl

    try:
        fd = os.open(project.path / ".render.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise store_error(err, project.path) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another render of {project.path} is running: waiting for it to finish (Ctrl-C to stop waiting)")
            fcntl.flock(fd, fcntl.LOCK_EX)
        sweep_work(project.path)
        yield
    finally:
        os.close(fd)  # releases the lock


def note_upscaling(picks: dict[str, CandidateRow], settings: VideoSettings, log: Log) -> None:
    """Pictures much smaller than the video are stretched: say so, and how to make them sharp."""
    width, height = settings.size
    small = [r for r in picks.values() if max(r.width / width, r.height / height) < 1 / 3]
    if small:
        r = min(small, key=lambda r: r.width * r.height)
        log(f"note: {len(small)} pictures (e.g. {r.width}x{r.height}) are upscaled to the {width}x{height} video "
            "and will look soft: generate them larger with --size (e.g. 576x1024)")  # fmt: skip


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


def music_path(project: Project | Path, music: str | None) -> str | None:
    """Music given as a path inside the project (the studio's uploads) is found there wherever the project
    has moved; any other path is as given."""
    if not music:
        return None
    inside = (project.path if isinstance(project, Project) else project) / music
    return str(inside) if not Path(music).is_absolute() and inside.is_file() else music


LONG_VIDEO_SECONDS = 15 * 60  # storyreel makes short videos: longer ones are asked for with --yes
LONG_SCENE_SECONDS = 90
MANY_CANDIDATES = 16


def _duration(seconds: float) -> str:
    m = round(seconds / 60)
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min" if m else f"{round(seconds)} s"


def check_size(text: str | None, candidates: int | None, yes: bool, scenes: list[Scene] | None = None) -> None:
    """Say what an absurdly big run would make, and ask for --yes: a very long video or a scene of minutes
    (``text``: a story that is new to the project; None: one it has already) or very many candidates
    (``candidates``: as given now; None: as before). What was once allowed is not asked again."""
    from .stages.scenes import speech_seconds

    if yes:
        return
    seconds = sum(speech_seconds(s.text) for s in scenes) if scenes else speech_seconds(text or "")
    count = len(scenes) if scenes else max(1, round(seconds / 4))
    if text is not None and seconds > LONG_VIDEO_SECONDS:
        raise InputError(
            f"this story would make a video of about {_duration(seconds)} ({len(text):,} characters, "
            f"{'' if scenes else '~'}{count:,} scenes): add --yes to make it anyway, or give a shorter story"
        )
    if candidates is not None and candidates > MANY_CANDIDATES:
        raise InputError(
            f"--candidates {candidates} would make {candidates * count:,} pictures for {'' if scenes else '~'}"
            f"{count:,} scenes: add --yes to make them anyway, or ask for {MANY_CANDIDATES} or fewer"
        )
    long = next((s for s in scenes or [] if speech_seconds(s.text) > LONG_SCENE_SECONDS), None)
    if text is not None and long is not None:
        raise InputError(
            f"scene {long.index + 1} would show one picture for about {_duration(speech_seconds(long.text))}: add "
            "--yes to make it anyway, or let storyreel cut the story (leave --scenes out, or ask for more)"
        )


def open_project(folder: str | Path) -> Project:
    """A project folder for a command to work in: an existing project, or a new one in an empty or new folder
    (never in a folder of other files, and never a damaged project taken for a new one)."""
    folder = Path(folder)
    if folder.is_dir() and not (folder / "project.db").exists():
        others = [p.name for p in folder.iterdir() if p.name != "media" or not _our_media(p)]
        if others:
            raise InputError(
                f"{folder} is a folder of other files ({others[0]}, ...), not a storyreel project: give a new "
                "folder for the project"
            )
    return Project(folder)


def _our_media(media: Path) -> bool:
    """A media/ folder storyreel made: only its two-letter folders of sha256-named files, and thumbnails."""
    return media.is_dir() and all(p.is_dir() and (len(p.name) == 2 or p.name == "thumbs") for p in media.iterdir())


def remove_project(folder: Path, keep_folder: bool = False) -> None:
    """Take away a project this command has just made and stored nothing in: only storyreel's own files, and
    never one another process has meanwhile given a story."""
    try:
        project = Project(folder, create=False)
    except StoreError:
        return
    try:
        if project.story_text() is not None:
            return
    finally:
        project.close()
    if not keep_folder and all(p.name in ("project.db", "project.db-wal", "project.db-shm", "media", ".render.lock")
                               for p in folder.iterdir()):  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
        return
    for name in ("project.db", "project.db-wal", "project.db-shm", ".render.lock"):
        (folder / name).unlink(missing_ok=True)
    if _our_media(folder / "media") and not any((folder / "media").rglob("*.*")):
        shutil.rmtree(folder / "media", ignore_errors=True)


@contextmanager
def removed_unless_stored(project: Project, created: bool, keep_folder: bool) -> Iterator[None]:
    """For a command that has just made ``project``: if it fails before a story is stored, what it made is
    taken away (the folder itself stays when the user had made it)."""
    try:
        yield
    except BaseException:
        if created:
            project.close()
            remove_project(project.path, keep_folder)
        raise


def is_other_story(old: str, new: str) -> bool:
    """True when ``new`` is not an edit of ``old`` but another story: less than a third of the old story's
    word runs (four words) are still in it."""

    n = 4 if len(re.findall(r"\w+", old)) >= 8 else 1  # a run length for both: short stories by their words

    def runs(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"\w+", text.lower())
        return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}

    before = runs(old)
    return bool(before) and len(before & runs(new)) < len(before) / 3


def check_replacing(project: Project, text: str, replace: bool) -> None:
    """Replacing a project's whole story is asked for, never done by a mistyped file name."""
    old = project.story_text()
    if old is None or replace or not is_other_story(old, text):
        return
    first = " ".join(old.split()[:6])
    raise InputError(
        f"{project.path} holds another story (\"{first} ...\"): add --replace to replace it (its pictures, picks and "
        "prompts stay in the project and come back if you go back), or give another --project"
    )


def make(story_path: str | Path, output: str | Path, project_dir: str | Path | None = None,
         options: Options | None = None, progress: Progress = _quiet, log: Log = _quiet,
         should_stop: Callable[[], bool] | None = None, replace: bool = False,
         overwrite: bool = False, yes: bool = False) -> MakeResult:  # fmt: skip
    """Everything in one go: a story file in, a narrated video (and its .srt) out.

    ``replace``: the project may hold another story; ``overwrite``: the video may replace a file storyreel did
    not write; ``yes``: go on with a very long video or very many candidates."""
    output = Path(output)
    folder = Path(project_dir or output.with_suffix(".storyreel"))
    # 1. check everything before anything is written: a failed make leaves no half-made project behind
    text = read_story(story_path)
    if why := damaged(folder):  # a lost database is never taken for a new project
        raise StoreError(why)
    existing = Project(folder, create=False) if (folder / "project.db").exists() else None
    folder_existed = folder.exists()
    check_output(output, Path(story_path), overwrite, existing)
    given = given_options(options or Options())
    merged = merge_options(existing.settings() if existing else {}, given)
    check_options(merged, given, folder)
    new_story = None if existing is not None and existing.story_text() == text else text
    check_size(new_story, given.get("candidates"), yes)
    if existing is not None:
        check_replacing(existing, text, replace)
    project = existing or open_project(folder)
    try:
        with removed_unless_stored(project, existing is None, folder_existed):
            opts = resolve(project, options or Options())
            backend = backend_for(opts, log)  # a missing model stops us here
            # 2. scenes and characters
            progress("story", 0, 1)
            scenes, characters = update_story(project, text, opts, log=log)
            progress("story", 1, 1)
            check_size(new_story, given.get("candidates"), yes, scenes)
            # 3. images
            _, made = generate(project, opts, backend, scenes, progress, log, should_stop)
            # 4. narration and video
            result = render(project, output, opts, backend, progress, log, should_stop, overwrite=overwrite)
            return MakeResult(project.path, result, project.scenes(), project.characters(), made)
    finally:
        project.close()
