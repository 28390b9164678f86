"""A project: a folder holding project.db (SQLite, WAL) and media/ (content-addressed files).

Every write is one transaction; files are written to media/ before the row that names them, so a kill at any
moment loses at most the item being made.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StoreError, store_error
from ..types import Character, Mention, Scene, Story
from .media import MediaStore
from .migrations import migrate


@dataclass(frozen=True)
class CandidateRow:
    id: int
    scene_id: str
    input_key: str
    slot: int
    media: str
    backend: str
    model: str
    seed: int
    steps: int
    guidance: float
    width: int
    height: int
    prompt: str
    negative: str
    created_at: float


@dataclass(frozen=True)
class NarrationRow:
    scene_id: str
    input_key: str
    media: str
    duration: float
    words: list[dict[str, Any]]
    engine: str
    voice: str


def input_key(*parts: Any) -> str:
    """A stage output's key: the hash of everything that went into it."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


# where each kind of image is stored, and the column that names what it shows
IMAGE_TABLES = {"candidate": ("candidates", "scene_id"), "portrait": ("portraits", "character_id")}


def insert_image(db: sqlite3.Connection, kind: str, owner: str, key: str, slot: int, media: str,
                 meta: dict[str, Any]) -> None:  # fmt: skip
    """Record a made image (its file already in media/). One made again under the same key (its file was
    deleted) keeps its row, and so the picks that name it."""
    table, column = IMAGE_TABLES[kind]
    db.execute(
        f"INSERT INTO {table} ({column}, input_key, slot, media, backend, model, seed, steps, guidance, "
        "width, height, prompt, negative, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        f"ON CONFLICT({column}, input_key) DO UPDATE SET media = excluded.media",
        (
            owner, key, slot, media, meta["backend"], meta["model"], meta["seed"], meta["steps"], meta["guidance"],
            meta["width"], meta["height"], meta["prompt"], meta["negative"], time.time(),
        ),
    )  # fmt: skip


def _write_scene_characters(db: sqlite3.Connection, scene: Scene) -> None:
    db.execute("DELETE FROM scene_characters WHERE scene_id = ?", (scene.id,))
    db.executemany(
        "INSERT INTO scene_characters (scene_id, character_id, position) VALUES (?, ?, ?)",
        [(scene.id, cid, pos) for pos, cid in enumerate(scene.characters)],
    )


def _portrait_row(r: sqlite3.Row) -> CandidateRow:
    d = dict(r)
    d["scene_id"] = d.pop("character_id")
    return CandidateRow(**d)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def damage_message(path: Path, why: str) -> str:
    return (
        f"the project database {path / 'project.db'} is damaged ({why}); nothing was changed. The pictures and "
        f"narration in {path / 'media'} are intact: run `storyreel repair {path}` to set the damaged file aside "
        "and rebuild what can be rebuilt"
    )


def damaged(path: Path) -> str | None:
    """Why the project at ``path`` cannot be opened without losing something, or None. A database emptied or
    deleted while media/ holds the project's files must never be taken for a new, empty project."""
    db_file = path / "project.db"
    made = (path / "media").is_dir() and any(p.is_dir() and len(p.name) == 2 for p in (path / "media").iterdir())
    if not db_file.exists():
        return damage_message(path, "it is missing, but media/ holds the project's files") if made else None
    try:
        size = db_file.stat().st_size
        age = time.time() - db_file.stat().st_mtime
    except OSError:
        return None
    if size == 0 and (made or (age > 10 and not Path(str(db_file) + "-wal").exists())):
        return damage_message(path, "it is empty: 0 bytes")  # a database another process is creating is not old
    if 0 < size < 100 and db_file.read_bytes()[:16] != b"SQLite format 3\x00":
        return damage_message(path, f"it is cut short: {size} bytes")
    return None


