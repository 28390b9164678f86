"""ComfyUI: pictures made by a workflow on the user's own ComfyUI server, over its HTTP and websocket API.

    POST /prompt {"prompt": WORKFLOW, "client_id": CID}    queue one picture (ComfyUI runs its queue in order)
    websocket /ws?clientId=CID                             progress, the end of each prompt, execution_error
    GET  /history/{prompt_id}, GET /view?filename=...      the pictures
    POST /upload/image (multipart)                         a character's reference picture, for "$reference"
    POST /interrupt, POST /queue {"delete": [...]}         stop
    GET  /object_info/CheckpointLoaderSimple               the server's checkpoints

A workflow is ComfyUI's "API format" (Save (API) in ComfyUI): storyreel fills the inputs whose value is a marker:
``"$prompt"``, ``"$negative"``, ``"$seed"``, ``"$width"``, ``"$height"``, ``"$steps"``, ``"$cfg"``,
``"$batch_size"``, ``"$checkpoint"`` and ``"$reference"`` (a LoadImage node's image: the reference picture of the
scene's first character that has one, uploaded); the first four must be somewhere, the others are optional. The bundled
workflow (``data/comfyui_txt2img.json``) is plain SD text-to-image. Every picture is its own prompt with batch size 1:
in a ComfyUI batch the pictures share one noise draw, so a picture could not be made again from its seed alone.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import BackendError, Cancelled, InputError
from ..types import ImageRequest
from .base import Defaults, ImageBackend, Progress, ShouldStop
from .http import Server, public_url

AUTH_ENV = "STORYREEL_COMFYUI_AUTH"
DEFAULT_WORKFLOW = Path(__file__).resolve().parents[1] / "data" / "comfyui_txt2img.json"
MARKERS = ("$prompt", "$negative", "$seed", "$width", "$height", "$steps", "$cfg", "$batch_size", "$checkpoint",
           "$reference")
REQUIRED = ("$prompt", "$seed", "$width", "$height")
SILENCE_S = 600.0  # no word from the server for this long: it is stuck
HINT = "start ComfyUI (python main.py --listen), or check --backend-url"


def read_workflow(path: str | Path) -> dict[str, Any]:
    """A workflow in ComfyUI's API format, checked: JSON, nodes with class_type and inputs, the required markers."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"cannot read the workflow {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise InputError(f"the workflow {path} is not JSON ({err}): export it with ComfyUI's Save (API)") from None
    if not isinstance(data, dict) or not data or not all(
            isinstance(n, dict) and "class_type" in n and isinstance(n.get("inputs"), dict) for n in data.values()):
        raise InputError(f"the workflow {path} is not in ComfyUI's API format (node id -> class_type and inputs): "
                         "export it with Save (API), not Save")  # fmt: skip
    found = {v for n in data.values() for v in n["inputs"].values() if isinstance(v, str) and v in MARKERS}
    missing = [m for m in REQUIRED if m not in found]
    if missing:
        raise InputError(f"the workflow {path} has no input marked {', '.join(missing)}: put each as the value of "
                         "the input storyreel fills (e.g. the KSampler's seed: \"$seed\"); see the README")  # fmt: skip
    return data


