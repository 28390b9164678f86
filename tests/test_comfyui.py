"""The comfyui backend against a local server that answers as ComfyUI does (../shared/protocols/comfyui.md: POST
/prompt, the /ws websocket, /history, /view, /interrupt, /object_info), and checks the workflows storyreel sends."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import threading
import time
import uuid
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from conftest import run_cli, send_reply
from PIL import Image

from storyreel.backends.comfyui import DEFAULT_WORKFLOW, ComfyUIBackend
from storyreel.errors import BackendError, Cancelled, InputError
from storyreel.store.db import Project
from storyreel.types import ImageRequest

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STORY = """# The fox and the crow

A black crow named Corvo sat in an oak with a piece of cheese.
A red fox named Rusty praised her voice until she sang and dropped the cheese.
"""
CHECKPOINTS = ["v1-5-pruned-emaonly.safetensors", "dreamshaper_8.safetensors"]


def colour(seed: int) -> tuple[int, int, int]:
    return (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)


class FakeComfyUI:
    """ComfyUI's HTTP and websocket API on 127.0.0.1, running each queued prompt in order as ComfyUI does."""

    def __init__(self) -> None:
        self.prompts: list[dict] = []  # what /prompt received
        self.history: dict[str, dict] = {}
        self.files: dict[str, bytes] = {}
        self.sockets: dict[str, tuple[threading.Lock, object]] = {}  # client id -> (lock, wfile)
        self.queue: list[tuple[str, str, dict]] = []
        self.wake = threading.Condition()
        self.fail_at_node: str | None = None  # an execution_error in the node of this class_type
        self.drop_socket = False  # close the websocket after the first progress message
        self.slow = 0.0  # seconds each prompt takes
        self.interrupted = threading.Event()
        self.deleted: list[str] = []
        self.uploads: dict[str, bytes] = {}  # /upload/image: name -> the file's bytes, in its input folder
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, code: int, data: object, ctype: str = "application/json") -> None:
                send_reply(self, code, data, ctype)

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
                    return self._websocket(query["clientId"])
                if url.path == "/object_info/CheckpointLoaderSimple":
                    return self._reply(200, {"CheckpointLoaderSimple": {"input": {"required": {
                        "ckpt_name": [CHECKPOINTS, {"tooltip": "The name of the checkpoint (model) to load."}]}}}})
                if url.path == "/system_stats":
                    return self._reply(200, {"system": {"comfyui_version": "0.3.64"}, "devices": []})
                if url.path.startswith("/history/"):
                    pid = url.path.rsplit("/", 1)[1]
                    return self._reply(200, {pid: fake.history[pid]} if pid in fake.history else {})
                if url.path == "/view":
                    name = query.get("filename", "")
                    if name in fake.files and query.get("type") == "output":
                        return self._reply(200, fake.files[name], "image/png")
                    return self._reply(404, {"error": "not found"})
                return self._reply(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                if self.path == "/upload/image":  # multipart: the file as "image", then type, overwrite, subfolder
                    raw = self.rfile.read(length)
                    form = BytesParser(policy=email_policy).parsebytes(
                        b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + raw)
                    parts = {p.get_param("name", header="content-disposition"): p for p in form.iter_parts()}
                    image = parts["image"]
                    assert parts["type"].get_content().strip() == "input"
                    name = image.get_filename()
                    fake.uploads[name] = image.get_payload(decode=True)
                    return self._reply(200, {"name": name, "subfolder": "", "type": "input"})
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                if self.path == "/prompt":
                    fake.prompts.append(body)
                    flow = body["prompt"]
                    errors = fake.validate(flow)
                    if errors:
                        return self._reply(400, {"error": {"type": "prompt_outputs_failed_validation",
                                                           "message": "Prompt outputs failed validation",
                                                           "details": "", "extra_info": {}},
                                                 "node_errors": errors})  # fmt: skip
                    pid = str(uuid.uuid4())
                    with fake.wake:
                        fake.queue.append((pid, body["client_id"], flow))
                        fake.wake.notify()
                    return self._reply(200, {"prompt_id": pid, "number": len(fake.prompts), "node_errors": {}})
                if self.path == "/interrupt":
                    fake.interrupted.set()
                    return self._reply(200, {})
                if self.path == "/queue":
                    fake.deleted += body.get("delete", [])
                    with fake.wake:
                        fake.queue = [q for q in fake.queue if q[0] not in fake.deleted]
                    return self._reply(200, {})
                return self._reply(404, {"error": "not found"})

            def _websocket(self, client: str) -> None:
                accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + GUID).encode()).digest())
                self.send_response(101, "Switching Protocols")
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept.decode())
                self.end_headers()
                self.wfile.flush()
                lock = threading.Lock()
                fake.sockets[client] = (lock, self)
                fake.send(client, {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}},
                                                              "sid": client}})  # fmt: skip
                try:
                    while True:  # read the client's frames until it closes
                        head = self.rfile.read(2)
                        if len(head) < 2:
                            break
                        n = head[1] & 0x7F
                        if n == 126:
                            n = struct.unpack(">H", self.rfile.read(2))[0]
                        elif n == 127:
                            n = struct.unpack(">Q", self.rfile.read(8))[0]
                        self.rfile.read(4 + n)  # the mask and the payload
                        if head[0] & 0x0F == 8:
                            break
                except OSError:
                    pass
                fake.sockets.pop(client, None)
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        threading.Thread(target=self._run, daemon=True).start()

    # the server's side -----------------------------------------------------------------------------------------
    def validate(self, flow: dict) -> dict:
        errors = {}
        for node_id, node in flow.items():
            inputs = node["inputs"]
            if node["class_type"] == "LoadImage" and inputs.get("image") not in self.uploads:
                errors[node_id] = {"errors": [{"type": "custom_validation_failed", "message": "Custom validation "
                                               "failed for node", "details": f"image - Invalid image file: "
                                                                             f"{inputs.get('image')}"}],
                                   "dependent_outputs": ["9"], "class_type": "LoadImage"}  # fmt: skip
            if node["class_type"] == "CheckpointLoaderSimple" and inputs.get("ckpt_name") not in CHECKPOINTS:
                errors[node_id] = {"errors": [{"type": "value_not_in_list", "message": "Value not in list",
                                               "details": f"ckpt_name: '{inputs.get('ckpt_name')}' not in "
                                                          f"{CHECKPOINTS}"}],
                                   "dependent_outputs": ["9"], "class_type": "CheckpointLoaderSimple"}  # fmt: skip
            if node["class_type"] == "KSampler" and not isinstance(inputs.get("steps"), int):
                errors[node_id] = {"errors": [{"type": "invalid_input_type", "message": "Failed to convert an input "
                                               "value to a INT value", "details": f"steps, {inputs.get('steps')}"}],
                                   "dependent_outputs": ["9"], "class_type": "KSampler"}  # fmt: skip
        return errors

    def send(self, client: str, message: dict) -> None:
        entry = self.sockets.get(client)
        if entry is None:
            return
        lock, handler = entry
        raw = json.dumps(message).encode()
        head = bytes([0x81]) + (bytes([len(raw)]) if len(raw) < 126 else bytes([126]) + struct.pack(">H", len(raw)))
        with lock:
            try:
                handler.wfile.write(head + raw)  # type: ignore[attr-defined]
                handler.wfile.flush()  # type: ignore[attr-defined]
            except OSError:
                pass

    def drop(self, client: str) -> None:
        entry = self.sockets.pop(client, None)
        if entry:
            import socket

            entry[1].connection.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]

    def _run(self) -> None:
        while True:
            with self.wake:
                while not self.queue:
                    self.wake.wait()
                pid, client, flow = self.queue.pop(0)
            self.send(client, {"type": "execution_start", "data": {"prompt_id": pid}})
            sampler = next(n for n in flow.values() if n["class_type"] == "KSampler")["inputs"]
            latent = next(n for n in flow.values() if n["class_type"] == "EmptyLatentImage")["inputs"]
            failing = next((k for k, n in flow.items() if n["class_type"] == self.fail_at_node), None)
            if failing:
                self.send(client, {"type": "execution_error", "data": {
                    "prompt_id": pid, "node_id": failing, "node_type": self.fail_at_node,
                    "exception_message": "Error while deserializing header: HeaderTooLarge\n",
                    "exception_type": "safetensors_rust.SafetensorError", "traceback": ["..."]}})  # fmt: skip
                self.history[pid] = {"prompt": [], "outputs": {}, "status": {"status_str": "error",
                                                                             "completed": False, "messages": []}}
                continue
            steps = sampler["steps"]
            for i in range(1, steps + 1):
                if self.interrupted.is_set():
                    break
                self.send(client, {"type": "progress", "data": {"value": i, "max": steps, "node": "3",
                                                                "prompt_id": pid}})  # fmt: skip
                if i == 1 and self.drop_socket:
                    self.drop(client)
                time.sleep(self.slow / steps)
            if self.interrupted.is_set():
                self.send(client, {"type": "execution_interrupted", "data": {"prompt_id": pid}})
                self.interrupted.clear()
                continue
            name = f"storyreel_{len(self.files) + 1:05d}_.png"
            buf = io.BytesIO()
            Image.new("RGB", (latent["width"], latent["height"]), colour(sampler["seed"])).save(buf, "PNG")
            self.files[name] = buf.getvalue()
            self.history[pid] = {"prompt": [], "outputs": {"9": {"images": [{"filename": name, "subfolder": "",
                                                                             "type": "output"}]}},
                                 "status": {"status_str": "success", "completed": True, "messages": []}}  # fmt: skip
            self.send(client, {"type": "executed", "data": {"node": "9", "prompt_id": pid, "output": {
                "images": [{"filename": name, "subfolder": "", "type": "output"}]}}})
            self.send(client, {"type": "execution_success", "data": {"prompt_id": pid}})
            self.send(client, {"type": "executing", "data": {"node": None, "prompt_id": pid}})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    fake = FakeComfyUI()
    yield fake
    fake.close()


