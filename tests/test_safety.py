"""Nothing lost, nothing misleading: typos, inputs that must not be overwritten, another story, a damaged
database, missing media, two processes, Ctrl-C and absurd sizes, each run through the CLI as a user runs it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import parse_srt, run_cli

from storyreel.store.db import Project

KING = """The old king lived in a tall castle by the sea.

Every morning he walked along the shore with his grey dog.

One day the dog found a golden key buried in the sand.
"""
ROBOT = """A little robot woke up in an empty factory.

It rolled outside and saw the stars for the first time.

Then it decided to build a rocket from old parts.
"""


def _error(run, *words):
    """One line that starts with "error:" and says what to do; a non-zero exit; no traceback."""
    assert run.code != 0, run.stderr
    assert "Traceback" not in run.stderr
    bar = re.compile(r"\d+% \d+:\d\d:\d\d$")  # the progress bars of the steps before
    lines = [ln for ln in run.stderr.strip().splitlines() if ln.strip() and not bar.search(ln.strip())]
    assert len(lines) == 1 and lines[0].startswith("error:"), run.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def _ok(run):
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    return run


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _dump(project: Path) -> str:
    import sqlite3

    db = sqlite3.connect(project / "project.db")
    try:
        return "\n".join(db.iterdump())
    finally:
        db.close()


@pytest.fixture
def king(tmp_path) -> Path:
    path = tmp_path / "king.md"
    path.write_text(KING, encoding="utf-8")
    return path


@pytest.fixture
def short_king(tmp_path) -> Path:
    """The king's first sentence alone: for makes whose story's length is no part of what is checked (a render
    takes about as long as the narration)."""
    path = tmp_path / "short.md"
    path.write_text(KING.split("\n\n")[0] + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def _made_once(tmp_path_factory) -> Path:
    """The king's story made once for this module (a make with its render takes a while): king.md, king.mp4,
    king.srt and king.storyreel. Tests get a copy each (``made``), never this folder."""
    folder = tmp_path_factory.mktemp("made")
    story = folder / "king.md"
    story.write_text(KING, encoding="utf-8")
    _ok(run_cli("make", story, "-o", folder / "king.mp4", "--backend", "sketch", "--candidates", "2",
                env={"HF_HOME": str(folder / "hf-home")}))  # fmt: skip
    return folder


@pytest.fixture
def made(tmp_path, king, _made_once) -> Path:
    """A project made once, its video rendered: a copy of the module's make, as if `storyreel make king.md -o
    king.mp4 --backend sketch --candidates 2` had run in this test's folder."""
    import shutil
    import sqlite3

    for name in ("king.mp4", "king.srt"):
        shutil.copy2(_made_once / name, tmp_path / name)
    project = tmp_path / "king.storyreel"
    shutil.copytree(_made_once / "king.storyreel", project)
    # the one absolute path a make records: where it published the video; here, this folder's king.mp4
    db = sqlite3.connect(project / "project.db")
    try:
        with db:
            assert db.execute("UPDATE renders SET output = ?", (str((tmp_path / "king.mp4").resolve()),)).rowcount == 1
    finally:
        db.close()
    return project


BAD = [
    (["--voice", "nosuch"], "nosuch"),
    (["--speed", "0"], "--speed"),
    (["--tts", "x"], "unknown tts engine"),
    (["--music", "missing.mp3"], "not found"),
    (["--size", "banana"], "--size"),
    (["--scenes", "-3"], "--scenes"),
    (["--backend", "diffusers", "--model", "./nowhere"], "./nowhere"),
    (["--language", "xx"], "xx"),
]


def test_a_typo_is_never_remembered(tmp_path, cli, king, made):
    before = Project(made).settings()
    for args, words in BAD:
        _error(cli("make", king, "-o", tmp_path / "king.mp4", *args), words)
    assert Project(made).settings() == before  # nothing of the typos was stored
    _ok(cli("render", made, "-o", tmp_path / "again.mp4"))  # a plain render works as before
    _ok(cli("make", king, "-o", tmp_path / "king.mp4"))


@pytest.mark.parametrize(("args", "words"), [*BAD[:3], *BAD[4:6], (["--scenes", "50"], "too few for 50 scenes")])
def test_a_failed_first_make_leaves_no_project(tmp_path, cli, king, args, words):
    _error(cli("make", king, "-o", tmp_path / "out.mp4", "--backend", "sketch", *args), words)
    assert not (tmp_path / "out.storyreel").exists() and not (tmp_path / "out.mp4").exists()


def test_a_failed_first_make_keeps_the_users_folders(tmp_path, cli, king):
    empty = tmp_path / "empty"
    empty.mkdir()
    _error(cli("make", king, "-o", tmp_path / "out.mp4", "-p", empty, "--scenes", "50", "--backend", "sketch"),
           "too few")  # fmt: skip
    assert empty.is_dir() and not list(empty.iterdir())  # the folder the user made stays, empty as it was
    photos = tmp_path / "photos"
    (photos / "media").mkdir(parents=True)
    (photos / "media" / "holiday.jpg").write_bytes(b"a photo")
    _error(cli("new", king, "-p", photos, "--scenes", "50"), "not a storyreel project")
    assert (photos / "media" / "holiday.jpg").read_bytes() == b"a photo"
    assert sorted(p.name for p in photos.iterdir()) == ["media"]


def test_the_story_is_never_written_over(tmp_path, cli, king):
    story = tmp_path / "story.srt"
    story.write_text(KING, encoding="utf-8")
    _error(cli("make", story, "-o", tmp_path / "story.mp4", "--backend", "sketch"), "story being read")
    assert story.read_text(encoding="utf-8") == KING
    _error(cli("make", story, "-o", tmp_path / "story.mp4", "--backend", "sketch", "--force"), "story being read")
    assert story.read_text(encoding="utf-8") == KING and not (tmp_path / "story.storyreel").exists()


def test_a_file_storyreel_did_not_write_needs_force(tmp_path, cli, short_king):
    mine = tmp_path / "holiday.mp4"
    mine.write_bytes(b"my own video, not made by storyreel")
    subs = tmp_path / "talk.srt"
    subs.write_text("1\n00:00:00,000 --> 00:00:01,000\nmy own subtitles\n", encoding="utf-8")
    _error(cli("make", short_king, "-o", mine, "--backend", "sketch"), "holiday.mp4", "--force")
    _error(cli("make", short_king, "-o", tmp_path / "talk.mp4", "--backend", "sketch"), "talk.srt", "--force")
    assert mine.read_bytes() == b"my own video, not made by storyreel"
    assert "my own subtitles" in subs.read_text(encoding="utf-8")
    # storyreel's own video is written again without a word; --force replaces the user's file
    _ok(cli("make", short_king, "-o", tmp_path / "talk.mp4", "--backend", "sketch", "--force"))
    assert "my own subtitles" not in subs.read_text(encoding="utf-8")
    _ok(cli("make", short_king, "-o", tmp_path / "talk.mp4", "--motion", "0.5"))


def test_another_story_asks_for_replace_and_going_back_brings_the_work_back(tmp_path, cli, king, made):
    robot = tmp_path / "robot.md"
    robot.write_text(ROBOT, encoding="utf-8")
    # an edit of the same story is no replacement
    king.write_text(KING.replace("golden key", "silver key"), encoding="utf-8")
    _ok(cli("new", king, "-p", made))
    _ok(cli("pick", made, "1", "2"))
    _ok(cli("prompt", made, "2", "a grey dog digging on a beach"))
    _ok(cli("cast", made, "3", "--remove", Project(made).scenes()[2].characters[0]))
    before = {s.index: (s.id, s.visual, s.characters) for s in Project(made).scenes()}
    picks = Project(made).picks()
    db = _dump(made)
    _error(cli("make", robot, "-o", tmp_path / "king.mp4", "-p", made), "another story", "--replace")
    _error(cli("new", robot, "-p", made), "another story", "--replace")
    assert _dump(made) == db  # not a row changed
    _ok(cli("new", robot, "-p", made, "--replace"))
    assert "robot" in Project(made).scenes()[0].text
    _ok(cli("new", king, "-p", made, "--replace"))
    after = Project(made)
    assert {s.index: (s.id, s.visual, s.characters) for s in after.scenes()} == before
    assert after.picks()[before[0][0]] == picks[before[0][0]]  # the picked candidate 2 is back
    assert KING in [v["text"] for v in after.story_versions()]  # every earlier story is kept


def test_a_damaged_database_says_so_and_is_repaired(tmp_path, cli, king, made):
    media = _files(made / "media")
    (made / "project.db").write_bytes(b"")
    for run in (cli("render", made, "-o", tmp_path / "x.mp4"), cli("generate", made),
                cli("make", king, "-o", tmp_path / "king.mp4"), cli("new", king, "-p", made)):
        _error(run, "damaged", "storyreel repair")
    assert (made / "project.db").stat().st_size == 0  # never written over
    assert _files(made / "media") == media
    run = _ok(cli("repair", made))
    assert "the story was lost" in run.stderr and "--story" in run.stderr
    assert list(made.glob("project.db.damaged-*"))  # the damaged file is kept
    run = _ok(cli("repair", made, "--story", king))
    assert "6 pictures linked back" in run.stderr, run.stderr
    run = _ok(cli("render", made, "-o", tmp_path / "again.mp4"))
    assert "Generating images" not in run.stderr  # the pictures were found, not made again
    assert _files(made / "media").keys() >= media.keys()


def test_a_database_deleted_while_media_remain_is_not_a_new_project(tmp_path, cli, king, made):
    (made / "project.db").unlink()
    _error(cli("make", king, "-o", tmp_path / "king.mp4"), "damaged", "missing", "storyreel repair")
    assert not (made / "project.db").exists()


def test_missing_media_are_made_again_by_the_command_that_needs_them(tmp_path, cli, made):
    project = Project(made)
    first = project.scenes()[0]
    picked = project.candidate(project.picks()[first.id][0])
    project.media.path(picked.media).unlink()
    wav = project.db.execute("SELECT media FROM narrations LIMIT 1").fetchone()[0]
    project.media.path(wav).unlink()
    run = _ok(cli("render", made, "-o", tmp_path / "again.mp4"))
    assert "missing" in run.stderr and "making them again" in run.stderr
    again = Project(made)
    assert again.picks()[first.id][0] == picked.id  # the same pick, its picture made again
    assert again.media.path(again.candidate(picked.id).media).exists()
    # generate --scene remakes a deleted candidate too
    row = again.candidates(first.id)[0]
    again.media.path(row.media).unlink()
    run = _ok(cli("generate", made, "--scene", "1"))
    assert "made 1 candidates" in run.stderr, run.stderr  # that one only
    assert Project(made).media.path(Project(made).candidate(row.id).media).exists()


def _start(*args: str | Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "storyreel.cli", *map(str, args)], env=env, text=True,
                            stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip


def test_a_second_render_waits_for_the_first(tmp_path, made):
    first = _start("render", made, "-o", tmp_path / "one.mp4", "--motion", "0.4")
    time.sleep(2.0)
    second = _start("render", made, "-o", tmp_path / "two.mp4", "--motion", "0.4")
    err1, err2 = first.communicate(timeout=300)[1], second.communicate(timeout=300)[1]
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert "another render" in err2 and "waiting" in err2
    assert (tmp_path / "one.mp4").stat().st_size > 0 and (tmp_path / "two.mp4").stat().st_size > 0


@pytest.mark.parametrize("delay", [2.5, 5.0])  # while narrating, while encoding
def test_ctrl_c_during_render_is_one_clean_line(tmp_path, made, delay):
    run = _start("render", made, "-o", tmp_path / "stopped.mp4", "--motion", "1.7")
    time.sleep(delay)
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    err = run.communicate(timeout=60)[1]
    assert run.returncode == 130, err
    lines = [ln for ln in err.splitlines() if ln.strip() and "━" not in ln and not ln.startswith("note:")]
    assert lines[-1].startswith("stopped;"), err
    assert "terminate called" not in err and "Traceback" not in err
    assert not list(made.glob(".render-*"))  # no work folder left
    assert not (tmp_path / "stopped.mp4").exists()


def test_work_folders_of_a_killed_render_are_swept(tmp_path, cli, made):
    leftover = made / ".render-killed"
    leftover.mkdir()
    (leftover / "frames.raw").write_bytes(b"x" * 1000)
    _ok(cli("render", made, "-o", tmp_path / "again.mp4"))
    assert not leftover.exists()


def test_absurd_sizes_ask_for_yes(tmp_path, cli, king):
    long = tmp_path / "long.txt"
    long.write_text(" ".join(f"The traveller walked on through valley number {i}." for i in range(1200)))
    line = _error(cli("make", long, "-o", tmp_path / "long.mp4", "--backend", "sketch"), "--yes")
    assert "a video of about 59 min (61,289 characters, ~889 scenes)" in line  # how long, said in minutes
    _error(cli("make", king, "-o", tmp_path / "k.mp4", "--backend", "sketch", "--candidates", "1000"),
           "--candidates 1000", "--yes")  # fmt: skip
    one = tmp_path / "one.txt"
    one.write_text("The dog ran " + "and ran " * 400 + "home.")
    _error(cli("make", one, "-o", tmp_path / "one.mp4", "--backend", "sketch"), "scene 1", "--yes")
    assert not (tmp_path / "long.storyreel").exists() and not (tmp_path / "k.storyreel").exists()


def test_small_pictures_are_upscaled_with_a_note(tmp_path, cli, short_king):
    run = _ok(cli("make", short_king, "-o", tmp_path / "small.mp4", "--backend", "sketch", "--size", "256x448"))
    assert "upscaled" in run.stderr and "--size" in run.stderr


def test_generate_defaults_to_auto_and_render_advice_names_its_own_options(tmp_path, cli, king):
    _ok(cli("new", king, "-p", tmp_path / "p"))
    run = _ok(cli("generate", tmp_path / "p"))  # no model here: auto takes the sketch backend and says why
    assert "backend auto: using sketch" in run.stderr
    help_text = cli("render", "--help").stdout
    for option in ("--backend", "--model", "--force"):
        assert option in help_text


def test_help_shows_every_default(cli):
    text = cli("make", "--help").stdout
    text = " ".join(text.replace("│", " ").split())
    for default in ("(default: auto)", "(default: 1)", "(default: 9:16)", "(default: espeak)", "(default: 0.3)",
                    "(default: rules)", "(default: 165)"):  # fmt: skip
        assert default in text, default


def test_the_characters_table_never_cuts_an_id(tmp_path, cli, king):
    import json

    ids = [c["id"] for c in json.loads(cli("characters", king, "--json").stdout)["characters"]]
    run = subprocess.run([sys.executable, "-m", "storyreel.cli", "characters", str(king)], capture_output=True,
                         text=True, env={**os.environ, "COLUMNS": "40"})  # fmt: skip
    first_column = {ln.split("│")[1].strip() for ln in run.stdout.splitlines() if ln.count("│") > 2}
    assert ids and set(ids) <= first_column, run.stdout


def test_srt_cues_are_short_and_timed(tmp_path, made):
    cues = parse_srt((made.parent / "king.srt").read_text(encoding="utf-8"))
    assert len(cues) > 3
    assert all(len(text.split()) <= 6 for _, _, text in cues)
    assert all(a < b for a, b, _ in cues) and all(cues[i][1] <= cues[i + 1][0] + 1e-3 for i in range(len(cues) - 1))
