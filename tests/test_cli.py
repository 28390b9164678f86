"""Bad input: one line on stderr that says what to do, a non-zero exit, no traceback, nothing made lost."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from storyreel.stages.story import MAX_STORY_CHARS


def _one_line_error(run, *words):
    assert run.code != 0
    assert "Traceback" not in run.stderr
    lines = [ln for ln in run.stderr.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], run.stderr  # progress bars of finished steps may precede it
    for w in words:
        assert w in errors[0], errors[0]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ["is empty"]),
        (b"  \n \n", ["is empty"]),
        (b"\x00\x01\x02binary\xff\xfe", ["binary"]),
        (b"a" * (MAX_STORY_CHARS + 1), ["split it into parts"]),
    ],
)
def test_bad_story_files(tmp_path, cli, content, words):
    story = tmp_path / "story.txt"
    story.write_bytes(content)
    _one_line_error(cli("make", story, "-o", tmp_path / "o.mp4", "--backend", "sketch"), *words)
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "o.storyreel").exists()


def test_missing_story_file(tmp_path, cli):
    _one_line_error(cli("make", tmp_path / "nope.txt", "-o", tmp_path / "o.mp4"), "not found")


def test_model_not_found_names_the_way_out(tmp_path, cli, story_file):
    run = cli("make", story_file, "-o", tmp_path / "o.mp4", "--model", "someone/missing-model")
    _one_line_error(run, "someone/missing-model", "storyreel models pull", "--backend sketch")
    run = cli("make", story_file, "-o", tmp_path / "o.mp4", "--model", tmp_path / "no-such-folder")
    _one_line_error(run, "not found", "--backend sketch")


def test_music_that_is_not_audio(tmp_path, cli, story_file):
    fake = tmp_path / "song.mp3"
    fake.write_text("this is not music")
    _one_line_error(cli("make", story_file, "-o", tmp_path / "o.mp4", "--backend", "sketch", "--music", fake),
                    "not an audio file")  # fmt: skip


def test_output_folder_that_cannot_be_written(tmp_path, cli, story_file):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    _one_line_error(cli("make", story_file, "-o", blocker / "o.mp4", "--backend", "sketch"), "cannot write")


def test_bad_options(tmp_path, cli, story_file):
    _one_line_error(cli("make", story_file, "-o", tmp_path / "o.mp4", "--aspect", "4:3"), "--aspect")
    _one_line_error(cli("make", story_file, "-o", tmp_path / "o.mp4", "--backend", "sketch", "--size", "big"), "--size")
    _one_line_error(cli("make", story_file, "-o", tmp_path / "o.mp4", "--backend", "nope"), "unknown image backend")
    _one_line_error(cli("make", story_file, "-o", tmp_path / "o.mp4", "--scenes", "99", "--backend", "sketch"),
                    "too few for 99 scenes")  # fmt: skip
    _one_line_error(cli("worker", tmp_path, "--batch", "0"), "--batch 0")


def test_full_disk_keeps_what_was_made(tmp_path, cli, story_file):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        project = disk / "proj"
        run = cli("make", story_file, "-o", tmp_path / "o.mp4", "--project", project, "--backend", "sketch")
        _one_line_error(run, "disk is full")
        # what was finished before the disk filled up is still there, and the database is sound
        saved = Path(tmp_path / "saved")
        shutil.copytree(project, saved)
    finally:
        subprocess.run(["umount", str(disk)], check=False)
    import sqlite3

    db = sqlite3.connect(saved / "project.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM scenes").fetchone()[0] == 3


def test_pick_and_stage_commands(tmp_path, cli, story_file):
    project = tmp_path / "proj"
    assert cli("new", story_file, "--project", project).code == 0
    run = cli("generate", project, "--backend", "sketch", "--candidates", "2")
    assert run.code == 0, run.stderr
    _one_line_error(cli("pick", project, "2", "5"), "from 1 to 2")
    _one_line_error(cli("pick", project, "9", "1"), "no scene")
    assert cli("pick", project, "2", "2").code == 0
    run = cli("render", project, "-o", tmp_path / "v.mp4")
    assert run.code == 0, run.stderr
    assert (tmp_path / "v.mp4").stat().st_size > 10_000
    # the same render again is reused, not re-encoded
    again = cli("render", project, "-o", tmp_path / "v2.mp4")
    assert again.code == 0 and (tmp_path / "v2.mp4").read_bytes() == (tmp_path / "v.mp4").read_bytes()
    run = cli("characters", project, "--set", "siegfried=grey hair, silver armor")
    assert run.code == 0, run.stderr
    _one_line_error(cli("characters", project, "--set", "nobody=x"), "no character")
    run = cli("cast", project, "1", "--add", "fafnir")
    assert run.code == 0 and "Fafnir" in run.stderr, run.stderr
    _one_line_error(cli("cast", project, "1", "--add", "nobody"), "no character")
    run = cli("prompt", project, "1", "a knight on a white horse at dawn")
    assert run.code == 0 and run.stdout.strip().endswith("a knight on a white horse at dawn"), run.stdout
    assert "grey hair, silver armor" in run.stdout  # the character's words stay ahead of the new description
    # new candidates only where the prompt changed: scene 1 (new description) and scene 3 (Siegfried's new words)
    again = cli("generate", project)
    assert again.code == 0 and "made 4 candidates" in again.stderr, again.stderr
    _one_line_error(cli("prompt", project, "1"), "--reset")
    _one_line_error(cli("generate", tmp_path / "empty"), "not a storyreel project")


def test_output_files_are_readable_by_others_as_the_users_umask_allows(tmp_path, cli):
    """A video is for sharing: readable by others under the usual umask 022, and private under 077, as every other
    file the user makes (the command runs in a fresh process, which takes the umask set here)."""
    import os

    story = tmp_path / "story.txt"  # one short sentence: the files' mode does not depend on the video's length
    story.write_text("Prince Siegfried rode out of the city at dawn.\n", encoding="utf-8")
    for umask, mode in ((0o022, 0o644), (0o077, 0o600)):
        out = tmp_path / f"v{umask:o}.mp4"
        before = os.umask(umask)
        try:
            assert cli("make", story, "-o", out, "--backend", "sketch", "--scenes", "1").code == 0
        finally:
            os.umask(before)
        assert out.stat().st_mode & 0o777 == mode, oct(out.stat().st_mode)
        assert out.with_suffix(".srt").stat().st_mode & 0o777 == mode