def _req(seed: int, prompt: str = "a crow", steps: int = 4) -> ImageRequest:
    return ImageRequest(prompt, "blurry", seed, steps, 6.5, 64, 96)


def test_make_with_comfyui_fills_the_workflow_and_follows_the_websocket(tmp_path, server):
    story = tmp_path / "fox.md"
    story.write_text(STORY, encoding="utf-8")
    run = run_cli("make", story, "-o", tmp_path / "fox.mp4", "--backend", "comfyui", "--backend-url", server.url,
                  "--candidates", "2", "--seed", "7", "--size", "64x112", "--steps", "3", "--style",
                  "(storybook:1.2)", "--aspect", "1:1", "--speed", "450")  # fmt: skip
    assert run.code == 0, run.stderr
    flows = [p["prompt"] for p in server.prompts]
    assert len(flows) == 4  # a prompt per picture: 2 scenes x 2 candidates
    assert len({p["client_id"] for p in server.prompts}) <= 2
    bundled = json.loads(DEFAULT_WORKFLOW.read_text())
    for flow in flows:
        assert set(flow) == set(bundled)  # the bundled workflow, every marker filled
        assert "$" not in json.dumps(flow)
        assert flow["4"]["inputs"]["ckpt_name"] == CHECKPOINTS[0]  # no --model: the server's first checkpoint
        assert flow["5"]["inputs"] == {"width": 64, "height": 112, "batch_size": 1}
        assert (flow["3"]["inputs"]["steps"], flow["3"]["inputs"]["cfg"]) == (3, 7.0)
        assert flow["6"]["inputs"]["text"].startswith("(storybook:1.2)")
        assert flow["7"]["inputs"]["text"]
    assert sorted(f["3"]["inputs"]["seed"] for f in flows) == [7, 7, 8, 8]
    project = Project(tmp_path / "fox.storyreel")
    cands = project.candidates()
    assert sorted(c.seed for c in cands) == [7, 7, 8, 8] and {c.backend for c in cands} == {"comfyui"}
    for c in cands:  # each stored picture is the one the server made for its seed
        pixel = np.asarray(Image.open(project.media.path(c.media)).convert("RGB"))[5, 5]
        assert tuple(int(v) for v in pixel) == colour(c.seed)


