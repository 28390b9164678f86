"""The job queue, in the project database: every image (and every render) to make is a row.

    queued --claim--> running --finish--> done
      ^                  |----fail------> failed       (the error, one line; the other jobs go on)
      |                  '----cancel----> cancelled    (asked by the user; the batch stops at its next step)
      '---release-------'                             (its worker died: stale heartbeat, or a dead process)

A job is keyed by (kind, target, input_key), input_key being the key its output is stored under, so queuing what
is queued or made already makes nothing twice: a double click, two tabs or a rerun cost nothing. The jobs of one
batch (a scene's candidates, a character's portraits; for a backend that makes several prompts in one call, several
scenes' batches of the same size, steps and guidance) are claimed together and made in one backend call.
Every change is one transaction, so two workers (or a worker and the studio) never take the same job.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .db import IMAGE_TABLES, Project, insert_image

# a worker that has not beaten this long is dead (on this machine a dead process is seen at once; this is for the
# others, and it is well above the time a beat may wait for a busy database)
STALE_SECONDS = float(os.environ.get("STORYREEL_STALE_SECONDS", 60))
MAX_ATTEMPTS = 3  # a job whose worker died this often is failed rather than tried again
FINAL = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class NewJob:
    kind: str  # candidate | portrait | render
    target: str  # scene id | character id | "@video"
    input_key: str
    batch: str
    spec: dict[str, Any]
    slot: int = 0
    priority: int = 0


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    target: str
    input_key: str
    batch: str
    slot: int
    spec: dict[str, Any]
    state: str
    priority: int
    attempts: int
    worker: str | None
    heartbeat: float | None
    progress: float
    cancel: bool
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None


def _job(r: sqlite3.Row) -> Job:
    d = dict(r)
    d["spec"] = json.loads(d["spec"])
    d["cancel"] = bool(d["cancel"])
    return Job(**d)


def new_worker_id() -> str:
    """host:pid:random, so a worker on this machine whose process is gone is known dead at once."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _worker_alive(worker: str) -> bool:
    host, _, rest = worker.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine's: only its heartbeat tells
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child not yet reaped by its parent still has a pid
        with open(f"/proc/{pid_text}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _output_exists(db: sqlite3.Connection, job: NewJob, project: Project) -> bool:
    """Made, and its file still there (a picture deleted by hand is made again)."""
    if job.kind not in IMAGE_TABLES:
        return False
    table, column = IMAGE_TABLES[job.kind]
    q = f"SELECT media FROM {table} WHERE {column} = ? AND input_key = ?"
    row = db.execute(q, (job.target, job.input_key)).fetchone()
    return row is not None and project.media.path(row[0]).exists()


def enqueue(project: Project, jobs: list[NewJob], fresh: list[int] | None = None) -> list[int]:
    """Queue jobs and return their ids. What is made already is not queued; what is queued or running is left
    as it is (a running job that was being cancelled is wanted again); a failed or cancelled job (or a done one
    whose output is gone) is queued again. ``fresh`` receives the ids this call queued (new, or again)."""
    ids = []
    now = time.time()
    with project.tx() as db:
        for j in jobs:
            row = db.execute(
                "SELECT id, state FROM jobs WHERE kind = ? AND target = ? AND input_key = ?",
                (j.kind, j.target, j.input_key),
            ).fetchone()
            if row is None and _output_exists(db, j, project):
                continue  # made before the queue knew of it
            if row is None:
                cur = db.execute(
                    "INSERT INTO jobs (kind, target, input_key, batch, slot, spec, priority, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (j.kind, j.target, j.input_key, j.batch, j.slot, json.dumps(j.spec), j.priority, now),
                )
                ids.append(int(cur.lastrowid))
                if fresh is not None:
                    fresh.append(int(cur.lastrowid))
                continue
            ids.append(row["id"])
            again = row["state"] in ("failed", "cancelled") or (row["state"] == "done" and not _output_exists(db, j, project))
            if again:
                db.execute(
                    "UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, cancel = 0, worker = NULL, "
                    "heartbeat = NULL, progress = 0, batch = ?, slot = ?, spec = ?, priority = ?, created_at = ?, "
                    "started_at = NULL, finished_at = NULL WHERE id = ?",
                    (j.batch, j.slot, json.dumps(j.spec), j.priority, now, row["id"]),
                )
                if fresh is not None:
                    fresh.append(row["id"])
            elif row["state"] == "running":
                db.execute("UPDATE jobs SET cancel = 0 WHERE id = ?", (row["id"],))
            elif row["state"] == "queued" and j.priority:
                db.execute("UPDATE jobs SET priority = MAX(priority, ?) WHERE id = ?", (j.priority, row["id"]))
    return ids


def _release_stale(db: sqlite3.Connection, now: float) -> None:
    rows = db.execute("SELECT id, worker, heartbeat, attempts FROM jobs WHERE state = 'running'").fetchall()
    for r in rows:
        dead = r["heartbeat"] is None or now - r["heartbeat"] > STALE_SECONDS or not _worker_alive(r["worker"] or "")
        if dead:
            _release(db, r["id"], r["attempts"], now)


def _release(db: sqlite3.Connection, job_id: int, attempts: int, now: float) -> None:
    if attempts >= MAX_ATTEMPTS:
        db.execute(
            "UPDATE jobs SET state = 'failed', finished_at = ?, worker = NULL, "
            "error = 'its worker stopped every time it made this image: see the worker log' WHERE id = ?",
            (now, job_id),
        )
    else:  # made again by the next worker, unless the user had cancelled it meanwhile
        db.execute(
            "UPDATE jobs SET state = CASE WHEN cancel THEN 'cancelled' ELSE 'queued' END, cancel = 0, "
            "worker = NULL, heartbeat = NULL, progress = 0 WHERE id = ?",
            (job_id,),
        )


def release(project: Project, jobs: list[Job]) -> None:
    """A worker's jobs whose maker died (a Ray actor killed mid-batch): back to the queue for another, counted as
    an attempt, so a batch that kills every worker that takes it ends as failed."""
    with project.tx() as db:
        now = time.time()
        for j in jobs:
            row = db.execute("SELECT attempts FROM jobs WHERE id = ? AND state = 'running' AND worker = ?",
                             (j.id, j.worker)).fetchone()  # fmt: skip
            if row is not None:
                _release(db, j.id, row[0], now)


def has_work(project: Project) -> bool:
    """A cheap read: is anything queued, or running (perhaps for a worker that died)?"""
    return bool(project._query("SELECT 1 FROM jobs WHERE state IN ('queued', 'running') LIMIT 1"))


def claim(project: Project, worker: str, max_batch: int = 16, only: list[int] | None = None,
          server: str | None = None, across: Callable[[dict[str, Any]], bool] | None = None) -> list[Job]:  # fmt: skip
    """Take the next batch: the queued jobs sharing the batch of the most urgent one, at most ``max_batch``; with
    ``across`` true of the head job's spec, the batches of other targets with the same settings too;
    ``server``: only jobs queued for that server (an HTTP backend's first; another server's worker makes them)."""
    now = time.time()
    within = "AND id IN (SELECT value FROM json_each(?))" if only is not None else ""
    extra: tuple = (json.dumps(only),) if only is not None else ()
    if server is not None:
        within += " AND json_extract(spec, '$.options.url') = ?"
        extra += (server,)
    with project.tx() as db:
        _release_stale(db, now)
        head = db.execute(
            f"SELECT batch, priority, spec FROM jobs WHERE state = 'queued' {within} ORDER BY priority DESC, id LIMIT 1",
            extra,
        ).fetchone()
        if head is None:
            return []
        # the head's batch; with ``across`` (a backend that makes several prompts in one call), the batches of the
        # other targets (scenes) with the same settings too: "kind:target:settings"
        same = "batch = ?"
        batch = head["batch"]
        if across is not None and across(json.loads(head["spec"])):
            kind, settings = batch.split(":", 1)[0], batch.rsplit(":", 1)[1]
            same, batch = "batch LIKE ?", f"{kind}:%:{settings}"
        # as urgent as the head (a regenerated scene waits for no other scene's pictures); each target's jobs
        # together, the targets in the order they were queued, a target's in slot order
        ids = [
            r["id"]
            for r in db.execute(
                f"SELECT id FROM jobs j WHERE state = 'queued' AND {same} AND priority = ? {within} "
                "ORDER BY (SELECT MIN(k.id) FROM jobs k WHERE k.state = 'queued' AND k.batch = j.batch), slot, id "
                "LIMIT ?",
                (batch, head["priority"], *extra, max_batch),
            )
        ]
        db.executemany(
            "UPDATE jobs SET state = 'running', worker = ?, heartbeat = ?, started_at = ?, progress = 0, cancel = 0, "
            "attempts = attempts + 1 WHERE id = ?",
            [(worker, now, now, i) for i in ids],
        )
        rows = db.execute(
            "SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
        ).fetchall()
    rows.sort(key=lambda r: ids.index(r["id"]))
    return [_job(r) for r in rows]


def beat(db: sqlite3.Connection, worker: str, ids: list[int], progress: float | None = None) -> bool:
    """A worker's heartbeat (on its own connection), for all its running jobs (those of a batch being stored too);
    True when the user asked to cancel the batch in hand (``ids``)."""
    now = time.time()
    if progress is None:
        db.execute("UPDATE jobs SET heartbeat = ? WHERE worker = ? AND state = 'running'", (now, worker))
    else:
        db.execute(
            "UPDATE jobs SET heartbeat = ?, progress = ? WHERE worker = ? AND state = 'running'",
            (now, progress, worker),
        )
    row = db.execute("SELECT MAX(cancel) FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND worker = ? "
                     "AND state = 'running'", (json.dumps(ids), worker)).fetchone()  # fmt: skip
    return bool(row[0])


def finish(project: Project, job: Job, png: bytes | None = None, meta: dict[str, Any] | None = None) -> None:
    """Mark a job done; for an image, store it in the same transaction (its file is written first)."""
    name = project.media.put(png, ".png") if png is not None else None
    with project.tx() as db:
        if name is not None and meta is not None:
            insert_image(db, job.kind, job.target, job.input_key, job.slot, name, meta)
        db.execute(  # only while it is still ours: a worker presumed dead must not overwrite its successor
            "UPDATE jobs SET state = 'done', progress = 1, finished_at = ?, error = NULL "
            "WHERE id = ? AND state = 'running' AND worker = ?",
            (time.time(), job.id, job.worker),
        )


def end(project: Project, jobs: list[Job], state: str, error: str | None = None) -> None:
    """A worker's jobs that will not be made now: failed (with why, in one line), cancelled (those still asked
    for go back to the queue), or queued again (by a worker that is stopping: not counted as an attempt).
    Only the jobs the worker still holds change."""
    mine = json.dumps([[j.id, j.worker] for j in jobs])
    held = "state = 'running' AND EXISTS (SELECT 1 FROM json_each(?) WHERE json_extract(value, '$[0]') = jobs.id " \
           "AND json_extract(value, '$[1]') = jobs.worker)"  # fmt: skip
    with project.tx() as db:
        if state == "queued":
            db.execute(
                "UPDATE jobs SET state = 'queued', worker = NULL, heartbeat = NULL, progress = 0, cancel = 0, "
                f"attempts = MAX(0, attempts - 1) WHERE {held}",
                (mine,),
            )
        elif state == "cancelled":  # the batch's other jobs (other scenes) go back, not counted as an attempt
            db.execute(
                "UPDATE jobs SET state = CASE WHEN cancel THEN 'cancelled' ELSE 'queued' END, "
                "error = CASE WHEN cancel THEN 'cancelled' END, finished_at = CASE WHEN cancel THEN ? END, "
                "attempts = CASE WHEN cancel THEN attempts ELSE MAX(0, attempts - 1) END, "
                f"worker = NULL, heartbeat = NULL, progress = 0, cancel = 0 WHERE {held}",
                (time.time(), mine),
            )
        else:
            line = " ".join((error or "").split())[:400] or None
            db.execute(
                f"UPDATE jobs SET state = ?, error = ?, finished_at = ?, worker = NULL WHERE {held}",
                (state, line, time.time(), mine),
            )


def cancel(project: Project, target: str | None = None, ids: list[int] | None = None, running: bool = True) -> int:
    """Cancel the queued jobs (of a scene or character, of these ids, or all); the running ones stop at their
    next step (unless ``running`` is False). Returns how many were asked to stop."""
    where, args = "", ()
    if target is not None:
        where, args = "AND target = ?", (target,)
    elif ids is not None:
        where, args = "AND id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
    with project.tx() as db:
        n = db.execute(
            f"UPDATE jobs SET state = 'cancelled', finished_at = ?, error = 'cancelled' WHERE state = 'queued' {where}",
            (time.time(), *args),
        ).rowcount
        if running:
            n += db.execute(f"UPDATE jobs SET cancel = 1 WHERE state = 'running' {where}", args).rowcount
    return n


def jobs(project: Project, ids: list[int] | None = None, kind: str | None = None) -> list[Job]:
    if ids is not None:
        rows = project._query("SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                              (json.dumps(ids),))  # fmt: skip
    elif kind is not None:
        rows = project._query("SELECT * FROM jobs WHERE kind = ? ORDER BY id", (kind,))
    else:
        rows = project._query("SELECT * FROM jobs ORDER BY id")
    return [_job(r) for r in rows]


def latest(project: Project, kind: str) -> Job | None:
    """The job of this kind queued most recently."""
    rows = project._query("SELECT * FROM jobs WHERE kind = ? ORDER BY created_at DESC, id DESC LIMIT 1", (kind,))
    return _job(rows[0]) if rows else None


@dataclass
class TargetProgress:
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.queued or self.running)


@dataclass
class Progress:
    """What the progress panel shows: the current wave of work (everything queued since the queue was last
    empty), per target, with images per second and the time left."""

    targets: dict[str, TargetProgress]
    done: int
    total: int
    per_second: float
    seconds_left: float | None
    running_fraction: float  # the progress of the batches being made, in images

    @property
    def busy(self) -> bool:
        return self.done < self.total


def progress(project: Project, kinds: tuple[str, ...] = ("candidate", "portrait")) -> Progress:
    marks = ",".join("?" * len(kinds))
    rows = project._query(
        f"SELECT target, state, error, progress, created_at, started_at, finished_at FROM jobs WHERE kind IN ({marks})",
        kinds,
    )
    pending = [r["created_at"] for r in rows if r["state"] in ("queued", "running")]
    if pending:
        since = min(pending)
    else:  # idle: the last wave, for its summary
        finished = [r for r in rows if r["finished_at"] is not None]
        last = max((r["finished_at"] for r in finished), default=0.0)
        since = min((r["created_at"] for r in finished if last - r["finished_at"] < 60), default=0.0)
    wave = [r for r in rows if r["created_at"] >= since - 1e-6 or r["state"] in ("queued", "running")]
    targets: dict[str, TargetProgress] = {}
    for r in wave:
        t = targets.setdefault(r["target"], TargetProgress())
        setattr(t, r["state"], getattr(t, r["state"]) + 1)
        if r["state"] == "failed" and r["error"] and r["error"] not in t.errors:
            t.errors.append(r["error"])
    ended = [r for r in wave if r["state"] in FINAL]
    done = len(ended)
    running = sum(r["progress"] for r in wave if r["state"] == "running")
    made = [r for r in wave if r["state"] == "done" and r["finished_at"] and r["started_at"]]
    per_second, left = 0.0, None
    if made:
        start = min(r["started_at"] for r in made)
        end_t = time.time() if pending else max(r["finished_at"] for r in made)
        span = max(end_t - start, 1e-3)
        per_second = (len(made) + (running if pending else 0)) / span
        if pending and per_second > 0:
            left = (len(wave) - done - running) / per_second
    return Progress(targets, done, len(wave), per_second, left, running)
