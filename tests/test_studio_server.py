"""`storyreel ui`: the studio and its worker start together, the worker is restarted when it dies, a kill -9
of the studio leaves nothing running, and binding beyond this machine is said loudly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import THREE_SCENES

from storyreel import edit
from storyreel.pipeline import Options, queue_candidates, resolve
from storyreel.store import jobs as q
from storyreel.store.db import Project


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _start(folder: Path, *extra: str, port: int | None = None) -> tuple[subprocess.Popen, int]:
    port = port or _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "storyreel.cli", "ui", str(folder), "--port", str(port), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    return proc, port


def _read_until(proc: subprocess.Popen, word: str, timeout: float = 90) -> str:
    seen = []
    end = time.time() + timeout
    while time.time() < end:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if word in line:
            return "".join(seen)
    raise AssertionError(f"{word!r} not printed: {''.join(seen)}")


def _wait(cond, timeout: float = 60) -> None:
    end = time.time() + timeout
    while not cond():
        assert time.time() < end, "timed out"
        time.sleep(0.1)


def test_studio_starts_its_worker_and_restarts_it(tmp_path):
    folder = tmp_path / "projects"
    edit.create_project(folder, "tale", THREE_SCENES, {"backend": "sketch", "candidates": 2}).close()
    proc, port = _start(folder)
    try:
        said = _read_until(proc, "ready")
        assert f"http://127.0.0.1:{port}" in said and "WARNING" not in said
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
            assert r.status == 200
        workers = [p for p in _children(proc.pid) if "worker" in _cmdline(p)]
        assert len(workers) == 1
        os.kill(workers[0], signal.SIGKILL)  # the worker dies...
        _read_until(proc, "starting it again")
        _wait(lambda: [p for p in _children(proc.pid) if "worker" in _cmdline(p) and p != workers[0]])
        # ...and the new one makes what is queued
        project = Project(folder / "tale")
        ids = queue_candidates(project, resolve(project, Options()))
        _wait(lambda: all(j.state == "done" for j in q.jobs(project, ids)), timeout=120)
        assert len(project.candidates()) == 6
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == 0


def test_a_killed_studio_leaves_nothing_running_and_resumes(tmp_path):
    folder = tmp_path / "projects"
    edit.create_project(folder, "tale", THREE_SCENES, {"backend": "sketch", "candidates": 2}).close()
    proc, port = _start(folder)
    try:
        _read_until(proc, "ready")
        children = _children(proc.pid)
        assert len(children) == 2
    finally:
        proc.kill()  # kill -9 of the studio
        proc.wait()
        proc.stdout.close()
    _wait(lambda: not any(_alive(c) for c in children), timeout=30)  # its web server and worker went with it
    project = Project(folder / "tale")
    ids = queue_candidates(project, resolve(project, Options()))  # queued while no studio runs
    again, _ = _start(folder, port=port)  # its port is free again
    try:
        _read_until(again, "ready")
        _wait(lambda: all(j.state == "done" for j in q.jobs(project, ids)), timeout=120)  # the queue goes on
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(timeout=30)
        again.stdout.close()


def test_listening_beyond_this_machine_is_said_loudly(tmp_path):
    proc, port = _start(tmp_path / "projects", "--host", "0.0.0.0")
    try:
        said = _read_until(proc, "ready")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert "WARNING" in said and "0.0.0.0" in said and "anyone" in said


def test_a_port_in_use_is_one_line(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "storyreel.cli", "ui", str(tmp_path), "--port", str(port)],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "in use" in run.stderr and "--port" in run.stderr
