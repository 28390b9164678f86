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
import os
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import BackendError, Cancelled, InputError
from ..types import ImageRequest
from .base import Defaults, ImageBackend, Progress, ShouldStop

AUTH_ENV = "STORYREEL_A1111_AUTH"
SAMPLER = "Euler a"
POLL_S = 0.5
TIMEOUT_S = 600.0  # a batch of big pictures on a slow GPU takes minutes

_locks: dict[str, threading.Lock] = {}  # one request at a time per server
_passwords: dict[str, tuple[str, str]] = {}  # public URL -> (user, password) given in a URL, this process only
_guard = threading.Lock()


def public_url(url: str) -> str:
    """The URL without a user name and password (what may be stored and shown); the pair is kept in this process."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"--backend-url {public_url_text(url)!r} is not an http(s) URL: give one like "
                         "http://127.0.0.1:7860")  # fmt: skip
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    clean = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
    if parts.username:
        with _guard:
            _passwords[clean] = (parts.username, parts.password or "")
    return clean


def public_url_text(url: str) -> str:
    """``url`` with any password replaced by ``***``, for an error message."""
    parts = urlsplit(url.strip())
    if not parts.password:
        return url.strip()
    return url.strip().replace(f":{parts.password}@", ":***@", 1)


def _auth(url: str) -> tuple[str, str] | None:
    with _guard:
        if url in _passwords:
            return _passwords[url]
    given = os.environ.get(AUTH_ENV, "")
    if given:
        user, _, password = given.partition(":")
        return user, password
    return None


class A1111Backend(ImageBackend):
    name = "a1111"

    def __init__(self, model: str | None = None, url: str | None = None, **_: object) -> None:
        if not url:
            raise InputError("the a1111 backend needs --backend-url URL: the AUTOMATIC1111 web UI started with --api "
                             "(e.g. http://127.0.0.1:7860)")  # fmt: skip
        self.url = public_url(url)
        self.model = model or None
        self.model_id = model or "a1111"
        self.location = model
        self._client: Any = None

    def describe(self) -> str:
        return f"a1111 at {self.url}" + (f" ({self.model})" if self.model else "")

    def defaults(self) -> Defaults:
        return Defaults(steps=25, guidance=7.0, width=512, height=896, native=512)

    # HTTP --------------------------------------------------------------------------------------------------
    def client(self) -> Any:
        if self._client is None:
            import httpx

            auth = _auth(self.url)
            self._client = httpx.Client(base_url=self.url, auth=httpx.BasicAuth(*auth) if auth else None,
                                        timeout=httpx.Timeout(TIMEOUT_S, connect=10.0))  # fmt: skip
        return self._client

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            reply = self.client().request(method, path, **kw)
        except httpx.TimeoutException:
            raise BackendError(f"the AUTOMATIC1111 server at {self.url} did not answer in time: is it busy or "
                               "stuck? Try again, or restart it") from None  # fmt: skip
        except httpx.TransportError as err:
            raise BackendError(f"cannot reach the AUTOMATIC1111 server at {self.url} ({type(err).__name__}): start "
                               "the web UI with --api, or check --backend-url") from None  # fmt: skip
        if reply.status_code == 401:
            raise BackendError(f"the AUTOMATIC1111 server at {self.url} asks for a user name and password (--api-auth):"
                               f" set {AUTH_ENV}=user:password, or give them in the URL")  # fmt: skip
        if reply.status_code == 404:
            raise BackendError(f"the server at {self.url} has no {path}: start the AUTOMATIC1111 web UI with --api")
        if reply.status_code >= 400:
            raise BackendError(f"the AUTOMATIC1111 server at {self.url} failed ({reply.status_code}): "
                               f"{_detail(reply)}")  # fmt: skip
        try:
            return reply.json()
        except ValueError:
            raise BackendError(f"the AUTOMATIC1111 server at {self.url} sent something that is not JSON for {path}: "
                               "is --backend-url the web UI's address?") from None  # fmt: skip

    def models(self) -> list[str]:
        """The server's checkpoints, as its model drop-down names them."""
        return [m.get("title") or m.get("model_name", "") for m in self._call("GET", "/sdapi/v1/sd-models")]

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


def _detail(reply: Any) -> str:
    try:
        data = reply.json()
    except ValueError:
        return " ".join(reply.text.split())[:200] or reply.reason_phrase
    if isinstance(data, dict):
        for key in ("detail", "error", "errors", "message"):
            if data.get(key):
                return " ".join(str(data[key]).split())[:200]
    return " ".join(str(data).split())[:200]
