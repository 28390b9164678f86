"""The a1111 backend against a local server that answers as AUTOMATIC1111's API does (started with --api), and
checks what storyreel sends: prompts, seeds, batch, sizes, model, the password; and the failures a user meets."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from conftest import run_cli, send_reply
from PIL import Image

from storyreel.backends.a1111 import A1111Backend
from storyreel.errors import BackendError, Cancelled, InputError
from storyreel.store.db import Project
from storyreel.types import ImageRequest

STORY = """# The fox and the crow

A black crow named Corvo sat in an oak with a piece of cheese.
A red fox named Rusty praised her voice until she sang and dropped the cheese.
"""


def colour(seed: int) -> tuple[int, int, int]:
    return (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)


class FakeA1111:
    """AUTOMATIC1111's /sdapi/v1 endpoints, as a real server answers them, on 127.0.0.1."""

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        self.auth = auth
        self.calls: list[tuple[str, str, dict, dict]] = []  # method, path, headers, JSON body
        self.fail: tuple[int, str] | None = None
        self.seed_shift = 0  # a server whose scripts change the seeds
        self.slow = 0.0
        self.die_after: int | None = None  # stop answering after this many pictures' calls (a server that dies)
        self.garbage = False
        self.interrupted = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, code: int, data: object) -> None:
                send_reply(self, code, data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                path = self.path.split("?")[0]
                fake.calls.append((method, path, dict(self.headers), body))
                if fake.auth:
                    want = "Basic " + base64.b64encode(":".join(fake.auth).encode()).decode()
                    if self.headers.get("Authorization") != want:
                        return self._reply(401, {"detail": "Not authenticated"})
                if path == "/sdapi/v1/progress":
                    return self._reply(200, {"progress": 0.5, "eta_relative": 1.0, "state": {}})
                if path == "/sdapi/v1/interrupt":
                    fake.interrupted.set()
                    return self._reply(200, {})
                if path == "/sdapi/v1/sd-models":
                    return self._reply(200, [{"title": "v1-5-pruned.safetensors [6ce0161689]",
                                              "model_name": "v1-5-pruned"},
                                             {"title": "dreamshaper_8.safetensors [879db523c3]",
                                              "model_name": "dreamshaper_8"}])  # fmt: skip
                if path == "/sdapi/v1/txt2img" and method == "POST":
                    if fake.garbage:  # a proxy's error page, or another program on that port
                        raw = b"<html><body>502 Bad Gateway</body></html>"
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(raw)))
                        self.end_headers()
                        self.wfile.write(raw)
                        return None
                    if fake.fail:
                        return self._reply(fake.fail[0], {"error": "RuntimeError", "detail": fake.fail[1]})
                    end = time.monotonic() + fake.slow
                    while time.monotonic() < end and not fake.interrupted.is_set():
                        time.sleep(0.05)
                    n = body["batch_size"] * body["n_iter"]
                    seeds = [body["seed"] + i + fake.seed_shift for i in range(n)]
                    images = []
                    for s in seeds:
                        buf = io.BytesIO()
                        Image.new("RGB", (body["width"], body["height"]), colour(s)).save(buf, "PNG")
                        images.append(base64.b64encode(buf.getvalue()).decode())
                    info = {"all_seeds": seeds, "seed": seeds[0], "all_prompts": [body["prompt"]] * n}
                    self._reply(200, {"images": images, "parameters": body, "info": json.dumps(info)})
                    if fake.die_after is not None and len(fake.txt2img()) >= fake.die_after:
                        threading.Thread(target=fake.close, daemon=True).start()
                    return None
                return self._reply(404, {"detail": "Not Found"})

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def txt2img(self) -> list[dict]:
        return [body for method, path, _, body in self.calls if path == "/sdapi/v1/txt2img"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    fake = FakeA1111()
    yield fake
    fake.close()


def _req(seed: int, prompt: str = "a crow", size: tuple[int, int] = (64, 96)) -> ImageRequest:
    return ImageRequest(prompt, "blurry", seed, 20, 7.0, size[0], size[1])


def test_make_with_a1111_sends_each_scene_as_one_batch_and_keeps_the_password_out(tmp_path):
    fake = FakeA1111(auth=("ana", "s3cret-pw"))
    try:
        story = tmp_path / "fox.md"
        story.write_text(STORY, encoding="utf-8")
        url = fake.url.replace("http://", "http://ana:s3cret-pw@")
        run = run_cli("make", story, "-o", tmp_path / "fox.mp4", "--backend", "a1111", "--backend-url", url,
                      "--model", "dreamshaper_8.safetensors [879db523c3]", "--candidates", "2", "--seed", "7",
                      "--size", "64x112", "--steps", "12", "--guidance", "6.5", "--style", "(storybook:1.2), <lora:ink:0.8>",
                      "--aspect", "1:1", "--speed", "450")  # fmt: skip
        assert run.code == 0, run.stderr
        calls = fake.txt2img()
        assert len(calls) == 2  # one call per scene: its two candidates are one batch
        for body in calls:
            assert (body["seed"], body["batch_size"], body["n_iter"]) == (7, 2, 1)
            assert (body["width"], body["height"], body["steps"], body["cfg_scale"]) == (64, 112, 12, 6.5)
            assert body["prompt"].startswith("(storybook:1.2), <lora:ink:0.8>")  # A1111's own syntax, untouched
            assert body["negative_prompt"]
            assert body["override_settings"] == {"sd_model_checkpoint": "dreamshaper_8.safetensors [879db523c3]"}
        assert "Corvo" in calls[0]["prompt"] and "crow" in calls[0]["prompt"]
        assert "fox" in calls[1]["prompt"].lower()
        # the password went to the server, and nowhere else
        assert all(headers.get("Authorization") for _, _, headers, _ in fake.calls)
        project = tmp_path / "fox.storyreel"
        assert Project(project).settings()["backend_url"] == fake.url
        for path in [*project.rglob("*"), tmp_path / "fox.srt"]:
            if path.is_file():
                assert b"s3cret-pw" not in path.read_bytes(), path
        assert "s3cret-pw" not in run.stderr + run.stdout
        cands = Project(project).candidates()
        assert sorted(c.seed for c in cands) == [7, 7, 8, 8]
        assert {c.backend for c in cands} == {"a1111"}
        # the server's pictures are the candidates: each seed's colour, as the server drew it
        for c in cands:
            pixel = np.asarray(Image.open(Project(project).media.path(c.media)).convert("RGB"))[5, 5]
            assert tuple(int(v) for v in pixel) == colour(c.seed)
    finally:
        fake.close()


def test_a_server_that_asks_for_a_password_says_where_to_put_it(tmp_path, monkeypatch):
    fake = FakeA1111(auth=("ana", "pw"))
    try:
        monkeypatch.delenv("STORYREEL_A1111_AUTH", raising=False)
        with pytest.raises(BackendError, match="STORYREEL_A1111_AUTH"):
            A1111Backend(url=fake.url + "/").generate([_req(1)])
        monkeypatch.setenv("STORYREEL_A1111_AUTH", "ana:pw")
        assert len(A1111Backend(url=fake.url).generate([_req(1)])) == 1
    finally:
        fake.close()


def test_requests_are_batched_only_when_one_call_makes_them(server):
    backend = A1111Backend(url=server.url)
    reqs = [_req(5), _req(6), _req(9), _req(10, "a fox"), _req(11, "a fox"), _req(12, "a fox", (64, 64))]
    images = backend.generate(reqs)
    assert [(b["seed"], b["batch_size"], b["prompt"]) for b in server.txt2img()] == [
        (5, 2, "a crow"), (9, 1, "a crow"), (10, 2, "a fox"), (12, 1, "a fox")]  # fmt: skip
    assert [im.getpixel((0, 0)) for im in images] == [colour(r.seed) for r in reqs]
    assert images[-1].size == (64, 64)


def test_failures_are_one_line_errors(server, tmp_path, monkeypatch):
    server.fail = (500, "CUDA out of memory. Tried to allocate 2.00 GiB")
    with pytest.raises(BackendError, match=r"failed \(500\): CUDA out of memory"):
        A1111Backend(url=server.url).generate([_req(1)])
    server.fail = None
    server.seed_shift = 3  # an extension that picks its own seeds
    with pytest.raises(BackendError, match="overrides the seed"):
        A1111Backend(url=server.url).generate([_req(1)])
    server.seed_shift = 0
    server.garbage = True
    with pytest.raises(BackendError, match="not JSON for /sdapi/v1/txt2img"):
        A1111Backend(url=server.url).generate([_req(1)])
    server.garbage = False
    server.slow = 3.0  # a server that does not answer in time
    monkeypatch.setattr("storyreel.backends.http.TIMEOUT_S", 0.5)
    with pytest.raises(BackendError, match="did not answer in time"):
        A1111Backend(url=server.url).generate([_req(1)])
    server.slow = 0.0
    with pytest.raises(InputError, match="needs --backend-url"):
        A1111Backend()
    with pytest.raises(InputError, match="not an http"):
        A1111Backend(url="ftp://example.org")
    # a server that is not there: the CLI says so in one line, exit 1, and makes nothing
    story = tmp_path / "fox.md"
    story.write_text(STORY, encoding="utf-8")
    run = run_cli("generate", tmp_path / "p", "--backend", "a1111")
    assert run.code == 1 and "Traceback" not in run.stderr
    assert run_cli("new", story, "--project", tmp_path / "p").code == 0
    run = run_cli("generate", tmp_path / "p", "--backend", "a1111")
    assert run.code == 1 and "needs --backend-url" in run.stderr and "Traceback" not in run.stderr
    run = run_cli("generate", tmp_path / "p", "--backend", "a1111", "--backend-url", "http://127.0.0.1:9")
    assert run.code == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        "error: 2 of 2 images could not be made: cannot reach the AUTOMATIC1111 server at http://127.0.0.1:9 "
        "(ConnectError): start the web UI with --api, or check --backend-url")  # fmt: skip
    assert "failed" not in run.stderr  # the one line says it all: no worker log beside it


