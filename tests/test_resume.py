"""Kill generation midway, run it again: only the missing candidates are made, and no pick is lost."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import run_cli


def _count(db_path) -> int:
    try:
        with sqlite3.connect(db_path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM candidates").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_generation_resumes_without_redoing(tmp_path, tiny_model, story_file):
    project = tmp_path / "proj"
    # the smallest size the other tiny-model tests use: a scene's batch of 5 still takes far longer than the 5 ms
    # between two looks at the database below, so the kill still lands midway
    common = ["--model", str(tiny_model), "--steps", "3", "--size", "64x112", "--seed", "11"]
    assert run_cli("new", story_file, "--project", project).code == 0
    first = run_cli("generate", project, "--candidates", "1", *common)
    assert first.code == 0, first.stderr
    assert run_cli("pick", project, "2", "1").code == 0
    db_path = project / "project.db"
    with sqlite3.connect(db_path) as db:
        picked = db.execute("SELECT scene_id, candidate_id, by FROM picks").fetchall()
    assert len(picked) == 1 and picked[0][2] == "user"

    # ask for 6 candidates per scene (15 more), and kill the process once some, not all, are stored
    cmd = [sys.executable, "-m", "storyreel.cli", "generate", str(project), "--candidates", "6", *common]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while _count(db_path) <= 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    after_kill = _count(db_path)
    assert 3 < after_kill < 18, f"the kill was not midway ({after_kill} of 18 stored)"
    with sqlite3.connect(db_path) as db:
        before = dict(db.execute("SELECT id, input_key FROM candidates").fetchall())
        assert db.execute("SELECT scene_id, candidate_id, by FROM picks").fetchall() == picked
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    again = run_cli("generate", project, "--candidates", "6", *common)
    assert again.code == 0, again.stderr
    made = int(re.search(r"made (\d+) candidates", again.stderr).group(1))
    assert made == 18 - after_kill
    with sqlite3.connect(db_path) as db:
        rows = dict(db.execute("SELECT id, input_key FROM candidates").fetchall())
        assert db.execute("SELECT scene_id, candidate_id, by FROM picks").fetchall() == picked
        per_scene = db.execute(
            "SELECT scene_id, COUNT(*), COUNT(DISTINCT seed) FROM candidates GROUP BY scene_id"
        ).fetchall()
    assert len(rows) == 18
    assert all(rows[k] == v for k, v in before.items())  # nothing made before the kill was made again
    assert all(n == 6 and seeds == 6 for _, n, seeds in per_scene)

    # and a third run has nothing left to do
    third = run_cli("generate", project, "--candidates", "6", *common)
    assert "made 0 candidates" in third.stderr
