"""Images: K candidates per scene from an image backend, stored with everything needed to make them again.

Each candidate is keyed by the hash of its inputs (backend, model, prompt, negative, seed, steps, guidance,
size): a run makes only the candidates that are missing, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from ..backends.base import ImageBackend
from ..errors import Cancelled, InputError
from ..store.db import CandidateRow, Project, input_key
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


def requests_for(scene: Scene, prompt: Prompt, chars: dict[str, Character], s: ImageSettings) -> list[ImageRequest]:
    people = tuple((chars[c].name, chars[c].prompt) for c in scene.characters if c in chars)
    return [
        ImageRequest(
            prompt.positive, prompt.negative, s.seed + k, s.steps, s.guidance, s.width, s.height,
            scene=scene.index + 1, characters=people,
        )
        for k in range(s.candidates)
    ]  # fmt: skip


def request_key(backend: ImageBackend, req: ImageRequest) -> str:
    return input_key(
        backend.name, backend.model_id, req.prompt, req.negative, req.seed, req.steps, req.guidance,
        req.width, req.height,
    )  # fmt: skip


def current_candidates(
    project: Project, backend: ImageBackend, scene: Scene, prompt: Prompt, chars: dict[str, Character],
    settings: ImageSettings,
) -> list[CandidateRow | None]:  # fmt: skip
    """The scene's candidates for these settings, in slot order (None where not made yet)."""
    return [
        project.candidate_for(scene.id, request_key(backend, r)) for r in requests_for(scene, prompt, chars, settings)
    ]


def generate_candidates(
    project: Project,
    backend: ImageBackend,
    scenes: list[Scene],
    prompts: dict[str, Prompt],
    characters: list[Character],
    settings: ImageSettings,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Make the missing candidates, a batch per scene; return how many were made."""
    chars = {c.id: c for c in characters}
    todo: list[tuple[Scene, list[tuple[int, ImageRequest, str]]]] = []
    for scene in scenes:
        missing = []
        for slot, req in enumerate(requests_for(scene, prompts[scene.id], chars, settings)):
            key = request_key(backend, req)
            if project.candidate_for(scene.id, key) is None:
                missing.append((slot, req, key))
        if missing:
            todo.append((scene, missing))
    total = sum(len(m) for _, m in todo)
    made = 0
    if progress:
        progress(0, total)
    for scene, missing in todo:
        if should_stop and should_stop():
            raise Cancelled(f"stopped after {made} of {total} candidates; run again to make the rest")

        def step(frac: float, base: int = made, n: int = len(missing)) -> None:
            if progress:
                progress(base + min(n, int(frac * n)), total)

        images = backend.generate([r for _, r, _ in missing], progress=step, should_stop=should_stop)
        for (slot, req, key), image in zip(missing, images, strict=True):
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            project.add_candidate(
                scene.id, key, slot, buf.getvalue(), backend=backend.name, model=backend.model_id, seed=req.seed,
                steps=req.steps, guidance=req.guidance, width=req.width, height=req.height, prompt=req.prompt,
                negative=req.negative,
            )  # fmt: skip
            made += 1
        if progress:
            progress(made, total)
    return made


def pick_candidates(project: Project, current: dict[str, list[CandidateRow | None]]) -> dict[str, CandidateRow]:
    """The picture each scene shows: the user's pick if any, else the first current candidate."""
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
        if first is not None:
            if picked is None or picked[0] != first.id:
                project.pick(scene_id, first.id, by="auto")
            out[scene_id] = first
    return out