def test_stop_interrupts_the_server(server):
    server.slow = 10.0
    backend = A1111Backend(url=server.url)
    seen: list[float] = []
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        backend.generate([_req(1), _req(2)], progress=seen.append, should_stop=lambda: time.monotonic() - t0 > 1.2)
    assert server.interrupted.is_set()
    assert time.monotonic() - t0 < 8  # the server was asked to stop; no waiting for the whole batch
    assert seen and 0 < seen[0] < 1  # the server's progress reached the caller while it worked


def test_models_are_the_servers(server):
    assert A1111Backend(url=server.url).models() == ["v1-5-pruned.safetensors [6ce0161689]",
                                                     "dreamshaper_8.safetensors [879db523c3]"]  # fmt: skip



SIX = """# Six scenes

Corvo the crow sat in the old oak. Rusty the fox came by at noon. He praised the crow's black feathers.
Corvo opened her beak to sing. The cheese fell into the grass. Rusty ran off with it, laughing.
"""


def _make_on(tmp_path, *urls: str):
    story = tmp_path / "six.md"
    story.write_text(SIX, encoding="utf-8")
    args = [a for u in urls for a in ("--backend-url", u)]
    return run_cli("generate", tmp_path / "p", "--backend", "a1111", *args, "--candidates", "2", "--size", "64x112")


