"""`storyreel models pull` against a fake model hub: a local HTTP server that HF_ENDPOINT points huggingface_hub at,
answering the three requests a pull makes (the repo's file listing with sizes, its tree, each file), and the
offline paths for real (HF_HUB_OFFLINE, a refused connection, a hub that never answers)."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from storyreel.backends.hub import choose_files, human_size

REPO = "someone/tiny-sd"
SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Serves one model repo the way huggingface.co does, records every request, and holds file downloads back
    until ``release`` is set."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[tuple[str, str]] = []
        self.release = threading.Event()
        self.release.set()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:  # noqa: N802
                hub.answer(self, body=False)

            def do_GET(self) -> None:  # noqa: N802
                hub.answer(self, body=True)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _entry(self, path: str, key: str) -> dict:
        data = self.files[path]
        blob = "blobId" if key == "rfilename" else "oid"
        entry = {key: path, "size": len(data), blob: hashlib.sha1(data).hexdigest()}
        if path.endswith(".safetensors"):
            entry["lfs"] = {"sha256" if key == "rfilename" else "oid": hashlib.sha256(data).hexdigest(),
                            "size": len(data), "pointerSize": 134}  # fmt: skip
        return entry

    def answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlparse(h.path).path)
        self.requests.append((h.command, path))
        if re.fullmatch(rf"/api/models/{REPO}(/revision/main)?", path):
            info = {"id": REPO, "modelId": REPO, "sha": SHA, "private": False, "tags": [],
                    "siblings": [self._entry(p, "rfilename") for p in self.files]}  # fmt: skip
            return self._send(h, 200, json.dumps(info).encode(), {"Content-Type": "application/json"}, body)
        if re.fullmatch(rf"/api/models/{REPO}/tree/{SHA}/?", path):
            tree = [{"type": "file", **self._entry(p, "path")} for p in self.files]
            return self._send(h, 200, json.dumps(tree).encode(), {"Content-Type": "application/json"}, body)
        m = re.fullmatch(rf"/{REPO}/resolve/(main|{SHA})/(.+)", path)
        if m and m.group(2) in self.files:
            self.release.wait(60)
            data = self.files[m.group(2)]
            lfs = m.group(2).endswith(".safetensors")
            etag = hashlib.sha256(data).hexdigest() if lfs else hashlib.sha1(data).hexdigest()
            headers = {"X-Repo-Commit": SHA, "ETag": f'"{etag}"', "Content-Type": "application/octet-stream"}
            return self._send(h, 200, data, headers, body)
        return self._send(h, 404, b'{"error": "not found"}', {"X-Error-Code": "EntryNotFound"}, body)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict, body: bool) -> None:
        h.send_response(status)
        for k, v in {**headers, "Content-Length": str(len(data))}.items():
            h.send_header(k, v)
        h.end_headers()
        if body:
            h.wfile.write(data)

    def resolved(self) -> set[str]:
        return {re.sub(rf"^/{REPO}/resolve/[^/]+/", "", p) for c, p in self.requests if "/resolve/" in p}


def _fp16(data: bytes) -> bytes:
    from safetensors.torch import load, save

    return save({k: v.half() for k, v in load(data).items()})


@pytest.fixture(scope="module")
def repo_files(tiny_model) -> dict[str, bytes]:
    """A tiny diffusers repo as the hub has sd-turbo: float32 and fp16 weights per component, plus what a pull must
    leave: the single-file checkpoint at the top, an EMA variant, a safety checker, a README."""
    files = {p.relative_to(tiny_model).as_posix(): p.read_bytes() for p in sorted(tiny_model.rglob("*")) if p.is_file()}
    files = {p: data for p, data in files.items() if not p.startswith("_")}  # the tokenizer's build leftovers
    for path in [p for p in files if p.endswith(".safetensors")]:
        files[path.replace(".safetensors", ".fp16.safetensors")] = _fp16(files[path])
    files["unet/diffusion_pytorch_model.non_ema.safetensors"] = files["unet/diffusion_pytorch_model.safetensors"]
    files["tiny-sd.safetensors"] = b"\0" * 300_000
    files["safety_checker/config.json"] = b"{}"
    files["safety_checker/model.safetensors"] = b"\0" * 200_000
    files["README.md"] = b"# tiny\n"
    return files


@pytest.fixture
def fake_hub(repo_files):
    hub = FakeHub(repo_files)
    yield hub
    hub.close()


def _wanted(files: dict[str, bytes]) -> set[str]:
    """What a diffusers pipeline loads: the index, each component's configs and tokenizer, its fp16 weights."""
    return {p for p in files if p == "model_index.json" or (
        "/" in p and not p.startswith("safety_checker/") and (p.endswith(".json") or p.endswith(".txt")
                                                                or p.endswith(".fp16.safetensors")))}  # fmt: skip


def _env(tmp_path: Path, endpoint: str, offline: str = "0") -> dict:
    return {"HF_ENDPOINT": endpoint, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": offline,
            "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN": ""}  # fmt: skip


