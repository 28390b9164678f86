"""The project store: schema by migrations, stable scene ids, kept picks and user words, atomic media."""

from __future__ import annotations

import sqlite3

import pytest

from storyreel import Project, update_story
from storyreel.errors import StoreError
from storyreel.pipeline import DEFAULTS

TALE = (
    "The old king ruled a quiet land by the sea for many years.\n\n"
    "His daughter Elsa loved the sea more than anything in the world.\n\n"
    "One day a storm came from the west and broke the royal ships."
)


ALL_MIGRATIONS = ["m001_initial", "m002_scene_cast", "m003_jobs", "m004_studio", "m005_story_versions"]


def _opts():
    return {**DEFAULTS, "scenes": None}


def test_migrations_make_the_schema_once(tmp_path):
    p = Project(tmp_path / "p")
    cols = {r[1] for r in p.db.execute("PRAGMA table_info(candidates)")}
    assert {"scene_id", "input_key", "media", "backend", "model", "seed", "steps", "guidance", "width", "height",
            "prompt", "negative"} <= cols  # fmt: skip
    mention_cols = {r[1] for r in p.db.execute("PRAGMA table_info(mentions)")}
    assert {"character_id", "start", "end", "text"} <= mention_cols
    assert p.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    p.close()
    p2 = Project(tmp_path / "p")  # opening again applies nothing twice
    assert [r[0] for r in p2.db.execute("SELECT name FROM _migrations")] == ALL_MIGRATIONS
    job_cols = {r[1] for r in p2.db.execute("PRAGMA table_info(jobs)")}
    assert {"kind", "target", "input_key", "batch", "state", "attempts", "worker", "heartbeat", "cancel",
            "error"} <= job_cols  # fmt: skip


def test_editing_the_story_does_not_move_a_pick(tmp_path):
    p = Project(tmp_path / "p")
    scenes, _ = update_story(p, TALE, _opts())
    storm = next(s for s in scenes if s.text.startswith("One day a storm"))
    cand = p.add_candidate(storm.id, "k1", 0, b"png-bytes", backend="sketch", model="sketch", seed=1, steps=1,
                           guidance=0.0, width=64, height=64, prompt="storm", negative="")  # fmt: skip
    p.pick(storm.id, cand.id, by="user")
    # a new first paragraph, and an edit inside the storm sentence
    edited = "Long ago, a fisherman sang songs on the shore every evening.\n\n" + TALE.replace(
        "broke the royal ships", "broke all the royal ships"
    )
    scenes2, _ = update_story(p, edited, _opts())
    assert len(scenes2) == 4
    storm2 = next(s for s in scenes2 if s.text.startswith("One day a storm"))
    assert storm2.id == storm.id and storm2.index == 3
    assert p.picks()[storm.id] == (cand.id, "user")
    assert len({s.id for s in scenes2}) == 4


def test_user_prompt_words_survive_reanalysis(tmp_path):
    p = Project(tmp_path / "p")
    _, chars = update_story(p, TALE, _opts())
    elsa = next(c for c in chars if c.name == "Elsa")
    p.update_character(elsa.id, prompt="red hair, blue dress")
    _, chars2 = update_story(p, TALE + "\n\nElsa watched the waves.", _opts())
    elsa2 = next(c for c in chars2 if c.id == elsa.id)
    assert elsa2.prompt == "red hair, blue dress" and elsa2.edited
    with pytest.raises(StoreError, match="no character"):
        p.update_character("nobody", prompt="x")


def test_media_is_content_addressed(tmp_path):
    p = Project(tmp_path / "p")
    a = p.media.put(b"hello", ".bin")
    assert a == p.media.put(b"hello", ".bin")
    assert p.media.path(a).read_bytes() == b"hello"
    assert not list(p.media.root.rglob(".tmp-*"))


def test_not_a_project_database(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "project.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="damaged .*storyreel repair"):
        Project(tmp_path / "p")
    assert (tmp_path / "p" / "project.db").read_bytes() == b"this is not sqlite" * 100  # never written over


def test_every_write_is_a_transaction(tmp_path):
    p = Project(tmp_path / "p")
    with pytest.raises(RuntimeError), p.tx() as db:
        db.execute("INSERT INTO settings (key, value) VALUES ('a', '1')")
        raise RuntimeError("killed midway")
    assert p.settings() == {}
    other = sqlite3.connect(tmp_path / "p" / "project.db")
    assert other.execute("SELECT COUNT(*) FROM settings").fetchone()[0] == 0


def test_the_user_decides_who_is_in_a_scene(tmp_path):
    text = (
        "The king's daughter walked alone in the old garden by the sea.\n\n"
        "The king watched her from the high tower of the castle."
    )
    p = Project(tmp_path / "p")
    scenes, chars = update_story(p, text, _opts())
    king = next(c for c in chars if c.name.lower().endswith("king"))
    first = scenes[0]
    assert king.id not in first.characters  # only the daughter's father, in passing
    p.set_cast(first.id, king.id, True)
    assert king.id in p.scene(1).characters
    # the user's say survives an edit of the story
    update_story(p, text.replace("old garden", "old rose garden"), _opts())
    assert king.id in p.scene(1).characters
    p.set_cast(first.id, king.id, False)
    assert king.id not in p.scene(1).characters
    with pytest.raises(StoreError, match="no character"):
        p.set_cast(first.id, "nobody", True)
    assert [r[0] for r in p.db.execute("SELECT name FROM _migrations")] == ALL_MIGRATIONS