def test_several_servers_share_a_story_and_one_that_dies_hands_its_work_over(tmp_path):
    a, b = FakeA1111(), FakeA1111()
    a.slow = b.slow = 0.3
    try:
        story = tmp_path / "six.md"
        story.write_text(SIX, encoding="utf-8")
        assert run_cli("new", story, "--project", tmp_path / "p").code == 0
        b.die_after = 1  # B makes one scene's pictures, then stops answering
        run = _make_on(tmp_path, a.url, b.url)
        assert run.code == 0, run.stderr
        project = Project(tmp_path / "p")
        assert project.settings()["backend_url"] == [a.url, b.url]
        cands = project.candidates()
        scenes = project.scenes()
        assert len(cands) == 2 * len(scenes) == 12  # every picture made, none twice
        assert len({(c.scene_id, c.seed) for c in cands}) == 12
        assert len(b.txt2img()) == 1 and len(a.txt2img()) == len(scenes) - 1  # a call per scene, all told
        assert f"{a.url}: " in run.stderr and "images/s" in run.stderr  # each server's share and speed
        assert f"{b.url}: 2 images, down (cannot reach" in run.stderr
    finally:
        a.close()
        b.close()


def test_no_server_left_is_one_line(tmp_path):
    a, b = FakeA1111(), FakeA1111()
    a.close()
    b.close()
    story = tmp_path / "six.md"
    story.write_text(SIX, encoding="utf-8")
    assert run_cli("new", story, "--project", tmp_path / "p").code == 0
    run = _make_on(tmp_path, a.url, b.url)
    assert run.code == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("error: no image server left: cannot reach")
    assert Project(tmp_path / "p").candidates() == []


