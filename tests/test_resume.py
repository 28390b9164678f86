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


def _rows(db_path, sql: str) -> list:
    try:
        with sqlite3.connect(db_path, timeout=5) as db:
            return db.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []


def _kill_when(cmd: list[str], ready, timeout: float = 300) -> None:
    """Run a storyreel command and SIGKILL it (and its process group) as soon as ``ready()``."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the command ended before the moment to kill it"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


LONGER = "\n".join(f"Scene {i}: the fox ran along the river bank and the crow watched from the old oak tree."
                   for i in range(1, 9))  # fmt: skip


def test_a_render_killed_while_narrating_or_encoding_keeps_the_old_video_and_what_was_spoken(tmp_path):
    story = tmp_path / "fox.md"
    story.write_text(LONGER, encoding="utf-8")
    project, out = tmp_path / "fox", tmp_path / "fox.mp4"
    assert run_cli("make", story, "-o", out, "--project", project, "--backend", "sketch", "--speed", "450").code == 0
    old_video = out.read_bytes()
    db = project / "project.db"
    spoken = dict(_rows(db, "SELECT scene_id, media FROM narrations"))
    assert len(spoken) == 8

    # another voice: every scene is spoken again; killed when some, not all, are spoken
    render = [sys.executable, "-m", "storyreel.cli", "render", str(project), "-o", str(out), "--voice", "en-gb"]
    _kill_when(render, lambda: 2 <= len(_rows(db, "SELECT 1 FROM narrations")) - 8 < 8)
    kept = {r[0]: r[1] for r in _rows(db, "SELECT input_key, media FROM narrations")}
    assert 10 <= len(kept) < 16
    assert out.read_bytes() == old_video  # the video there stays whole until a new one is
    assert _rows(db, "PRAGMA integrity_check") == [("ok",)]

    # killed again while encoding: the spoken scenes are kept, the old video still whole
    _kill_when(render, lambda: any(p.stat().st_size > 20_000 for p in project.glob(".render-*/video.mp4")))
    assert out.read_bytes() == old_video
    after = {r[0]: r[1] for r in _rows(db, "SELECT input_key, media FROM narrations")}
    assert len(after) == 16 and all(after[k] == v for k, v in kept.items())  # nothing spoken was spoken again

    done = run_cli("render", project, "-o", out, "--voice", "en-gb")
    assert done.code == 0, done.stderr
    assert out.read_bytes() != old_video and not list(project.glob(".render-*"))  # the killed renders' work is gone
    final = {r[0]: r[1] for r in _rows(db, "SELECT input_key, media FROM narrations")}
    assert final == after  # nothing spoken again


def test_a_make_killed_midway_goes_on_where_it_stopped(tmp_path, tiny_model):
    story = tmp_path / "fox.md"
    story.write_text("\n".join(LONGER.splitlines()[:5]), encoding="utf-8")
    project, out = tmp_path / "fox", tmp_path / "fox.mp4"
    args = ["make", str(story), "-o", str(out), "--project", str(project), "--model", str(tiny_model), "--steps",
            "3", "--size", "64x112", "--candidates", "4", "--seed", "5", "--speed", "450"]  # fmt: skip
    db = project / "project.db"
    # 20 candidates: two batches (a batch spans scenes, at most 16 pictures on a CPU)
    _kill_when([sys.executable, "-m", "storyreel.cli", *args], lambda: 2 <= _count(db) < 20)
    before = dict(_rows(db, "SELECT id, input_key FROM candidates"))
    assert 2 <= len(before) < 20 and not out.exists()
    again = run_cli(*args)
    assert again.code == 0, again.stderr
    rows = dict(_rows(db, "SELECT id, input_key FROM candidates"))
    assert len(rows) == 20 and all(rows[k] == v for k, v in before.items())  # what was made before is kept
    assert out.exists() and out.with_suffix(".srt").exists()
