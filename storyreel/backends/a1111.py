"""AUTOMATIC1111 (or Forge) web UI started with ``--api``: pictures made on the user's own server, over HTTP.

    POST /sdapi/v1/txt2img     a batch: prompt, negative_prompt, seed, batch_size, steps, cfg_scale, width, height,
                               sampler_name, override_settings.sd_model_checkpoint (when a model is chosen)
    GET  /sdapi/v1/progress    how far the batch is (polled while it runs)
    POST /sdapi/v1/interrupt   stop
    GET  /sdapi/v1/sd-models   the server's checkpoints

The reply's ``info`` (a JSON string) holds ``all_seeds``: the seed of each picture, checked against the seeds asked
for, so any picture can be made again. Prompts go as they are: A1111's own syntax (``(word:1.2)``, ``[a|b]``,
``<lora:name:0.8>``) passes through. One request at a time per server: A1111 makes one batch at a time anyway.
A server started with ``--api-auth user:password`` is reached with the user name and password from the URL
(``http://user:password@host:7860``) or from ``STORYREEL_A1111_AUTH=user:password``; neither is ever stored in a
project, a job or a log: the URL is kept without them (``public_url``), the password in this process's memory only.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import BackendError, Cancelled, InputError
from ..types import ImageRequest
from .base import Defaults, ImageBackend, Progress, ShouldStop
from .http import Server, public_url

AUTH_ENV = "STORYREEL_A1111_AUTH"
SAMPLER = "Euler a"
POLL_S = 0.5

_locks: dict[str, threading.Lock] = {}  # one request at a time per server
_guard = threading.Lock()


class A1111Backend(ImageBackend):
    name = "a1111"

    def __init__(self, model: str | None = None, url: str | None = None, **_: object) -> None:
        if not url:
            raise InputError("the a1111 backend needs --backend-url URL: the AUTOMATIC1111 web UI started with --api "
                             "(e.g. http://127.0.0.1:7860)")  # fmt: skip
        self.url = public_url(url)
        self.model = model if model and model != self.name else None  # a job's "a1111": the server's own model
        self.model_id = self.model or "a1111"
        self.location = self.model
        self.server = Server(self.url, "AUTOMATIC1111", AUTH_ENV, "start the web UI with --api, or check --backend-url")
        self.options = {"url": self.url}

    def describe(self) -> str:
        return f"a1111 at {self.url}" + (f" ({self.model})" if self.model else "")

    def defaults(self) -> Defaults:
        return Defaults(steps=25, guidance=7.0, width=512, height=896, native=512)

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        return self.server.call(method, path, **kw)

    def models(self) -> list[str]:
        """The server's checkpoints, as its model drop-down names them."""
        models = self._call("GET", "/sdapi/v1/sd-models")
        if not isinstance(models, list):
            raise BackendError(f"the AUTOMATIC1111 server at {self.url} did not list its checkpoints")
        return [m.get("title") or m.get("model_name", "") for m in models if isinstance(m, dict)]

    # generation ---------------------------------------------------------------------------------------------
    def generate(
        self, requests: list[ImageRequest], progress: Progress | None = None, should_stop: ShouldStop | None = None
    ) -> list[Any]:
        with _guard:
            lock = _locks.setdefault(self.url, threading.Lock())
        out: list[Any] = []
        with lock:
            for group in _batches(requests):
                if should_stop and should_stop():
                    raise Cancelled("generation stopped; finished candidates are kept")
                done = len(out)

                def part(f: float, done: int = done, n: int = len(group)) -> None:
                    if progress:
                        progress(min(1.0, (done + f * n) / len(requests)))

                out += self._txt2img(group, part, should_stop)
        return out

    def _txt2img(self, group: list[ImageRequest], progress: Progress, should_stop: ShouldStop | None) -> list[Any]:
        first = group[0]
        body: dict[str, Any] = {
            "prompt": first.prompt,
            "negative_prompt": first.negative,
            "seed": first.seed,
            "subseed": -1,
            "subseed_strength": 0,
            "batch_size": len(group),
            "n_iter": 1,
            "steps": first.steps,
            "cfg_scale": first.guidance,
            "width": first.width,
            "height": first.height,
            "sampler_name": SAMPLER,
            "send_images": True,
            "save_images": False,
        }
        if self.model:
            body["override_settings"] = {"sd_model_checkpoint": self.model}
            body["override_settings_restore_afterwards"] = False  # the next batch needs it loaded too
        stopped = threading.Event()
        finished = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(progress, should_stop, stopped, finished), daemon=True)
        watcher.start()
        try:
            reply = self._call("POST", "/sdapi/v1/txt2img", json=body)
        finally:
            finished.set()
            watcher.join()
        if stopped.is_set():
            raise Cancelled("generation stopped; finished candidates are kept")
        if not isinstance(reply, dict):
            raise BackendError(f"the AUTOMATIC1111 server at {self.url} did not answer as its API does: is "
                               "--backend-url the web UI's address?")  # fmt: skip
        images = [_decode(b, self.url) for b in reply.get("images") or []]
        seeds = _seeds(reply, self.url)
        wanted = [r.seed for r in group]
        if len(images) < len(group):
            raise BackendError(f"the AUTOMATIC1111 server at {self.url} sent {len(images)} pictures for a batch of "
                               f"{len(group)}: is a script or extension changing the batch?")  # fmt: skip
        if seeds[: len(group)] != wanted:
            raise BackendError(f"the AUTOMATIC1111 server at {self.url} made seeds {seeds[: len(group)]}, not "
                               f"{wanted}: a script or extension overrides the seed; turn it off")  # fmt: skip
        progress(1.0)
        return images[: len(group)]  # a grid picture, when the server adds one, comes after the batch's own

    def _watch(self, progress: Progress, should_stop: ShouldStop | None, stopped: threading.Event,
               finished: threading.Event) -> None:  # fmt: skip
        """Poll the server's progress while a batch runs; ask it to stop when the user does."""
        while not finished.wait(POLL_S):
            if should_stop and should_stop() and not stopped.is_set():
                stopped.set()
                try:
                    self._call("POST", "/sdapi/v1/interrupt")
                except BackendError:
                    pass  # the batch's own call says what is wrong
                continue
            try:
                state = self._call("GET", "/sdapi/v1/progress", params={"skip_current_image": True})
            except BackendError:
                continue
            fraction = state.get("progress")
            if isinstance(fraction, int | float) and 0 <= fraction <= 1:
                progress(float(fraction) * 0.99)