def test_a_users_workflow_with_its_marked_inputs(tmp_path, server):
    flow = json.loads(DEFAULT_WORKFLOW.read_text())
    flow["3"]["inputs"]["sampler_name"] = "dpmpp_2m"  # the user's own choices stay
    flow["4"]["inputs"]["ckpt_name"] = "dreamshaper_8.safetensors"  # not marked: the workflow's own checkpoint
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(flow))
    images = ComfyUIBackend(url=server.url, workflow=str(path)).generate([_req(11), _req(12, "a fox")])
    sent = [p["prompt"] for p in server.prompts]
    assert [f["3"]["inputs"]["sampler_name"] for f in sent] == ["dpmpp_2m"] * 2
    assert [f["4"]["inputs"]["ckpt_name"] for f in sent] == ["dreamshaper_8.safetensors"] * 2
    assert [f["6"]["inputs"]["text"] for f in sent] == ["a crow", "a fox"]
    assert [im.getpixel((0, 0)) for im in images] == [colour(11), colour(12)]
    # a workflow without the inputs storyreel fills: an error that names them
    del flow["3"]["inputs"]["seed"]
    flow["5"]["inputs"]["width"] = 512
    path.write_text(json.dumps(flow))
    with pytest.raises(InputError, match=r"no input marked \$seed, \$width"):
        ComfyUIBackend(url=server.url, workflow=str(path))
    path.write_text(json.dumps({"nodes": [], "links": []}))  # saved with Save, not Save (API)
    with pytest.raises(InputError, match=r"Save \(API\)"):
        ComfyUIBackend(url=server.url, workflow=str(path))