def test_pull_says_the_size_then_downloads_what_diffusers_needs(tmp_path, fake_hub, repo_files, cli, monkeypatch):
    wanted = _wanted(repo_files)
    assert {"unet/diffusion_pytorch_model.fp16.safetensors", "tokenizer/tokenizer.json"} <= wanted
    size = sum(len(repo_files[p]) for p in wanted)

    # the downloads are held back until the size has been said: a size said afterwards would never come
    fake_hub.release.clear()
    env = _env(tmp_path, fake_hub.url)
    said: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "storyreel.cli", "models", "pull", REPO],
        env={**os.environ, "COLUMNS": "200", **env}, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 30
            while not any("to download" in line for line in said) and time.monotonic() < deadline:
                try:
                    said.append(lines.get(timeout=1))
                except queue.Empty:
                    assert proc.poll() is None, "".join(said)
            assert any("to download" in line for line in said), "".join(said)  # said while no file could come
        finally:
            fake_hub.release.set()
            code = proc.wait(60)
            reader.join(10)
    while not lines.empty():
        said.append(lines.get())
    stderr = "".join(said)
    assert code == 0, stderr
    summary = next(line for line in said if "to download" in line)
    assert f"{REPO}: {human_size(size)} to download ({len(wanted)} files, fp16 weights" in summary
    assert "Traceback" not in stderr

    # what was asked for: the listing with sizes, and exactly the files a pipeline loads
    assert ("GET", f"/api/models/{REPO}/revision/main") in fake_hub.requests
    assert fake_hub.resolved() == wanted
    snapshot = tmp_path / "hub" / "models--someone--tiny-sd" / "snapshots" / SHA
    assert sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()) == sorted(wanted)
    assert all((snapshot / p).read_bytes() == repo_files[p] for p in wanted)
    assert f"downloaded {REPO} to {snapshot}" in stderr

    # a second pull finds it there and asks the hub nothing
    asked = len(fake_hub.requests)
    again = cli("models", "pull", REPO, env=env)
    assert again.code == 0, again.stderr
    assert f"{REPO} is downloaded already ({snapshot})" in again.stderr
    assert len(fake_hub.requests) == asked

    # and the diffusers backend draws with the fp16 weights it pulled, found by the hub id
    from huggingface_hub import constants

    from storyreel.backends.diffusers_local import DiffusersBackend
    from storyreel.types import ImageRequest

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    backend = DiffusersBackend(REPO)
    assert backend.path == snapshot
    (image,) = backend.generate([ImageRequest("a dragon", "", 1, 2, 5.0, 64, 64)])
    assert image.size == (64, 64)


@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "refused", "no such host", "no answer"])
def test_pull_if_reachable_offline_is_one_line_and_quick(tmp_path, fake_hub, cli, how):
    silent = socket.socket()  # listens, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    endpoint, offline = {
        "HF_HUB_OFFLINE": (fake_hub.url, "1"),
        "refused": (f"http://127.0.0.1:{closed_port}", "0"),
        "no such host": ("http://hub.storyreel.invalid", "0"),
        "no answer": (f"http://127.0.0.1:{silent.getsockname()[1]}", "0"),
    }[how]
    env = _env(tmp_path, endpoint, offline)
    try:
        start = time.monotonic()
        run = cli("models", "pull", "--if-reachable", env=env)
        took = time.monotonic() - start
    finally:
        silent.close()
    assert run.code == 0, run.stderr
    assert took < 20, took  # a few seconds of waiting at most, not the minutes of a hung connection
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("not downloading stabilityai/sd-turbo: ")
    assert ("HF_HUB_OFFLINE" if how == "HF_HUB_OFFLINE" else "not reachable") in lines[0]
    assert "sketch cards" in lines[0]
    assert fake_hub.requests == []  # HF_HUB_OFFLINE=1 asks nothing, even of a hub that is there
    assert not list((tmp_path / "hub").glob("models--*/snapshots/*/*"))

    if how in ("HF_HUB_OFFLINE", "refused"):  # without --if-reachable the same is an error, in one line
        strict = cli("models", "pull", env=env)
        assert strict.code == 1, strict.stderr
        lines = [line for line in strict.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: cannot download stabilityai/sd-turbo: "), lines


def test_choose_files_takes_one_set_of_weights_per_component():
    listing = [
        ("model_index.json", 500), ("sd_turbo.safetensors", 5_000_000_000), ("README.md", 900),
        ("unet/config.json", 1_000), ("unet/diffusion_pytorch_model.safetensors", 3_400_000_000),
        ("unet/diffusion_pytorch_model.fp16.safetensors", 1_700_000_000),
        ("text_encoder/config.json", 600), ("text_encoder/model.safetensors", 1_300_000_000),
        ("text_encoder/model.fp16.safetensors", 680_000_000), ("text_encoder/pytorch_model.bin", 1_300_000_000),
        ("tokenizer/vocab.json", 1_000_000), ("tokenizer/merges.txt", 500_000),
        ("vae/config.json", 500), ("vae/diffusion_pytorch_model.safetensors", 330_000_000),
        ("safety_checker/config.json", 4_000), ("safety_checker/model.safetensors", 1_200_000_000),
        ("scheduler/scheduler_config.json", 400),
    ]  # fmt: skip
    files, variant = choose_files(listing)
    assert variant == "fp16"
    assert sorted(p for p, _ in files) == [
        "model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json",
        "text_encoder/model.fp16.safetensors", "tokenizer/merges.txt", "tokenizer/vocab.json", "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors", "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",  # no fp16 variant of the vae: the float32 one
    ]  # fmt: skip

    sharded = [("model_index.json", 1), ("unet/diffusion_pytorch_model-00001-of-00002.safetensors", 9),
               ("unet/diffusion_pytorch_model-00002-of-00002.safetensors", 9), ("unet/old.bin", 9),
               ("unet/diffusion_pytorch_model.non_ema.safetensors", 9)]  # fmt: skip
    assert choose_files(sharded) == (sharded[:3], None)
    assert choose_files([("unet/model.safetensors", 9)]) == ([], None)  # no model_index.json: not diffusers


def test_pull_of_a_local_folder_says_it_needs_none(tmp_path, cli):
    run = cli("models", "pull", tmp_path)
    assert run.code == 1
    assert (
        run.stderr.strip() == f"error: {tmp_path} is not a hub id: give one such as stabilityai/sd-turbo (a local "
        "model needs no pull)"
    )