def _batches(requests: list[ImageRequest]) -> Iterator[list[ImageRequest]]:
    """Runs of requests one txt2img call can make: the same prompt and settings, seeds one after another (A1111 gives
    the pictures of a batch the seeds seed, seed+1, ...)."""
    group: list[ImageRequest] = []
    for r in requests:
        if group and _same_call(group[-1], r) and r.seed == group[-1].seed + 1:
            group.append(r)
            continue
        if group:
            yield group
        group = [r]
    if group:
        yield group


def _same_call(a: ImageRequest, b: ImageRequest) -> bool:
    return (a.prompt, a.negative, a.steps, a.guidance, a.width, a.height) == (
        b.prompt, b.negative, b.steps, b.guidance, b.width, b.height)  # fmt: skip


def _decode(data: str, url: str) -> Any:
    from PIL import Image

    try:
        raw = base64.b64decode(data.split(",", 1)[-1], validate=False)
        image = Image.open(io.BytesIO(raw))
        image.load()
    except Exception:
        raise BackendError(f"the AUTOMATIC1111 server at {url} sent a picture that cannot be read") from None
    return image.convert("RGB")


def _seeds(reply: dict[str, Any], url: str) -> list[int]:
    info = reply.get("info")
    try:
        data = json.loads(info) if isinstance(info, str) else info
        return [int(s) for s in data["all_seeds"]]
    except (TypeError, ValueError, KeyError):
        raise BackendError(f"the AUTOMATIC1111 server at {url} did not say the pictures' seeds (info.all_seeds): "
                           "is it an AUTOMATIC1111 or Forge web UI?") from None  # fmt: skip