def _is_ours(db: sqlite3.Connection) -> bool:
    """A database file that exists is ours when it has our migrations table, or is still empty."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return not tables or "_migrations" in tables


def _write_ahead(db: sqlite3.Connection, wait: float = 30.0) -> None:
    """The database in WAL mode (a new file is switched once). Switching takes the file alone, and SQLite says
    "database is locked" at once, without the connection's timeout, to a process that opens the same new project
    at that moment (the studio and a worker, two tabs): it asks again until ``wait`` seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Project:
    """A project folder. ``create=False`` opens only one that exists (a worker must never bring back a project
    deleted in the studio). A damaged project is never opened (it could be taken for a new one), except by
    ``storyreel repair`` (``check=False``)."""

    def __init__(self, path: str | Path, create: bool = True, check: bool = True) -> None:
        self.path = Path(path)
        self._depth = 0  # nested tx() blocks join the outer transaction
        db_file = self.path / "project.db"
        if self.path.is_file():
            raise StoreError(f"{self.path} is a file, not a project folder: give a folder path")
        damage = damaged(self.path) if check else None  # only `storyreel repair` opens a damaged project
        if damage:
            raise StoreError(damage)
        if not create and not db_file.is_file():
            raise StoreError(f"{self.path} is not a storyreel project (it has no project.db)")
        existed = db_file.is_file()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / "media").mkdir(exist_ok=True)
        except FileExistsError:
            raise StoreError(f"{self.path} is a file, not a project folder: give a folder path") from None
        except OSError as err:
            raise store_error(err, self.path) from None
        self.media = MediaStore(self.path / "media")
        try:
            target = f"file:{db_file}?mode=rw" if not create else str(db_file)
            self.db = sqlite3.connect(target, timeout=30, isolation_level=None, uri=not create)
            if existed and not _is_ours(self.db):
                self.db.close()
                raise StoreError(f"{db_file} is a database of another program: give a new folder for the project")
            _write_ahead(self.db)
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
            migrate(self.db)
        except sqlite3.DatabaseError as err:
            raise self._db_error(err) from None
        self.db.row_factory = sqlite3.Row

    def _db_error(self, err: sqlite3.Error) -> StoreError:
        msg = str(err)
        if "full" in msg:
            return StoreError(f"the disk is full while writing {self.path}: free some space and run again")
        if "readonly" in msg or "unable to open" in msg:
            return StoreError(f"cannot write the project {self.path}: choose a folder you can write to")
        if "not a database" in msg or "malformed" in msg:
            return StoreError(damage_message(self.path, "it is not a readable SQLite database"))
        return StoreError(f"project database error in {self.path}: {msg}")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a tx() inside another is part of it."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            raise self._db_error(err) from None

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as err:
            raise self._db_error(err) from None

    # settings ----------------------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"]) for r in self._query("SELECT key, value FROM settings")}

    def set_settings(self, **values: Any) -> None:
        with self.tx() as db:
            for k, v in values.items():
                db.execute(
                    "INSERT INTO settings (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (k, json.dumps(v)),
                )

    # story and scenes --------------------------------------------------------------------------------------
    def story_versions(self) -> list[sqlite3.Row]:
        """The story's earlier texts, newest first."""
        return self._query("SELECT * FROM story_versions ORDER BY id DESC")

    def story_text(self) -> str | None:
        rows = self._query("SELECT text FROM story WHERE id = 1")
        return rows[0]["text"] if rows else None

    def save_story(self, story: Story) -> bool:
        """Store the story text; True when it changed."""
        sha = hashlib.sha256(story.text.encode()).hexdigest()
        rows = self._query("SELECT sha256 FROM story WHERE id = 1")
        if rows and rows[0]["sha256"] == sha:
            return False
        with self.tx() as db:
            # every version of the story is kept: replacing it never loses the old one
            db.execute("INSERT INTO story_versions (text, sha256, form, replaced_at) "
                       "SELECT text, sha256, form, ? FROM story WHERE id = 1", (time.time(),))  # fmt: skip
            db.execute(
                "INSERT INTO story (id, text, sha256, form, updated_at) VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET text=excluded.text, sha256=excluded.sha256, form=excluded.form, "
                "updated_at=excluded.updated_at",
                (story.text, sha, story.form, time.time()),
            )
        return True

    def sync_scenes(self, scenes: list[Scene], keep: dict[int, str] | None = None) -> list[Scene]:
        """Give the new scenes ids: a scene whose text is unchanged, or only edited, keeps its id (and so its
        candidates and pick), wherever it has moved to; new scenes get new ids; vanished ones are retired.
        ``keep`` maps a start offset to the id the scene starting there keeps (one the user rewrote)."""
        old = self.scenes()
        for s in scenes:
            if keep and s.start in keep:
                s.id = keep[s.start]
        pinned = {s.id for s in scenes if s.id}
        old = [o for o in old if o.id not in pinned]
        a, b = [_norm(s.text) for s in old], [_norm(s.text) for s in scenes]
        taken: set[str] = set()
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if op == "equal":
                for k in range(i2 - i1):
                    scenes[j1 + k].id = scenes[j1 + k].id or old[i1 + k].id
            elif op == "replace":
                # an edited scene keeps its id when its text is still mostly the same
                free = list(range(i1, i2))
                for j in (j for j in range(j1, j2) if not scenes[j].id):
                    best = max(free, key=lambda i: difflib.SequenceMatcher(None, a[i], b[j]).ratio(), default=None)
                    if best is not None and difflib.SequenceMatcher(None, a[best], b[j]).ratio() >= 0.5:
                        scenes[j].id = old[best].id
                        free.remove(best)
        # a scene of an earlier version of the story comes back with its id, and so its pick, cast and prompt
        retired: dict[str, list[str]] = {}
        for r in self._query("SELECT id, text FROM scenes WHERE active = 0 ORDER BY rowid DESC"):
            retired.setdefault(_norm(r["text"]), []).append(r["id"])
        used = {s.id for s in scenes if s.id}
        for s in scenes:
            if not s.id:
                ids = [i for i in retired.get(_norm(s.text), []) if i not in used]
                if ids:
                    s.id = ids[0]
                    used.add(s.id)
        for s in scenes:
            if not s.id or s.id in taken:
                s.id = "s" + uuid.uuid4().hex[:10]
            taken.add(s.id)
        with self.tx() as db:
            db.execute("UPDATE scenes SET active = 0, position = NULL")
            for s in scenes:
                db.execute(
                    "INSERT INTO scenes (id, position, start, end, text, visual, speaker, active) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT(id) DO UPDATE SET position=excluded.position, "
                    "start=excluded.start, end=excluded.end, text=excluded.text, visual=excluded.visual, "
                    "speaker=excluded.speaker, active=1",
                    (s.id, s.index, s.start, s.end, s.text, s.visual, s.speaker),
                )
                _write_scene_characters(db, s)
        return scenes

    def scenes(self) -> list[Scene]:
        rows = self._query("SELECT * FROM scenes WHERE active = 1 ORDER BY position")
        chars: dict[str, list[str]] = {}
        for r in self._query("SELECT scene_id, character_id FROM scene_characters ORDER BY scene_id, position"):
            chars.setdefault(r["scene_id"], []).append(r["character_id"])
        for r in self._query("SELECT scene_id, character_id, included FROM scene_cast ORDER BY rowid"):
            cast = chars.setdefault(r["scene_id"], [])
            if r["included"] and r["character_id"] not in cast:
                cast.append(r["character_id"])
            elif not r["included"] and r["character_id"] in cast:
                cast.remove(r["character_id"])
        return [
            Scene(
                index=r["position"],
                start=r["start"],
                end=r["end"],
                text=r["text"],
                visual=r["prompt_override"] or r["visual"],
                speaker=r["speaker"],
                id=r["id"],
                characters=chars.get(r["id"], []),
                locked=bool(r["locked"]),
                extra=r["extra"],
            )
            for r in rows
        ]

    def scene(self, ref: str | int) -> Scene:
        """A scene by its 1-based number or its id."""
        scenes = self.scenes()
        for s in scenes:
            if s.id == str(ref):
                return s
        try:
            n = int(ref)
        except ValueError:
            n = 0
        if 1 <= n <= len(scenes):
            return scenes[n - 1]
        raise StoreError(f"no scene {ref!r} in {self.path}: give a number from 1 to {len(scenes)} or a scene id")

    def set_cast(self, scene_id: str, character_id: str, included: bool) -> None:
        """Put a character into a scene's picture, or take one out, whatever the finder says."""
        if not self._query("SELECT 1 FROM characters WHERE id = ?", (character_id,)):
            names = ", ".join(c.id for c in self.characters())
            raise StoreError(f"no character {character_id!r} in this project: choose one of {names}")
        with self.tx() as db:
            db.execute(
                "INSERT INTO scene_cast (scene_id, character_id, included) VALUES (?, ?, ?) "
                "ON CONFLICT(scene_id, character_id) DO UPDATE SET included = excluded.included",
                (scene_id, character_id, int(included)),
            )

    def set_scene_visual(self, scene_id: str, visual: str | None) -> None:
        with self.tx() as db:
            db.execute("UPDATE scenes SET prompt_override = ? WHERE id = ?", (visual, scene_id))

    def scene_override(self, scene_id: str) -> str | None:
        """What the user wrote for the scene's picture, or None when it is drawn from its own text."""
        rows = self._query("SELECT prompt_override FROM scenes WHERE id = ?", (scene_id,))
        return rows[0]["prompt_override"] if rows else None

    def set_scene_lock(self, scene_id: str, locked: bool) -> None:
        with self.tx() as db:
            db.execute("UPDATE scenes SET locked = ? WHERE id = ?", (int(locked), scene_id))

    def add_scene_extra(self, scene_id: str, more: int) -> None:
        """Ask for ``more`` candidates beyond the project's number for this scene (new seeds)."""
        with self.tx() as db:
            db.execute("UPDATE scenes SET extra = MAX(0, extra + ?) WHERE id = ?", (more, scene_id))

    def scene_breaks(self) -> dict[str, str]:
        """The user's scene merges and splits: {anchor (start of a sentence): "cut" | "join"}."""
        return {r["anchor"]: r["kind"] for r in self._query("SELECT anchor, kind FROM scene_breaks")}

    def clear_scene_breaks(self) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM scene_breaks")

    def set_scene_break(self, anchor: str, kind: str) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO scene_breaks (anchor, kind) VALUES (?, ?) ON CONFLICT(anchor) DO UPDATE SET kind = excluded.kind",
                (anchor, kind),
            )

    # characters ------------------------------------------------------------------------------------------
    def save_characters(self, found: list[Character]) -> list[Character]:
        """Store what the finder found, keeping the prompt words (and name) the user wrote for a character."""
        before = {c.id: c for c in self.characters()}
        edited = {cid: c for cid, c in before.items() if c.edited}
        out = []
        for ch in found:
            mine = edited.pop(ch.id, None)
            if mine is not None:
                ch.name, ch.prompt, ch.negative, ch.edited = mine.name, mine.prompt, mine.negative, True
            if ch.id in before:  # the portrait seed and reference picture stay with the character
                ch.seed = ch.seed if ch.seed is not None else before[ch.id].seed
                ch.reference = ch.reference or before[ch.id].reference
            out.append(ch)
        out.extend(edited.values())  # the user's own characters stay even when the text no longer names them
        with self.tx() as db:
            self._replace_characters(db, out)
        return out

    def _replace_characters(self, db: sqlite3.Connection, characters: list[Character]) -> None:
        db.execute("DELETE FROM mentions")
        db.execute("DELETE FROM characters")
        for pos, ch in enumerate(characters):
            self._insert_character(db, ch, pos)

    def _insert_character(self, db: sqlite3.Connection, ch: Character, pos: int) -> None:
        db.execute(
            "INSERT INTO characters (id, name, prompt, negative, gender, number, edited, position, seed, reference) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ch.id, ch.name, ch.prompt, ch.negative, ch.gender, ch.number, int(ch.edited), pos, ch.seed,
             ch.reference),  # fmt: skip
        )
        db.executemany(
            "INSERT INTO mentions (character_id, start, end, text, type, passing) VALUES (?, ?, ?, ?, ?, ?)",
            [(ch.id, m.start, m.end, m.text, m.type, int(m.passing)) for m in ch.mentions],
        )

    def characters(self) -> list[Character]:
        mentions: dict[str, list[Mention]] = {}
        for r in self._query("SELECT * FROM mentions ORDER BY start"):
            mentions.setdefault(r["character_id"], []).append(
                Mention(r["start"], r["end"], r["text"], r["type"], bool(r["passing"]))
            )
        return [
            Character(
                id=r["id"],
                name=r["name"],
                mentions=mentions.get(r["id"], []),
                prompt=r["prompt"],
                negative=r["negative"],
                gender=r["gender"],
                number=r["number"],
                edited=bool(r["edited"]),
                seed=r["seed"],
                reference=r["reference"],
            )
            for r in self._query("SELECT * FROM characters ORDER BY position")
        ]

    def update_character(self, cid: str, **fields: Any) -> None:
        """Set a character's name, prompt words or negative words (the user's: kept across story edits), or its
        portrait seed and reference picture."""
        words = {"name", "prompt", "negative"}
        allowed = words | {"seed", "reference"}
        if not fields.keys() <= allowed:
            raise ValueError(f"cannot set {set(fields) - allowed}")
        if not self._query("SELECT 1 FROM characters WHERE id = ?", (cid,)):
            names = ", ".join(c.id for c in self.characters())
            raise StoreError(f"no character {cid!r} in this project: choose one of {names}")
        with self.tx() as db:
            for k, v in fields.items():
                edited = ", edited = 1" if k in words else ""
                db.execute(f"UPDATE characters SET {k} = ?{edited} WHERE id = ?", (v, cid))

    def character_edits(self) -> list[tuple[str, dict[str, Any]]]:
        """The user's edits of the found characters (merge, move, drop, add...), in the order made."""
        return [(r["op"], json.loads(r["args"])) for r in self._query("SELECT op, args FROM character_edits ORDER BY id")]

    def add_character_edit(self, op: str, args: dict[str, Any], characters: list[Character],
                           scenes: list[Scene]) -> None:  # fmt: skip
        """Record an edit and store its result (characters and who is in each scene) in one transaction."""
        with self.tx() as db:
            db.execute(
                "INSERT INTO character_edits (op, args, created_at) VALUES (?, ?, ?)",
                (op, json.dumps(args, ensure_ascii=False), time.time()),
            )
            self._replace_characters(db, characters)
            for s in scenes:
                _write_scene_characters(db, s)

    # candidates and picks ----------------------------------------------------------------------------------
    def candidate_for(self, scene_id: str, key: str) -> CandidateRow | None:
        rows = self._query("SELECT * FROM candidates WHERE scene_id = ? AND input_key = ?", (scene_id, key))
        return CandidateRow(**dict(rows[0])) if rows else None

    def candidates(self, scene_id: str | None = None) -> list[CandidateRow]:
        if scene_id is None:
            rows = self._query("SELECT * FROM candidates ORDER BY id")
        else:
            rows = self._query("SELECT * FROM candidates WHERE scene_id = ? ORDER BY id", (scene_id,))
        return [CandidateRow(**dict(r)) for r in rows]

    def candidate(self, cid: int) -> CandidateRow | None:
        rows = self._query("SELECT * FROM candidates WHERE id = ?", (cid,))
        return CandidateRow(**dict(rows[0])) if rows else None

    def add_candidate(self, scene_id: str, key: str, slot: int, image_png: bytes, **meta: Any) -> CandidateRow:
        name = self.media.put(image_png, ".png")
        with self.tx() as db:
            insert_image(db, "candidate", scene_id, key, slot, name, meta)
        row = self.candidate_for(scene_id, key)
        assert row is not None
        return row

    # portraits: a character alone, to preview its words -----------------------------------------------------
    def portraits(self, character_id: str) -> list[CandidateRow]:
        rows = self._query("SELECT * FROM portraits WHERE character_id = ? ORDER BY id", (character_id,))
        return [_portrait_row(r) for r in rows]

    def portrait_for(self, character_id: str, key: str) -> CandidateRow | None:
        rows = self._query("SELECT * FROM portraits WHERE character_id = ? AND input_key = ?", (character_id, key))
        return _portrait_row(rows[0]) if rows else None

    def picks(self) -> dict[str, tuple[int, str]]:
        return {r["scene_id"]: (r["candidate_id"], r["by"]) for r in self._query("SELECT * FROM picks")}

    def pick(self, scene_id: str, candidate_id: int, by: str = "user") -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO picks (scene_id, candidate_id, by, picked_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(scene_id) DO UPDATE SET candidate_id=excluded.candidate_id, by=excluded.by, "
                "picked_at=excluded.picked_at",
                (scene_id, candidate_id, by, time.time()),
            )

    # narration -----------------------------------------------------------------------------------------------
    def narration_for(self, scene_id: str, key: str) -> NarrationRow | None:
        rows = self._query("SELECT * FROM narrations WHERE scene_id = ? AND input_key = ?", (scene_id, key))
        if not rows:
            return None
        r = dict(rows[0])
        return NarrationRow(
            r["scene_id"], r["input_key"], r["media"], r["duration"], json.loads(r["words"]), r["engine"], r["voice"]
        )

    def add_narration(self, scene_id: str, key: str, wav: bytes, duration: float, words: list[dict], engine: str,
                      voice: str) -> NarrationRow:  # fmt: skip
        name = self.media.put(wav, ".wav")
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO narrations (scene_id, input_key, media, duration, words, engine, voice, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (scene_id, key, name, duration, json.dumps(words), engine, voice, time.time()),
            )
        return NarrationRow(scene_id, key, name, duration, words, engine, voice)

    # renders -------------------------------------------------------------------------------------------------
    def render_for(self, key: str) -> sqlite3.Row | None:
        rows = self._query("SELECT * FROM renders WHERE input_key = ? ORDER BY id DESC LIMIT 1", (key,))
        return rows[0] if rows else None

    def wrote_output(self, video: Path) -> bool:
        """Did a render of this project publish a video at this path?"""
        where = str(Path(video).resolve())
        return any(str(Path(r["output"]).resolve()) == where for r in self._query("SELECT DISTINCT output FROM renders"))

    def add_render(self, key: str, video: Path, srt: Path, output: Path, settings: dict, duration: float) -> None:
        vname = self.media.put_file(video, ".mp4")
        sname = self.media.put_file(srt, ".srt")
        with self.tx() as db:
            db.execute(
                "INSERT INTO renders (input_key, media, srt_media, output, settings, duration, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, vname, sname, str(Path(output).resolve()), json.dumps(settings), duration, time.time()),
            )
