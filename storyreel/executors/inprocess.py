"""The worker: takes the queue's jobs a batch at a time and makes them, in this process.

It keeps each backend it has loaded (a diffusers pipeline is loaded once, not per job), stores each image as
soon as it is made, beats a heartbeat while a batch runs (so a worker that dies has its jobs released to the
next one), and stops a batch at its next step when the user cancels it. ``storyreel worker`` runs one over a
folder of projects for the studio; ``storyreel generate`` runs one over its own jobs.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import plugins
from ..backends.base import ImageBackend, free_accelerator_memory
from ..errors import Cancelled, ServerDown, StoryreelError
from ..store import jobs as q
from ..store.db import Project
from ..types import ImageRequest

log = logging.getLogger("storyreel.worker")

HEARTBEAT_SECONDS = 1.0
RETRY_SERVER_SECONDS = 30.0  # a server that stopped answering is tried again after this long
DEFAULT_BATCH = 16  # the most jobs a batch takes when neither the user nor the backend says


PNG_KEY = "storyreel"  # the PNG text chunk that says what a picture is, so a lost database can be rebuilt


def png_bytes(image: Any, info: dict[str, Any] | None = None) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    chunk = None
    if info is not None:
        chunk = PngInfo()
        chunk.add_itxt(PNG_KEY, json.dumps(info, ensure_ascii=False))
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1, pnginfo=chunk)  # level 1: ~4x faster, files ~15% larger
    return buf.getvalue()


class _Heartbeat(threading.Thread):
    """Beats for the worker's running jobs on a connection of its own, and notices a cancel."""

    def __init__(self, db_path: Path, worker: str, ids: list[int]) -> None:
        super().__init__(daemon=True)
        self.db_path, self.worker, self.ids = db_path, worker, ids
        self.cancelled = threading.Event()
        self.done = threading.Event()
        self.fraction: float | None = None

    def run(self) -> None:
        try:  # never create the database: its project may have been deleted meanwhile
            db = sqlite3.connect(f"file:{self.db_path}?mode=rw", timeout=5, isolation_level=None, uri=True)
        except sqlite3.Error as err:
            log.warning("heartbeat: %s", err)
            return
        try:
            while not self.done.wait(HEARTBEAT_SECONDS):
                try:
                    if q.beat(db, self.worker, self.ids, self.fraction):
                        self.cancelled.set()
                except sqlite3.Error as err:  # a busy database: beat again next time
                    log.warning("heartbeat: %s", err)
        finally:
            db.close()


class _Storer:
    """Stores made pictures while the next batch is being made: each PNG encoded on a thread pool (zlib lets go of
    the GIL), then its file and database row written in order on a thread of its own (with its own connection),
    so the backend never waits on saving, hashing or the database."""

    def __init__(self, threads: int = 4) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.encoders = ThreadPoolExecutor(threads, thread_name_prefix="storyreel-png")
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="storyreel-store")
        self.pending: list[Any] = []
        self.stored = 0
        self.seconds = 0.0  # the writer's busy time (it runs beside the backend)

    def put(self, path: Path, items: list[tuple[q.Job, Any, dict[str, Any], dict[str, Any]]]) -> None:
        """Store a batch: (job, picture, what its PNG says, its record) each."""
        encoded = [(job, self.encoders.submit(png_bytes, image, about), meta) for job, image, about, meta in items]
        while len(self.pending) >= 2:  # memory stays bounded when the backend is quicker than the disk
            self.pending.pop(0).result()
        for f in [f for f in self.pending if f.done()]:
            self.pending.remove(f)
            f.result()  # a failure of the writer itself is said, not dropped
        self.pending.append(self.writer.submit(self._write, path, encoded))

    def _write(self, path: Path, encoded: list[tuple[q.Job, Any, dict[str, Any]]]) -> None:
        t0 = time.perf_counter()
        try:
            project = Project(path, create=False)
        except StoryreelError as err:  # deleted meanwhile (in the studio): nothing to keep
            log.warning("%s: %s", path, err)
            return
        try:
            for job, png, meta in encoded:
                try:
                    q.finish(project, job, png.result(), meta)
                    self.stored += 1
                except Exception as err:  # a full disk, a damaged database, a bug: this job says so, the rest go on
                    log.warning("storing %s failed: %s", job.input_key[:12], err)
                    why = str(err) if isinstance(err, StoryreelError) else f"storing failed ({type(err).__name__}: {err})"
                    try:
                        q.end(project, [job], "failed", why)
                    except Exception:  # the database itself: its heartbeat stops, and the job is made again later
                        log.exception("cannot mark %s failed", job.input_key[:12])
        finally:
            project.close()
            self.seconds += time.perf_counter() - t0

    def wait(self) -> None:
        """Until everything handed over is stored."""
        pending, self.pending = self.pending, []
        for f in pending:
            f.result()