class ComfyUIBackend(ImageBackend):
    name = "comfyui"

    def __init__(self, model: str | None = None, url: str | None = None, workflow: str | None = None,
                 **_: object) -> None:  # fmt: skip
        if not url:
            raise InputError("the comfyui backend needs --backend-url URL: your ComfyUI server (e.g. "
                             "http://127.0.0.1:8188)")  # fmt: skip
        self.url = public_url(url)
        self.workflow_path = str(Path(workflow).resolve()) if workflow else str(DEFAULT_WORKFLOW)
        self.workflow = read_workflow(self.workflow_path)
        self.model = model if model and model != self.name else None  # a job's "comfyui": the server's first
        self.model_id = self.model or "comfyui"
        self.location = self.model
        self.options = {"url": self.url, **({"workflow": self.workflow_path} if workflow else {})}
        self.server = _ComfyUIServer(self.url, "ComfyUI", AUTH_ENV, HINT)
        self.takes_reference = _uses(self.workflow, "$reference")
        self._uploaded: dict[str, str] = {}  # a reference picture's path -> its name on the server

    def describe(self) -> str:
        flow = f", workflow {Path(self.workflow_path).name}" if self.workflow_path != str(DEFAULT_WORKFLOW) else ""
        return f"comfyui at {self.url}" + (f" ({self.model}{flow})" if self.model else f" ({flow[2:]})" if flow else "")

    def defaults(self) -> Defaults:
        return Defaults(steps=20, guidance=7.0, width=512, height=896, native=512)

    def models(self) -> list[str]:
        """The server's checkpoints (the inputs CheckpointLoaderSimple accepts)."""
        info = self.server.call("GET", "/object_info/CheckpointLoaderSimple")
        try:
            return list(info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0])
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"the ComfyUI server at {self.url} did not list its checkpoints") from None

    # the workflow ---------------------------------------------------------------------------------------------
    def filled(self, req: ImageRequest, checkpoint: str | None, reference: str | None = None) -> dict[str, Any]:
        values: dict[str, Any] = {"$prompt": req.prompt, "$negative": req.negative, "$seed": req.seed,
                                  "$width": req.width, "$height": req.height, "$steps": req.steps,
                                  "$cfg": float(req.guidance), "$batch_size": 1, "$checkpoint": checkpoint,
                                  "$reference": reference}  # fmt: skip
        flow = copy.deepcopy(self.workflow)
        for node in flow.values():
            for key, value in node["inputs"].items():
                if isinstance(value, str) and value in values:
                    node["inputs"][key] = values[value]
        return flow

    def _reference(self, req: ImageRequest) -> str | None:
        """The name the server knows the request's reference picture by, uploaded once (None: the workflow has no
        "$reference")."""
        if not self.takes_reference:
            return None
        if not req.reference:
            what = f"scene {req.scene}" if req.scene else "a portrait"
            whose = "none of the scene's characters has one" if req.scene else "the character has none"
            raise InputError(f"{what}: the workflow {Path(self.workflow_path).name} draws from a reference picture "
                             f"(\"$reference\"), and {whose}: give one with `storyreel characters PROJECT --reference "
                             "ID=PICTURE.png` (or in the studio: Characters, Use as reference), or use a workflow "
                             "without \"$reference\"")  # fmt: skip
        if req.reference not in self._uploaded:
            path = Path(req.reference)
            try:
                data = path.read_bytes()
            except OSError as err:
                raise InputError(f"cannot read the reference picture {path}: {err.strerror}") from None
            reply = self.server.call("POST", "/upload/image", files={"image": (path.name, data, "image/png")},
                                     data={"type": "input", "overwrite": "true"})  # fmt: skip
            if not isinstance(reply, dict) or not reply.get("name"):
                raise BackendError(f"the ComfyUI server at {self.url} did not take the reference picture (no name "
                                   "in its answer to /upload/image)")  # fmt: skip
            sub = str(reply.get("subfolder") or "")
            self._uploaded[req.reference] = f"{sub}/{reply['name']}" if sub else str(reply["name"])
        return self._uploaded[req.reference]

    def _checkpoint(self) -> str | None:
        if not _uses(self.workflow, "$checkpoint") or self.model:
            return self.model
        names = self.models()
        if not names:
            raise BackendError(f"the ComfyUI server at {self.url} has no checkpoints: put one in its "
                               "models/checkpoints folder")  # fmt: skip
        return names[0]

    # generation -----------------------------------------------------------------------------------------------
    def generate(
        self, requests: list[ImageRequest], progress: Progress | None = None, should_stop: ShouldStop | None = None
    ) -> list[Any]:
        if not requests:
            return []
        checkpoint = self._checkpoint()
        references = [self._reference(r) for r in requests]  # before anything is queued
        client_id = uuid.uuid4().hex
        ids: list[str] = []
        with contextlib.ExitStack() as stack:
            socket = self._connect(client_id, stack)
            try:
                for req, reference in zip(requests, references, strict=True):
                    flow = self.filled(req, checkpoint, reference)
                    reply = self.server.call("POST", "/prompt", json={"prompt": flow, "client_id": client_id})
                    if not isinstance(reply, dict) or "prompt_id" not in reply:
                        raise BackendError(f"the ComfyUI server at {self.url} did not queue the workflow (no "
                                           "prompt_id): is --backend-url a ComfyUI server?")  # fmt: skip
                    ids.append(str(reply["prompt_id"]))
                self._follow(socket, ids, progress, should_stop)
            except BaseException:  # stopped, failed, or the server went away: the rest of the batch is not made
                self._stop(ids)
                raise
        return [self._picture(pid) for pid in ids]

    def _connect(self, client_id: str, stack: contextlib.ExitStack) -> Any:
        """The websocket that tells how the prompts go, closed with ``stack``; None when it cannot be opened (then
        /history is polled)."""
        from websockets.sync.client import connect

        ws_url = "ws" + self.url[len("http"):] + f"/ws?clientId={client_id}"
        try:
            return stack.enter_context(connect(ws_url, additional_headers=self.server.headers(), open_timeout=10,
                                               compression=None, max_size=None, proxy=None))  # fmt: skip
        except Exception:
            self.server.call("GET", "/system_stats")  # an unreachable server says so here, in one line
            return None

    def _follow(self, socket: Any, ids: list[str], progress: Progress | None, should_stop: ShouldStop | None) -> None:
        pending = list(ids)
        done: set[str] = set()
        last_word = time.monotonic()

        def report(fraction: float = 0.0) -> None:
            if progress:
                progress(min(1.0, (len(done) + fraction) / len(ids)))

        while pending:
            if should_stop and should_stop():
                raise Cancelled("generation stopped; finished candidates are kept")
            message = self._receive(socket)
            if message is _CLOSED:  # the websocket dropped: ask the history instead, as often as it would have spoken
                socket = None
                for pid in list(pending):
                    if self._finished(pid):
                        pending.remove(pid)
                        done.add(pid)
                        report()
                time.sleep(0.5)
                continue
            if message is None:
                if time.monotonic() - last_word > SILENCE_S:
                    raise BackendError(f"the ComfyUI server at {self.url} said nothing for {SILENCE_S:.0f} s: is it "
                                       "stuck? Restart it and try again")  # fmt: skip
                continue
            last_word = time.monotonic()
            kind, data = message.get("type"), message.get("data") or {}
            pid = str(data.get("prompt_id", ""))
            if pid not in ids:
                continue
            if kind == "execution_error":
                raise BackendError(f"ComfyUI failed in {data.get('node_type') or 'a node'} (node "
                                   f"{data.get('node_id')}): {_one_line(data.get('exception_message'))}")  # fmt: skip
            if kind == "execution_interrupted":
                raise Cancelled("generation stopped on the ComfyUI server; finished candidates are kept")
            if kind == "progress" and pid in pending and data.get("max"):
                report(float(data.get("value", 0)) / float(data["max"]))
            if (kind == "executing" and data.get("node") is None) or kind == "execution_success":
                if pid in pending:
                    pending.remove(pid)
                    done.add(pid)
                    report()

    @staticmethod
    def _receive(socket: Any) -> Any:
        """The next message (a dict), None when none came within a second, or _CLOSED."""
        if socket is None:
            return _CLOSED
        try:
            raw = socket.recv(timeout=1.0)
        except TimeoutError:
            return None
        except Exception:  # the connection dropped (websockets' ConnectionClosed, an OSError)
            return _CLOSED
        if not isinstance(raw, str):
            return None  # a preview picture: not asked for
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def _history(self, pid: str) -> dict[str, Any]:
        """The prompt's entry in the server's history (empty while it waits); a prompt that failed says why."""
        entry = (self.server.call("GET", f"/history/{pid}") or {}).get(pid) or {}
        status = entry.get("status") or {}
        if status.get("status_str") == "error":
            raise BackendError(f"ComfyUI failed: {_history_error(status)}")
        return entry

    def _finished(self, pid: str) -> bool:
        entry = self._history(pid)
        return bool((entry.get("status") or {}).get("completed")) or bool(entry.get("outputs"))

    def _picture(self, pid: str) -> Any:
        from PIL import Image

        entry = self._history(pid)
        images = [im for out in (entry.get("outputs") or {}).values() for im in out.get("images", [])
                  if im.get("type", "output") == "output"]  # fmt: skip
        if not images:
            raise BackendError(f"the ComfyUI workflow made no picture (prompt {pid}): it needs a SaveImage node")
        first = images[0]
        raw = self.server.call("GET", "/view", raw=True, params={"filename": first["filename"],
                                                                  "subfolder": first.get("subfolder", ""),
                                                                  "type": first.get("type", "output")})  # fmt: skip
        try:
            image = Image.open(io.BytesIO(raw))
            image.load()
        except Exception:
            raise BackendError(f"the ComfyUI server at {self.url} sent a picture that cannot be read") from None
        return image.convert("RGB")

    def _stop(self, ids: list[str]) -> None:
        """Stop what runs and take the rest of this batch off the server's queue."""
        try:
            self.server.call("POST", "/interrupt")
            self.server.call("POST", "/queue", json={"delete": ids})
        except BackendError:
            pass