def test_a_job_made_in_another_process_uses_the_servers_own_model(server):
    # a worker (the studio's) makes the backend again from a job that says model "a1111": no checkpoint is forced
    A1111Backend(model="a1111", url=server.url).generate([_req(1)])
    assert "override_settings" not in server.txt2img()[0]


def test_bad_urls_are_one_line(server):
    from storyreel.backends.http import public_url

    for url in ("http://127.0.0.1:99999", "http://127.0.0.1:abc", "ftp://x", "127.0.0.1:7860"):
        with pytest.raises(InputError, match="is not an http"):
            public_url(url)
    assert public_url("http://[::1]:7860/") == "http://[::1]:7860"
    assert public_url("http://ana:p%40ss@127.0.0.1:7860") == "http://127.0.0.1:7860"


def test_the_studios_worker_shares_a_projects_pictures_among_its_servers(tmp_path):
    """`storyreel worker` (the studio's) makes what Generate all queued on every server in Settings, and a server
    that dies hands its batch to the others."""
    import subprocess
    import sys
    import time

    from storyreel import edit, pipeline
    from storyreel.store import jobs as q

    a, b, c = FakeA1111(), FakeA1111(), FakeA1111()
    a.slow = b.slow = 0.8
    c.slow, c.die_after = 0.1, 1  # C is quick, and back for more when it dies
    root = tmp_path / "projects"
    root.mkdir()
    edit.create_project(root, "six", SIX, {"backend": "a1111", "backend_url": [a.url, b.url, c.url],
                                           "candidates": 2, "size": "64x112", "seed": 1}).close()  # fmt: skip
    project = Project(root / "six")
    worker = subprocess.Popen([sys.executable, "-m", "storyreel.cli", "worker", str(root)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        ids = pipeline.queue_candidates(project, pipeline.in_force(project))  # the Storyboard's Generate all
        deadline = time.time() + 120
        while time.time() < deadline and not all(j.state in q.FINAL for j in q.jobs(project, ids)):
            time.sleep(0.2)
        assert {j.state for j in q.jobs(project, ids)} == {"done"}
        cands = project.candidates()
        assert len(cands) == 12 and len({(x.scene_id, x.seed) for x in cands}) == 12  # each made once
        assert len(a.txt2img()) + len(b.txt2img()) + len(c.txt2img()) == 6  # a call a scene, all told
        assert a.txt2img() and b.txt2img() and len(c.txt2img()) == 1  # every server had a share, C one, then died
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
        for s in (a, b, c):
            s.close()
    assert f"{c.url}: cannot reach" in err and "trying it again" in err
    assert "HTTP Request" not in err  # the worker's log says what the user needs, not every request
