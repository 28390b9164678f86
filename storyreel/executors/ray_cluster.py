"""Ray: the queue's batches made on a Ray cluster, one actor per GPU (or CPU actors where there is none).

Each actor holds a warm backend (a diffusers pipeline loaded once); a batch is one of its tasks. The driver
(``storyreel generate --executor ray``) claims batches from the project's queue for its idle actors, beats their
jobs' heartbeat, and stores each batch's pictures in the project database as soon as its task returns. An actor
that dies mid-batch has its batch put back in the queue, and another actor makes it: nothing is stored twice,
since a batch's pictures are stored only when its whole task has come back.

``pip install 'storyreel[ray]'``. ``--ray-address`` joins a running cluster (``ray start --head`` on one machine,
``ray start --address ...`` on the others, with storyreel and the model installed on each); without it, a local
cluster is started for the run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import plugins
from ..errors import BackendError, Cancelled, InputError, StoryreelError, first_line
from ..store import jobs as q
from ..store.db import Project
from .inprocess import _Heartbeat, about_job, request_from_spec, request_of, stored_picture

log = logging.getLogger("storyreel.ray")


class Maker:
    """The actor: a warm backend that makes one batch per task, and stops at the next step when asked."""

    def __init__(self, name: str, model: str | None, options: dict[str, str]) -> None:
        self.backend = plugins.create("image_backend", name, model=model, **options)
        self.stop_asked = threading.Event()

    def make(self, batch: list[dict[str, Any]]) -> list[tuple[bytes, dict[str, Any]]]:
        """Each job's (PNG, record), in order; the PNGs are encoded here, beside the GPU, not in the driver."""
        self.stop_asked.clear()
        requests = [request_from_spec(j["request"]) for j in batch]
        images = self.backend.generate(requests, should_stop=self.stop_asked.is_set)
        return [stored_picture(self.backend, j["spec"], r, im, j["about"]) for j, r, im in zip(batch, requests, images,
                                                                                             strict=True)]  # fmt: skip

    def stop(self) -> None:
        self.stop_asked.set()


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: run `pip install 'storyreel[ray]'`") from None
    return ray


@dataclass
class _Running:
    actor: int
    jobs: list[q.Job]
    beat: _Heartbeat
    handle: Any = None


