"""Images: K candidates per scene from an image backend, stored with everything needed to make them again.

Each candidate is keyed by the hash of its inputs (backend, model, prompt, negative, seed, steps, guidance,
size), and so is the queue's job that makes it: a run queues only the candidates that are missing, so a killed
run resumes where it stopped. The worker (executors/inprocess.py) makes the jobs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..backends.base import ImageBackend
from ..errors import InputError
from ..store.db import CandidateRow, Project, input_key
from ..store.jobs import NewJob
from ..types import Character, ImageRequest, Prompt, Scene

ASPECTS = {"9:16": (9, 16), "16:9": (16, 9), "1:1": (1, 1)}


@dataclass(frozen=True)
class ImageSettings:
    candidates: int
    seed: int
    steps: int
    guidance: float
    width: int
    height: int


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size {text!r} is not WIDTHxHEIGHT: write it like 512x896") from None
    if not (64 <= w <= 4096 and 64 <= h <= 4096) or w % 8 or h % 8:
        raise InputError(f"--size {text}: width and height must be multiples of 8 between 64 and 4096")
    return w, h


def default_size(native: int, aspect: str) -> tuple[int, int]:
    """About the model's native area, in the video's aspect, in multiples of 64."""
    aw, ah = ASPECTS[aspect]
    area = native * native
    w = (area * aw / ah) ** 0.5
    h = w * ah / aw
    return max(64, round(w / 64) * 64), max(64, round(h / 64) * 64)


def requests_for(scene: Scene, prompt: Prompt, chars: dict[str, Character], s: ImageSettings,
                 reference: bool = False) -> list[ImageRequest]:  # fmt: skip
    """The scene's candidates' requests; ``reference``: the backend takes the reference picture of the first of the
    scene's characters that has one."""
    people = tuple((chars[c].name, chars[c].prompt) for c in scene.characters if c in chars)
    ref = next((chars[c].reference for c in scene.characters if c in chars and chars[c].reference), "") if reference else ""
    return [
        ImageRequest(
            prompt.positive, prompt.negative, s.seed + k, s.steps, s.guidance, s.width, s.height,
            scene=scene.index + 1, characters=people, reference=ref,
        )
        for k in range(s.candidates + scene.extra)
    ]  # fmt: skip


def request_key(backend: ImageBackend, req: ImageRequest) -> str:
    return input_key(
        backend.name, backend.model_id, req.prompt, req.negative, req.seed, req.steps, req.guidance,
        req.width, req.height, *([req.reference] if req.reference else []), *_changing(backend, req),
    )  # fmt: skip


def _changing(backend: ImageBackend, req: ImageRequest) -> list[str]:
    """The backend's options that change this picture, as key parts (none for most: the keys made before stay)."""
    return [f"{k}={v}" for k, v in sorted(backend.picture_options(req).items())]


def current_candidates(
    project: Project, backend: ImageBackend, scene: Scene, prompt: Prompt, chars: dict[str, Character],
    settings: ImageSettings,
) -> list[CandidateRow | None]:  # fmt: skip
    """The scene's candidates for these settings, in slot order (None where not made yet)."""
    return [
        project.candidate_for(scene.id, request_key(backend, r)) for r in requests_for(scene, prompt, chars, settings,
                                                                                   backend.takes_reference)
    ]


def image_jobs(kind: str, target: str, backend: ImageBackend, requests: list[ImageRequest],
               priority: int = 0) -> list[NewJob]:  # fmt: skip
    """The queue's jobs for these requests: one batch per target and shared settings (a worker whose backend makes
    several prompts in one call takes several such batches at once: see jobs.claim)."""
    out = []
    for slot, req in enumerate(requests):
        shared = input_key(backend.name, backend.model_id, req.steps, req.guidance, req.width, req.height,
                           *_changing(backend, req))  # fmt: skip
        spec = {"backend": backend.name, "model": backend.location or backend.model_id, "model_id": backend.model_id,
                "request": asdict(req)}  # fmt: skip
        if backend.options:
            spec["options"] = dict(backend.options)  # an HTTP backend's server (never its password), a workflow
        out.append(NewJob(kind, target, request_key(backend, req), f"{kind}:{target}:{shared}", spec, slot, priority))
    return out


def candidate_jobs(
    backend: ImageBackend, scenes: list[Scene], prompts: dict[str, Prompt], characters: list[Character],
    settings: ImageSettings, priority: int = 0,
) -> list[NewJob]:  # fmt: skip
    """Jobs for the scenes' candidates (locked scenes make nothing); the queue skips what is made."""
    chars = {c.id: c for c in characters}
    return [
        job
        for scene in scenes
        if not scene.locked
        for job in image_jobs("candidate", scene.id, backend, requests_for(scene, prompts[scene.id], chars, settings,
                                                                          backend.takes_reference), priority)  # fmt: skip
    ]


def pick_candidates(project: Project, current: dict[str, list[CandidateRow | None]]) -> dict[str, CandidateRow]:
    """The picture each scene shows: the user's pick if any, else the first current candidate, else (the
    settings changed since its pictures were made) its newest picture."""
    picks = project.picks()
    out: dict[str, CandidateRow] = {}
    for scene_id, rows in current.items():
        picked = picks.get(scene_id)
        if picked is not None and picked[1] == "user":
            row = project.candidate(picked[0])
            if row is not None:
                out[scene_id] = row
                continue
        first = next((r for r in rows if r is not None), None)
        if first is None:
            made = project.candidates(scene_id)
            first = made[-1] if made else None
        if first is not None:
            if picked is None or picked[0] != first.id:
                project.pick(scene_id, first.id, by="auto")
            out[scene_id] = first
    return out