class _ComfyUIServer(Server):
    def refused(self, reply: Any) -> Any:
        """ComfyUI's account of a workflow it will not run: the node, its class and what is wrong, on one line."""
        try:
            data = reply.json()
        except ValueError:
            data = {}
        nodes = data.get("node_errors") if isinstance(data, dict) else None
        if nodes:
            parts = []
            for node_id, info in list(nodes.items())[:3]:
                errors = info.get("errors") or [{}]
                what = "; ".join(f"{e.get('message', 'error')}" + (f": {e['details']}" if e.get("details") else "")
                                 for e in errors[:2])  # fmt: skip
                parts.append(f"{info.get('class_type', 'node')} (node {node_id}): {what}")
            raise BackendError(f"ComfyUI refused the workflow: {_one_line(' | '.join(parts))}")
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict) and error.get("message"):
            extra = f": {error['details']}" if error.get("details") else ""
            raise BackendError(f"ComfyUI refused the workflow: {_one_line(error['message'] + extra)}")
        return super().refused(reply)


_CLOSED = object()


def _uses(workflow: dict[str, Any], marker: str) -> bool:
    return any(v == marker for n in workflow.values() for v in n["inputs"].values())


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())[:300]


def _history_error(status: dict[str, Any]) -> str:
    for kind, data in status.get("messages") or []:
        if kind == "execution_error":
            return f"{data.get('node_type', 'a node')}: {_one_line(data.get('exception_message'))}"
    return "the workflow did not finish"