class Worker:
    """Makes the queue's jobs. ``backends`` may hold backends already made, by (name, model)."""

    def __init__(self, batch_size: int | None = None, backends: dict[tuple[str | None, ...], ImageBackend] | None = None,
                 name: str | None = None, should_stop: Callable[[], bool] | None = None,
                 hand_over: bool = False, server: str | None = None, queued_for: str | None = None,
                 say: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.id = name or q.new_worker_id()
        self.say = say or log.warning  # a backend's notes (the GPU ran out of memory: smaller batches)
        self.batch_size = batch_size  # None: what the backend makes best (16 until one is loaded)
        self.backends: dict[tuple[str | None, ...], ImageBackend] = dict(backends or {})
        self.stopping = threading.Event()
        self.should_stop = should_stop
        self.storer = _Storer()
        self.backend_seconds = 0.0  # in the backend's generate()
        self.own_seconds = 0.0  # the rest of making a batch, in this thread: claiming, preparing, handing over
        # one of several servers' workers: when its server is down, its batch goes back to the queue for the others
        self.hand_over = hand_over
        self.down: ServerDown | None = None
        # a studio worker's helper for one of a project's other servers: it takes the jobs queued for the first
        # server (``queued_for``) and makes them on its own (``server``)
        self.server, self.queued_for = server, queued_for
        self._helpers: dict[tuple[Path, str], tuple[Worker, threading.Thread]] = {}

    @property
    def made(self) -> int:
        """The pictures this worker has stored."""
        return self.storer.stored

    def _mixes(self, spec: dict[str, Any]) -> bool:
        """Whether the backend of a job with this spec, once loaded here, makes several scenes' prompts in one call
        (then a batch spans scenes)."""
        if "backend" not in spec:  # a render
            return False
        held = self.backends.get(backend_key(spec["backend"], spec.get("model"), self._on_server(spec.get("options"))))
        return bool(held is not None and held.mixes_prompts)

    @property
    def claim_size(self) -> int:
        """The most jobs one batch takes: the size given, else the largest its loaded backends make best."""
        if self.batch_size:
            return self.batch_size
        return max((b.batch_size or DEFAULT_BATCH for b in self.backends.values()), default=DEFAULT_BATCH)

    # one batch -------------------------------------------------------------------------------------------------
    def run_batch(self, project: Project, only: list[int] | None = None, wait: bool = True) -> int:
        """Claim one batch of ``project``'s queue and make it; the number of jobs taken (0: nothing to do).
        ``wait=False``: return once its pictures are made and handed over to be stored (the loops below store a
        batch while the next is made, and wait when they are idle or done)."""
        t0 = time.perf_counter()
        batch = q.claim(project, self.id, self.claim_size, only, server=self.queued_for, across=self._mixes)
        self.own_seconds += time.perf_counter() - t0
        if not batch:
            return 0
        try:
            self._run(project, batch)
        finally:
            if wait:
                self.storer.wait()
        return len(batch)

    def _run(self, project: Project, batch: list[q.Job]) -> None:
        if batch[0].kind == "render":
            self.storer.wait()  # the pictures made just before are in the database before the render reads it
        beat = _Heartbeat(project.path / "project.db", self.id, [j.id for j in batch])
        beat.start()
        # q.end touches only the jobs not yet done
        try:
            if batch[0].kind == "render":
                self._render(project, batch[0], beat)
            else:
                self._images(project, batch, beat)
        except Cancelled as err:  # by the user, or this worker is stopping (then the jobs wait for the next one)
            q.end(project, batch, "queued" if self.stopping.is_set() else "cancelled", str(err))
        except ServerDown as err:
            log.warning("batch %s: %s", batch[0].batch, err)
            q.end(project, batch, "queued" if self.hand_over else "failed", str(err))
            if self.hand_over:
                self.down = err  # this worker stops; the batch is made on another server
        except StoryreelError as err:
            log.warning("batch %s failed: %s", batch[0].batch, err)
            q.end(project, batch, "failed", str(err))
        except Exception as err:  # a bug: the job says so, the log has the traceback, the worker goes on
            log.exception("batch %s failed", batch[0].batch)
            q.end(project, batch, "failed", f"storyreel failed ({type(err).__name__}: {err}); see the worker log")
        except BaseException:  # stopped (Ctrl-C, shutdown): the jobs go back to the queue
            q.end(project, batch, "queued")
            raise
        finally:
            beat.done.set()
            beat.join()

    def _should_stop(self, beat: _Heartbeat) -> Callable[[], bool]:
        return lambda: beat.cancelled.is_set() or self.stopping.is_set() or bool(self.should_stop and self.should_stop())

    def _on_server(self, options: dict[str, str] | None) -> dict[str, str] | None:
        """A job's backend options as this worker makes it: a helper's own server for the one it was queued for."""
        if self.server and options and options.get("url"):
            return {**options, "url": self.server}
        return options

    def backend(self, name: str, model: str | None, options: dict[str, str] | None = None) -> ImageBackend:
        """The backend, loaded once and kept; loading another model lets the previous one go (GPU memory)."""
        options = self._on_server(options)
        key = backend_key(name, model, options)
        if key not in self.backends:
            for other in [k for k in self.backends if k[0] == name]:
                del self.backends[other]
            free_accelerator_memory()
            self.backends[key] = plugins.create("image_backend", name, model=model, **(options or {}))
        return self.backends[key]

    def _images(self, project: Project, batch: list[q.Job], beat: _Heartbeat) -> None:
        t0 = time.perf_counter()
        spec = batch[0].spec
        backend = self.backend(spec["backend"], spec.get("model"), spec.get("options"))
        requests = [request_of(project, j) for j in batch]

        def on_progress(fraction: float) -> None:
            beat.fraction = fraction

        self._say_notes(backend)
        t1 = time.perf_counter()
        images = backend.generate(requests, progress=on_progress, should_stop=self._should_stop(beat))
        t2 = time.perf_counter()
        self.backend_seconds += t2 - t1
        self._say_notes(backend)
        items = []
        for job, req, image in zip(batch, requests, images, strict=True):
            about, meta = about_job(project, job), picture_record(backend, spec, req)
            items.append((job, image, {**about, **meta}, meta))
        self.storer.put(project.path, items)
        self.own_seconds += (t1 - t0) + (time.perf_counter() - t2)

    def _say_notes(self, backend: ImageBackend) -> None:
        notes = getattr(backend, "notes", None)
        while notes:
            self.say(notes.pop(0))

    def _render(self, project: Project, job: q.Job, beat: _Heartbeat) -> None:
        from ..pipeline import render

        def on_progress(stage: str, done: int, total: int) -> None:
            share = {"narration": (0.0, 0.2), "video": (0.2, 0.8)}.get(stage, (0.0, 0.0))
            beat.fraction = share[0] + share[1] * (done / total if total else 1.0)

        render(project, project.path / job.spec["output"], job.spec["options"], progress=on_progress,
               should_stop=self._should_stop(beat))  # fmt: skip
        q.finish(project, job)

    # loops ----------------------------------------------------------------------------------------------------
    def drain(self, project: Project, ids: list[int], progress: Callable[[int, int], None] | None = None,
              poll: float = 0.2) -> list[q.Job]:  # fmt: skip
        """Make these jobs (another worker may share them) until every one has ended; return them. A batch's
        pictures are stored while the next batch is made."""
        try:
            while True:
                current = q.jobs(project, ids)
                if self.down is not None:
                    return current  # this worker's server is down: the others make the rest
                if self.stopping.is_set():
                    raise Cancelled(f"stopped after {self.made} images; run the same command again to make the rest")
                ended = sum(1 for j in current if j.state in q.FINAL)
                if progress:
                    progress(ended, len(current))
                if ended == len(current):
                    return current
                if self.should_stop and self.should_stop():
                    raise Cancelled(f"stopped after {self.made} images; run the same command again to make the rest")
                if self.run_batch(project, only=ids, wait=False) == 0:
                    if self.storer.pending:
                        self.storer.wait()  # what is left is being stored
                    else:
                        time.sleep(poll)  # the rest is being made by another worker
        finally:
            self.storer.wait()  # what was made is kept, whatever stopped the loop

    def serve(self, root: Path, poll: float = 0.5, stop: threading.Event | None = None) -> None:
        """Make every project's jobs under ``root`` (a project, or a folder of projects) until stopped."""
        stop = stop or self.stopping
        open_projects: dict[Path, Project] = {}
        while not stop.is_set():
            worked = 0
            for path in _projects(root):
                try:
                    project = open_projects.get(path) or open_projects.setdefault(path, Project(path, create=False))
                    if q.has_work(project):
                        worked += self.run_batch(project, wait=False)
                except StoryreelError as err:  # a damaged or vanished project: the others go on
                    log.warning("%s: %s", path, err)
                    gone = open_projects.pop(path, None)
                    if gone is not None:
                        gone.close()
                if stop.is_set():
                    break
            for path in [p for p in open_projects if not (p / "project.db").exists()]:
                open_projects.pop(path).close()  # deleted in the studio
            self._help_on_servers(open_projects, stop, poll)
            if not worked:
                self.storer.wait()
                stop.wait(poll)
        self.storer.wait()
        for helper, _ in self._helpers.values():  # each stops its batch at the next step and gives it back
            helper.stopping.set()
        for _, thread in self._helpers.values():
            thread.join(timeout=60)

    def _help_on_servers(self, projects: dict[Path, Project], stop: threading.Event, poll: float) -> None:
        """A helper thread for each other server of a project that has several (Settings: a list of servers):
        it makes the project's jobs on its server beside this worker, which makes them on the first."""
        wanted: dict[tuple[Path, str], str] = {}
        for path, project in projects.items():
            try:
                given = project.settings().get("backend_url")
            except StoryreelError:
                continue
            if isinstance(given, list) and len(given) > 1:
                wanted.update({(path, str(url)): str(given[0]) for url in given[1:]})
        for key in [k for k in self._helpers if k not in wanted or not self._helpers[k][1].is_alive()]:
            self._helpers.pop(key)[0].stopping.set()  # the servers changed, or the project is gone
        for (path, url), first in wanted.items():
            if (path, url) not in self._helpers:
                helper = Worker(self.batch_size, server=url, queued_for=first, hand_over=True)
                thread = threading.Thread(target=helper._serve_one, args=(path, stop, poll), daemon=True)
                self._helpers[(path, url)] = (helper, thread)
                thread.start()

    def _serve_one(self, path: Path, stop: threading.Event, poll: float) -> None:
        """A helper's loop: this project's jobs on this worker's server; a server that stops answering hands its
        batch back and is tried again a little later."""
        try:
            project = Project(path, create=False)
        except StoryreelError:
            return
        try:
            while not self.stopping.is_set() and not stop.is_set():
                if self.down is not None:
                    log.warning("%s: %s; trying it again in %d s", self.server, self.down, RETRY_SERVER_SECONDS)
                    self.down = None
                    self.stopping.wait(RETRY_SERVER_SECONDS)
                    continue
                try:
                    if not (q.has_work(project) and self.run_batch(project, wait=False)):
                        self.storer.wait()
                        self.stopping.wait(poll)
                except StoryreelError as err:  # a busy or damaged database: said, and tried again
                    log.warning("%s: %s", path, err)
                    self.stopping.wait(RETRY_SERVER_SECONDS)
        finally:
            self.storer.wait()
            project.close()


def about_job(project: Project, job: q.Job) -> dict[str, Any]:
    """What a picture's PNG says of the job that made it (so a lost database can be rebuilt from the files)."""
    about = {"kind": job.kind, "owner": job.target, "input_key": job.input_key, "slot": job.slot}
    if job.kind == "candidate":
        scene = project.db.execute("SELECT text FROM scenes WHERE id = ?", (job.target,)).fetchone()
        about["scene_text"] = scene[0] if scene else ""
    return about


def picture_record(backend: ImageBackend, spec: dict[str, Any], req: ImageRequest) -> dict[str, Any]:
    """What the candidates' table says of a made picture."""
    return dict(backend=backend.name, model=spec.get("model_id", backend.model_id), seed=req.seed, steps=req.steps,
                guidance=req.guidance, width=req.width, height=req.height, prompt=req.prompt,
                negative=req.negative)  # fmt: skip


def stored_picture(backend: ImageBackend, spec: dict[str, Any], req: ImageRequest, image: Any,
                   about: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:  # fmt: skip
    """A made picture as it is stored: its PNG (saying what it is) and its record."""
    meta = picture_record(backend, spec, req)
    return png_bytes(image, {**about, **meta}), meta


def backend_key(name: str, model: str | None, options: dict[str, str] | None = None) -> tuple[str | None, ...]:
    """Which loaded backend a job needs: its name, model and options (a server, a workflow)."""
    return (name, model, *(f"{k}={v}" for k, v in sorted((options or {}).items())))


def request_from_spec(spec: dict[str, Any]) -> ImageRequest:
    return ImageRequest(**{**spec, "characters": tuple(tuple(c) for c in spec.get("characters", ()))})


def request_of(project: Project, job: q.Job) -> ImageRequest:
    """A job's request, as its backend gets it: a reference picture (queued by its name) as the file's path."""
    req = request_from_spec(job.spec["request"])
    if req.reference:
        return dataclasses.replace(req, reference=str(project.media.path(req.reference)))
    return req


def _projects(root: Path) -> list[Path]:
    if (root / "project.db").exists():
        return [root]
    try:
        return sorted(p for p in root.iterdir() if (p / "project.db").is_file())
    except OSError:
        return []
