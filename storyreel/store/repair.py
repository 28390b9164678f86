"""Repair a project whose database was damaged or lost: the damaged file is set aside (never deleted), what can
be read from it is copied into a new database, and the pictures in media/ are linked again to the scenes they
show from what each PNG says about itself (its prompt, seed and scene)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StoreError
from .db import Project, _norm, damaged, insert_image


@dataclass
class RepairReport:
    set_aside: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # rows copied from the damaged database, per table
    pictures: int = 0  # pictures linked again from their own PNG text
    has_story: bool = False


def needs_repair(path: Path) -> str | None:
    """Why the project must be repaired, or None when it opens as it is. A folder that is no storyreel project
    (a typo, another program's database) is refused: repair touches nothing there."""
    why = damaged(path)
    if why:
        return why
    try:
        Project(path, create=False).close()
    except StoreError as err:
        if "damaged" in str(err):
            return str(err)
        raise
    return None


def set_aside(path: Path) -> list[Path]:
    """Rename project.db (and its WAL files) to project.db.damaged-TIME: nothing is deleted."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = []
    for name, suffix in (("project.db", ""), ("project.db-wal", "-wal"), ("project.db-shm", "-shm")):
        src = path / name
        if src.exists():
            dest = path / f"project.db.damaged-{stamp}{suffix}"  # SQLite reads the -wal beside it when salvaging
            src.rename(dest)
            moved.append(dest)
    return moved


def _salvage(old: Path, project: Project) -> dict[str, int]:
    """Copy every row that can still be read from the damaged database, table by table."""
    copied: dict[str, int] = {}
    try:
        src = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
    except sqlite3.Error:
        return copied
    ours = [r[0] for r in project.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_migrations'"
    )]  # fmt: skip
    project.db.execute("PRAGMA foreign_keys = OFF")  # a table past reading must not cost the tables that name it
    for table in ours:
        try:
            cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
            mine = [r[1] for r in project.db.execute(f"PRAGMA table_info({table})")]
            common = [c for c in cols if c in mine]
            if not common:
                continue
            rows = src.execute(f"SELECT {', '.join(common)} FROM {table}").fetchall()
        except sqlite3.DatabaseError:
            continue  # this table is past reading
        with project.tx() as db:
            db.executemany(
                f"INSERT OR IGNORE INTO {table} ({', '.join(common)}) VALUES ({', '.join('?' * len(common))})", rows
            )
        copied[table] = len(rows)
    src.close()
    project.db.execute("PRAGMA foreign_keys = ON")
    return copied


def pictures_in(project: Project) -> list[tuple[str, dict]]:
    """(media name, what the PNG says about itself) of every picture storyreel made in this project."""
    from PIL import Image

    from ..executors.inprocess import PNG_KEY

    out = []
    for png in sorted(project.media.root.glob("??/*.png")):
        try:
            with Image.open(png) as im:
                about = json.loads(im.info.get(PNG_KEY, "null") or "null")
        except (OSError, ValueError):
            continue
        if isinstance(about, dict) and about.get("kind") == "candidate":
            out.append((png.name, about))
    return out


def relink_pictures(project: Project) -> int:
    """Give each scene back the pictures made for its text; the settings they were made with (seed, steps, size,
    backend) are remembered again so that later commands find them instead of making new ones."""
    scenes = {_norm(s.text): s for s in project.scenes()}
    found = pictures_in(project)
    linked = 0
    with project.tx() as db:
        for name, about in found:
            scene = scenes.get(_norm(about.get("scene_text", "")))
            if scene is None:
                continue
            insert_image(db, "candidate", scene.id, about["input_key"], int(about["slot"]), name, about)
            linked += 1
    settings = project.settings()
    if linked and "seed" not in settings:
        base = Counter(int(a["seed"]) - int(a["slot"]) for _, a in found).most_common(1)[0][0]
        first = found[0][1]
        project.set_settings(seed=base, steps=first["steps"], guidance=first["guidance"],
                             size=f"{first['width']}x{first['height']}",
                             **({"backend": "sketch"} if first["backend"] == "sketch" else {}))  # fmt: skip
    return linked


def repair(path: Path, story: str | None = None) -> RepairReport:
    """Set the damaged database aside, copy what it still holds into a new one, read the story in again when
    it was lost (``story``), and link the pictures in media/ back to their scenes."""
    from .. import pipeline

    report = RepairReport()
    if not (path / "project.db").exists() and not damaged(path):
        raise StoreError(f"{path} is not a storyreel project: check the path")
    if needs_repair(path) is None:
        project = Project(path, create=False)
        lost_story = project.story_text() is None
        project.close()
        if not (lost_story and story is not None):  # a repair that lost the story is finished by a second one
            raise StoreError(f"{path} opens as it is: there is nothing to repair")
    else:
        report.set_aside = set_aside(path)
    project = Project(path, check=False)
    try:
        old = next((p for p in report.set_aside if not p.name.endswith(("-wal", "-shm"))), None)
        if old is not None:
            report.rows = {t: n for t, n in _salvage(old, project).items() if n}
        if project.story_text() is None and story is not None:
            pipeline.update_story(project, story, pipeline.in_force(project))  # no seed chosen: the pictures say it
        report.has_story = project.story_text() is not None
        if report.has_story:
            report.pictures = relink_pictures(project)
    finally:
        project.close()
    return report