def test_refused_and_failed_workflows_are_one_line(server, tmp_path):
    with pytest.raises(BackendError, match=r"ComfyUI refused the workflow: CheckpointLoaderSimple \(node 4\): "
                                           r"Value not in list: ckpt_name: 'nope.safetensors'"):
        ComfyUIBackend(url=server.url, model="nope.safetensors").generate([_req(1)])
    server.fail_at_node = "CheckpointLoaderSimple"
    with pytest.raises(BackendError, match=r"ComfyUI failed in CheckpointLoaderSimple \(node 4\): Error while "
                                           r"deserializing header: HeaderTooLarge$"):
        ComfyUIBackend(url=server.url).generate([_req(1)])
    # the CLI: one line, exit 1, no traceback
    story = tmp_path / "fox.md"
    story.write_text(STORY, encoding="utf-8")
    assert run_cli("new", story, "--project", tmp_path / "p").code == 0
    run = run_cli("generate", tmp_path / "p", "--backend", "comfyui", "--backend-url", "http://127.0.0.1:9")
    assert run.code == 1 and "Traceback" not in run.stderr
    assert "cannot reach the ComfyUI server at http://127.0.0.1:9" in run.stderr.strip().splitlines()[-1]


def test_a_dropped_websocket_falls_back_to_the_history(server):
    server.drop_socket = True
    server.slow = 0.5
    images = ComfyUIBackend(url=server.url).generate([_req(3), _req(4)])
    assert [im.getpixel((0, 0)) for im in images] == [colour(3), colour(4)]


def test_stop_interrupts_and_clears_the_queue(server):
    server.slow = 5.0
    seen: list[float] = []
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        ComfyUIBackend(url=server.url).generate([_req(1, steps=20), _req(2, steps=20), _req(3, steps=20)],
                                                progress=seen.append, should_stop=lambda: time.monotonic() - t0 > 1)
    assert server.interrupted.is_set()  # the prompt being made is stopped
    assert len(server.deleted) == 3  # the batch's prompts are taken off the server's queue
    assert seen and 0 < seen[-1] < 1  # the websocket's progress reached the caller


