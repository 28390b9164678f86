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


def migrate(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with db:
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
