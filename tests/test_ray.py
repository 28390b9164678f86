"""--executor ray: a story's candidates made by the actors of a real local Ray cluster, one of them killed mid-batch."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

pytest.importorskip("ray")
RAY = str(Path(sys.executable).parent / "ray")
COMMON = ["--steps", "40", "--size", "64x112", "--candidates", "4", "--seed", "5"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Ray cluster of this machine, started as a user starts one (`ray start --head`), with token authentication:
    its token in a home of its own, so the user's ~/.ray is neither read nor written."""
    home = tmp_path_factory.mktemp("ray-home")
    env = {**os.environ, "HOME": str(home), "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run([RAY, "get-auth-token", "--generate"], env=env, capture_output=True, check=True, timeout=120)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = [RAY, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
             "--disable-usage-stats"]  # fmt: skip
    done = subprocess.run(start, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=300)


def _makers(busy: bool) -> list[int]:
    """The pids of the cluster's image actors (Ray names an actor's process after its class and its task)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace").strip()
        except OSError:
            continue
        if title.startswith("ray::Maker") and (not busy or title.startswith("ray::Maker.make")):
            found.append(int(entry.name))
    return found


def _pictures(project: Path) -> dict[tuple[int, int], np.ndarray]:
    with sqlite3.connect(project / "project.db") as db:
        rows = db.execute("SELECT s.position, c.seed, c.media FROM candidates c JOIN scenes s ON s.id = c.scene_id")
        return {(pos, seed): np.asarray(Image.open(next((project / "media").rglob(media))).convert("RGB"), dtype=int)
                for pos, seed, media in rows}  # fmt: skip


def test_an_actor_killed_mid_batch_has_its_batch_made_by_another(tmp_path, tiny_model, story_file, cluster):
    address, env = cluster
    project, here = tmp_path / "on-ray", tmp_path / "here"
    assert run_cli("new", story_file, "--project", project).code == 0
    shutil.copytree(project, here)  # the same story, scenes and characters, to make in this process below
    cmd = [sys.executable, "-m", "storyreel.cli", "generate", str(project), "--model", str(tiny_model), *COMMON,
           "--executor", "ray", "--ray-address", address, "--ray-actors", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.time() + 240
    while killed is None and proc.poll() is None and time.time() < deadline:
        busy = _makers(busy=True)
        if busy:
            killed = busy[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    out, err = proc.communicate(timeout=300)
    assert killed is not None, "no actor was ever seen making a batch"
    assert proc.returncode == 0, err[-3000:]
    assert "Ray: 2 CPU actors" in err
    assert "a Ray actor died mid-batch" in err and "go to another" in err
    assert "made 12 candidates" in err

    with sqlite3.connect(project / "project.db") as db:
        jobs = db.execute("SELECT state, attempts FROM jobs").fetchall()
        stored = db.execute("SELECT COUNT(*), COUNT(DISTINCT scene_id || ':' || input_key) FROM candidates").fetchone()
        files = db.execute("SELECT COUNT(DISTINCT media) FROM candidates").fetchone()[0]
    assert stored == (12, 12) and files == 12  # every image made once: the killed batch's images stored only once
    assert all(state == "done" for state, _ in jobs) and len(jobs) == 12
    assert sorted(a for _, a in jobs).count(2) == 4  # the killed actor's batch (a scene's 4) was made a second time
    assert killed not in _makers(busy=False)

    # the pictures are those this process makes with the same seeds (to a level: one torch thread in an actor, two here)
    assert run_cli("generate", here, "--model", tiny_model, *COMMON).code == 0
    on_ray, made_here = _pictures(project), _pictures(here)
    assert sorted(on_ray) == sorted(made_here) and len(on_ray) == 12
    for key, picture in on_ray.items():
        assert np.abs(picture - made_here[key]).max() <= 2, key
    first, second = list(on_ray.values())[:2]
    assert np.abs(first - second).mean() > 10  # (and two seeds do make different pictures)

    # the run's actors end with it: none is left holding a model
    deadline = time.time() + 30
    while _makers(busy=False) and time.time() < deadline:
        time.sleep(0.5)
    assert not _makers(busy=False)


def test_executor_mistakes_are_one_line(tmp_path, story_file):
    project = tmp_path / "p"
    assert run_cli("new", story_file, "--project", project).code == 0
    wrong = run_cli("generate", project, "--backend", "sketch", "--executor", "rays")
    assert wrong.code != 0 and "--executor 'rays' is not one of inprocess, ray" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    none = run_cli("generate", project, "--backend", "sketch", "--executor", "ray", "--ray-actors", "0")
    assert none.code != 0 and "--ray-actors 0: give at least 1" in none.stderr
