"""The ImageBackend interface: a batch of requests in, one picture per request out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..types import ImageRequest

# progress(fraction done of this batch); should_stop() -> True asks the backend to stop soon
Progress = Callable[[float], None]
ShouldStop = Callable[[], bool]


@dataclass(frozen=True)
class Defaults:
    steps: int
    guidance: float
    width: int  # for a 9:16 picture; see stages.images.default_size
    height: int
    native: int  # the side the model was trained at (512, 768, 1024)


def free_accelerator_memory() -> None:
    """Let a model's GPU memory go (after it was dropped, or a batch ran out of it); imports no torch of its own."""
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class ImageBackend(ABC):
    name: str = ""
    #: what the candidates record as their model (and their keys hold)
    model_id: str = ""

    #: what ``create(name, model=location)`` needs to make the same backend again, from any folder (None: model_id)
    location: str | None = None

    #: what else ``create`` needs to make the same backend again (a server's URL, a workflow file); stored with the
    #: queue's jobs, so never a password
    options: dict[str, str] = {}  # noqa: RUF012 (read-only; a backend that has options sets its own)

    #: whether its pictures take a character's reference picture (ImageRequest.reference)
    takes_reference: bool = False

    #: whether one call may make pictures of different prompts (several scenes) at once: the queue then fills each
    #: batch across the scenes that share size, steps and guidance, rather than a scene at a time
    mixes_prompts: bool = False

    @property
    def batch_size(self) -> int | None:
        """How many pictures one call makes best (None: the worker's own batch size)."""
        return None

    def picture_options(self, request: ImageRequest) -> dict[str, str]:
        """Its options that change this request's picture (a model's own shortcut): part of the candidate's key, so
        turning one on or off makes the candidates again, as a change of steps would. None for most backends."""
        return {}

    @abstractmethod
    def defaults(self) -> Defaults: ...

    @abstractmethod
    def generate(
        self, requests: list[ImageRequest], progress: Progress | None = None, should_stop: ShouldStop | None = None
    ) -> list[Any]:
        """Make one PIL image per request, in order. Same request, same image."""

    def describe(self) -> str:
        return f"{self.name} ({self.model_id})" if self.model_id and self.model_id != self.name else self.name
