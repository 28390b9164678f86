"""The project schema, as append-only named migrations; each runs once, in order, recorded in _migrations."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE story (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            text TEXT NOT NULL, sha256 TEXT NOT NULL, form TEXT NOT NULL, updated_at REAL NOT NULL
        );
        CREATE TABLE scenes (
            id TEXT PRIMARY KEY, position INTEGER, start INTEGER NOT NULL, end INTEGER NOT NULL,
            text TEXT NOT NULL, visual TEXT NOT NULL, speaker TEXT, prompt_override TEXT,
            active INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE characters (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, prompt TEXT NOT NULL DEFAULT '',
            negative TEXT NOT NULL DEFAULT '', gender TEXT, number TEXT NOT NULL DEFAULT 'sg',
            edited INTEGER NOT NULL DEFAULT 0, position INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE mentions (
            character_id TEXT NOT NULL REFERENCES characters(id) ON DELETE CASCADE,
            start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, type TEXT NOT NULL,
            passing INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX mentions_character ON mentions(character_id);
        CREATE TABLE scene_characters (
            scene_id TEXT NOT NULL REFERENCES scenes(id) ON DELETE CASCADE,
            character_id TEXT NOT NULL, position INTEGER NOT NULL,
            PRIMARY KEY (scene_id, character_id)
        );
        CREATE TABLE candidates (
            id INTEGER PRIMARY KEY, scene_id TEXT NOT NULL, input_key TEXT NOT NULL, slot INTEGER NOT NULL,
            media TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL, seed INTEGER NOT NULL,
            steps INTEGER NOT NULL, guidance REAL NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
            prompt TEXT NOT NULL, negative TEXT NOT NULL, created_at REAL NOT NULL,
            UNIQUE (scene_id, input_key)
        );
        CREATE TABLE picks (
            scene_id TEXT PRIMARY KEY, candidate_id INTEGER NOT NULL REFERENCES candidates(id),
            by TEXT NOT NULL, picked_at REAL NOT NULL
        );
        CREATE TABLE narrations (
            scene_id TEXT NOT NULL, input_key TEXT NOT NULL, media TEXT NOT NULL, duration REAL NOT NULL,
            words TEXT NOT NULL, engine TEXT NOT NULL, voice TEXT NOT NULL, created_at REAL NOT NULL,
            PRIMARY KEY (scene_id, input_key)
        );
        CREATE TABLE renders (
            id INTEGER PRIMARY KEY, input_key TEXT NOT NULL, media TEXT NOT NULL, srt_media TEXT NOT NULL,
            output TEXT NOT NULL, settings TEXT NOT NULL, duration REAL NOT NULL, created_at REAL NOT NULL
        );
        """
    )


@migration
def m002_scene_cast(db: sqlite3.Connection) -> None:
    """The user's own say on who is in a scene: add a character the text only mentions in passing, or remove one."""
    db.executescript(
        """
        CREATE TABLE scene_cast (
            scene_id TEXT NOT NULL REFERENCES scenes(id) ON DELETE CASCADE,
            character_id TEXT NOT NULL,
            included INTEGER NOT NULL,
            PRIMARY KEY (scene_id, character_id)
        );
        """
    )


@migration
def m003_jobs(db: sqlite3.Connection) -> None:
    """The job queue: every image or render to make is a row, keyed by the key its output is stored under."""
    db.executescript(
        """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                      -- candidate | portrait | render
            target TEXT NOT NULL,                    -- a scene id, a character id, or '@video'
            input_key TEXT NOT NULL,                 -- the key its output is stored under
            batch TEXT NOT NULL,                     -- jobs of one batch run in one backend call
            slot INTEGER NOT NULL DEFAULT 0,
            spec TEXT NOT NULL,                      -- JSON: what to make, and with what
            state TEXT NOT NULL DEFAULT 'queued',    -- queued | running | done | failed | cancelled
            priority INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            worker TEXT, heartbeat REAL,
            progress REAL NOT NULL DEFAULT 0,
            cancel INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created_at REAL NOT NULL, started_at REAL, finished_at REAL,
            UNIQUE (kind, target, input_key)
        );
        CREATE INDEX jobs_state ON jobs(state, priority, id);
        CREATE INDEX jobs_batch ON jobs(batch, state);
        """
    )


@migration
def m004_studio(db: sqlite3.Connection) -> None:
    """What the studio lets a person change: locked scenes and extra candidates, scene merges and splits,
    character edits (merge, move, drop, add), portraits and a character's reference picture."""
    db.executescript(
        """
        ALTER TABLE scenes ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE scenes ADD COLUMN extra INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE characters ADD COLUMN seed INTEGER;
        ALTER TABLE characters ADD COLUMN reference TEXT;
        CREATE TABLE scene_breaks (
            anchor TEXT PRIMARY KEY,                 -- the start of the sentence the break is before
            kind TEXT NOT NULL                       -- cut (a scene starts here) | join (it does not)
        );
        CREATE TABLE character_edits (
            id INTEGER PRIMARY KEY, op TEXT NOT NULL, args TEXT NOT NULL, created_at REAL NOT NULL
        );
        CREATE TABLE portraits (
            id INTEGER PRIMARY KEY, character_id TEXT NOT NULL, input_key TEXT NOT NULL, slot INTEGER NOT NULL,
            media TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL, seed INTEGER NOT NULL,
            steps INTEGER NOT NULL, guidance REAL NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
            prompt TEXT NOT NULL, negative TEXT NOT NULL, created_at REAL NOT NULL,
            UNIQUE (character_id, input_key)
        );
        """
    )


@migration
def m005_story_versions(db: sqlite3.Connection) -> None:
    """Every earlier text of the story, so that replacing it loses nothing."""
    db.executescript(
        """
        CREATE TABLE story_versions (
            id INTEGER PRIMARY KEY, text TEXT NOT NULL, sha256 TEXT NOT NULL, form TEXT NOT NULL,
            replaced_at REAL NOT NULL
        );
        """
    )


class _Statements:
    """A connection whose ``executescript`` runs each statement with ``execute``, inside the caller's transaction
    (sqlite3's own executescript commits first, so a migration killed midway would stay half done)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def executescript(self, script: str) -> None:
        buf = ""
        for line in script.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                self.db.execute(buf)
                buf = ""
        if buf.strip():
            self.db.execute(buf)

    def execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, args)


def migrate(db: sqlite3.Connection) -> None:
    """Apply what is missing, each migration whole or not at all, and one process at a time (two that open a new
    project together take turns)."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    if {row[0] for row in db.execute("SELECT name FROM _migrations")} >= {name for name, _ in MIGRATIONS}:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        done = {row[0] for row in db.execute("SELECT name FROM _migrations")}  # again, now that we hold the lock
        for name, fn in MIGRATIONS:
            if name not in done:
                fn(_Statements(db))  # type: ignore[arg-type]
                db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