def test_models_are_the_servers_checkpoints(server):
    assert ComfyUIBackend(url=server.url).models() == CHECKPOINTS


def test_a_job_made_in_another_process_uses_the_servers_first_checkpoint(server):
    ComfyUIBackend(model="comfyui", url=server.url).generate([_req(1)])
    assert server.prompts[0]["prompt"]["4"]["inputs"]["ckpt_name"] == CHECKPOINTS[0]


def test_a_characters_reference_picture_goes_to_a_workflow_that_takes_one(tmp_path, server):
    story = tmp_path / "fox.md"
    story.write_text(STORY, encoding="utf-8")
    project_dir = tmp_path / "fox"
    assert run_cli("new", story, "--project", project_dir).code == 0
    flow = json.loads(DEFAULT_WORKFLOW.read_text())
    flow["20"] = {"class_type": "LoadImage", "inputs": {"image": "$reference", "upload": "image"}}
    workflow = tmp_path / "ipadapter.json"
    workflow.write_text(json.dumps(flow))

    crow, fox = tmp_path / "crow.png", tmp_path / "fox.jpg"
    Image.new("RGB", (32, 32), (10, 10, 10)).save(crow)
    Image.new("RGB", (32, 32), (220, 90, 10)).save(fox)
    run = run_cli("characters", project_dir, "--reference", f"corvo={crow}", "--reference", f"rusty={fox}")
    assert run.code == 0, run.stderr
    args = ["--backend", "comfyui", "--backend-url", server.url, "--workflow", workflow, "--candidates", "2",
            "--seed", "3", "--size", "64x112", "--steps", "2"]  # fmt: skip
    run = run_cli("generate", project_dir, *args)
    assert run.code == 0, run.stderr

    def sent_pictures() -> dict[str, set[tuple[int, int, int]]]:
        """Which picture each scene's workflows drew from (by the scene's prompt), as the colour the server got."""
        out: dict[str, set] = {}
        for p in server.prompts:
            scene = "crow" if "crow" in p["prompt"]["6"]["inputs"]["text"] else "fox"
            data = server.uploads[p["prompt"]["20"]["inputs"]["image"]]
            rgb = Image.open(io.BytesIO(data)).convert("RGB").getpixel((0, 0))
            out.setdefault(scene, set()).add(tuple(round(v / 5) * 5 for v in rgb))  # (JPEG moves a colour a little)
        return out

    assert len(server.prompts) == 4 and len(server.uploads) == 2  # each picture uploaded once, for its 2 candidates
    assert sent_pictures() == {"crow": {(10, 10, 10)}, "fox": {(220, 90, 10)}}  # each scene its character's

    # another reference picture: that scene's pictures are made again, from it; the other scene's are kept
    server.prompts.clear()
    Image.new("RGB", (32, 32), (200, 200, 200)).save(crow)
    assert run_cli("characters", project_dir, "--reference", f"corvo={crow}").code == 0
    run = run_cli("generate", project_dir)
    assert run.code == 0 and "made 2 candidates" in run.stderr, run.stderr
    assert sent_pictures() == {"crow": {(200, 200, 200)}}

    # nobody in a scene has one: a line that says how to choose one, nothing queued on the server
    server.prompts.clear()
    Project(project_dir).update_character("rusty", reference=None)
    run = run_cli("generate", project_dir, "--seed", "9")
    assert run.code == 1 and "none of the scene's characters has one" in run.stderr and "--reference" in run.stderr
    assert "Traceback" not in run.stderr and len(server.prompts) == 2  # the crow's scene is made all the same
    bad = run_cli("characters", project_dir, "--reference", f"corvo={workflow}")
    assert bad.code == 1 and "is not a picture" in bad.stderr