class RayExecutor:
    """Makes a project's queued jobs on a Ray cluster's actors; ``actors``: how many (default: one per GPU, or one
    per four CPUs where there is no GPU)."""

    def __init__(self, address: str | None = None, actors: int | None = None, batch_size: int = 16,
                 log: Callable[[str], None] = lambda _: None) -> None:  # fmt: skip
        if actors is not None and actors < 1:
            raise InputError(f"--ray-actors {actors}: give at least 1")
        self.say = log
        self.ray = _connect(address)
        resources = self.ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        cpus = int(resources.get("CPU", 1))
        self.count = actors or self.gpus or max(1, cpus // 4)
        # an actor's share: a GPU, or the CPUs divided between the actors (torch uses as many threads)
        self.share = {"num_gpus": 1, "num_cpus": 0} if self.gpus else {"num_cpus": max(1, cpus // self.count)}
        self.batch_size = batch_size
        self.worker = q.new_worker_id()  # host:pid:random; each actor's jobs are held under worker-N
        self.made = 0
        self._key: tuple[Any, ...] | None = None
        self._actors: dict[int, Any] = {}
        self.say(f"Ray: {self.count} {'GPU' if self.gpus else 'CPU'} actor{'s' * (self.count != 1)} "
                 f"on {resources.get('CPU', 0):.0f} CPUs, {self.gpus} GPUs")  # fmt: skip

    @staticmethod
    def _key_of(spec: dict[str, Any]) -> tuple[Any, ...]:
        return spec["backend"], spec.get("model"), tuple(sorted((spec.get("options") or {}).items()))

    def _mixes(self, spec: dict[str, Any]) -> bool:
        """A batch spans scenes on GPU actors of the diffusers backend (as the in-process worker's, see
        DiffusersBackend.mixes_prompts); CPU actors make a scene at a time."""
        return bool(self.gpus) and spec.get("backend") == "diffusers"

    def _pool(self, spec: dict[str, Any]) -> dict[int, Any]:
        """The actors for this backend and model, started once (a new model replaces them: only when none is busy)."""
        key = self._key_of(spec)
        if key != self._key:
            for a in self._actors.values():
                self.ray.kill(a)
            remote = self.ray.remote(max_restarts=0, max_concurrency=2, **self.share)(Maker)
            self._actors = {i: remote.remote(spec["backend"], spec.get("model"), dict(spec.get("options") or {}))
                            for i in range(self.count)}  # fmt: skip
            self._key = key
        return self._actors

    def drain(self, project: Project, ids: list[int], progress: Callable[[int, int], None] | None = None,
              should_stop: Callable[[], bool] | None = None, poll: float = 0.2) -> list[q.Job]:  # fmt: skip
        """Make these jobs (another worker may share them) until every one has ended; return them."""
        running: dict[Any, _Running] = {}
        try:
            while True:
                current = q.jobs(project, ids)
                ended = sum(1 for j in current if j.state in q.FINAL)
                if progress:
                    progress(ended, len(current))
                if ended == len(current) and not running:
                    return current
                if should_stop and should_stop():
                    raise Cancelled(f"stopped after {self.made} images; run the same command again to make the rest")
                self._start_batches(project, ids, running, current)
                if not running:
                    time.sleep(poll)  # the rest is being made by another worker
                    continue
                ready, _ = self.ray.wait(list(running), num_returns=1, timeout=poll)
                for ref in ready:
                    self._store(project, running.pop(ref), ref)
                for r in running.values():
                    if r.beat.cancelled.is_set():
                        self._actors[r.actor].stop.remote()
        finally:  # stopped or failed: what is being made goes back to the queue, each actor stops its batch
            for r in running.values():
                if r.actor in self._actors:
                    self._actors[r.actor].stop.remote()
                q.end(project, r.jobs, "queued")
                r.beat.done.set()
                r.beat.join()

    def _start_batches(self, project: Project, ids: list[int], running: dict[Any, _Running],
                       current: list[q.Job]) -> None:  # fmt: skip
        if not any(j.state == "queued" for j in current):
            return
        busy = {r.actor for r in running.values()}
        if not running:
            self._pool(next(j.spec for j in current if j.state == "queued"))
        idle = [i for i in self._actors if i not in busy]
        queued = sum(1 for j in current if j.state == "queued")
        for n, i in enumerate(idle):
            # the queue shared among the idle actors (a batch may span scenes): none waits while another has two
            # batches' work
            share = -(-queued // (len(idle) - n))
            batch = q.claim(project, f"{self.worker}-{i}", max(1, min(self.batch_size, share)), only=ids,
                            across=self._mixes)  # fmt: skip
            queued -= len(batch)
            if not batch:
                return
            if batch[0].kind == "render":
                q.end(project, batch, "queued")  # a render is made by the studio's worker, not on the cluster
                return
            if self._key_of(batch[0].spec) != self._key:  # another model: made once the batches in hand are back
                q.end(project, batch, "queued")
                return
            actor = self._actors[i]
            payload = [{"spec": j.spec, "request": dataclasses.asdict(request_of(project, j)),
                        "about": about_job(project, j)} for j in batch]  # fmt: skip
            beat = _Heartbeat(project.path / "project.db", f"{self.worker}-{i}", [j.id for j in batch])
            beat.start()
            running[actor.make.remote(payload)] = _Running(i, batch, beat, actor)

    def _store(self, project: Project, r: _Running, ref: Any) -> None:
        """A batch's task came back: store its pictures, or say what went wrong and put its jobs where they go."""
        ray = self.ray
        try:
            pictures = ray.get(ref)
        except ray.exceptions.RayActorError as err:  # the actor died (killed, out of memory, its node lost)
            if self._actors.get(r.actor) is r.handle:
                self._actors.pop(r.actor)
            q.release(project, r.jobs)
            left = len(self._actors)
            self.say(f"a Ray actor died mid-batch ({first_line(err)}); its {len(r.jobs)} images go to "
                     f"{'another' if left else 'nobody'}")  # fmt: skip
            if not left:
                raise BackendError("every Ray actor died: see the Ray logs (`ray logs`); what was made is kept, "
                                   "run the same command again to make the rest") from None  # fmt: skip
            return
        except ray.exceptions.RayTaskError as err:
            cause = err.cause if isinstance(getattr(err, "cause", None), BaseException) else err
            if isinstance(cause, Cancelled):  # the user cancelled it (a stop of ours puts the batch back itself)
                q.end(project, r.jobs, "cancelled", str(cause))
            elif isinstance(cause, StoryreelError):
                log.warning("batch %s failed: %s", r.jobs[0].batch, cause)
                q.end(project, r.jobs, "failed", str(cause))
            else:
                log.warning("batch %s failed: %s", r.jobs[0].batch, err)
                q.end(project, r.jobs, "failed", f"storyreel failed on Ray ({type(cause).__name__}: {cause})")
            return
        finally:
            r.beat.done.set()
            r.beat.join()
        for job, (png, meta) in zip(r.jobs, pictures, strict=True):
            q.finish(project, job, png, meta)
            self.made += 1


def _connect(address: str | None) -> Any:
    """Ray, joined to the cluster at ``address`` (or to a local one started now)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = import_ray()
    if ray.is_initialized():
        return ray
    try:
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        chain, cause = [], err
        while cause is not None:
            chain.append(str(cause))
            cause = cause.__cause__
        if any("InvalidAuthToken" in c for c in chain):
            raise BackendError(f"{where} asks for its token: run with RAY_AUTH_MODE=token, and RAY_AUTH_TOKEN set "
                               "to the cluster's (`ray get-auth-token` on its head) unless ~/.ray/auth_token holds "
                               "it") from None  # fmt: skip
        raise BackendError(f"cannot reach {where}: {first_line(err)}; start one with `ray start --head`, "
                           "or leave out --ray-address to start one for this run") from None  # fmt: skip
    return ray
