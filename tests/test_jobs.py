"""The job queue and its worker: each image made once, whatever clicks twice, whichever worker dies, and cancel."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from storyreel import plugins
from storyreel.executors.inprocess import Worker
from storyreel.stages.images import image_jobs
from storyreel.store import jobs as q
from storyreel.store.db import Project
from storyreel.types import ImageRequest


def _jobs(backend, targets: list[str], per: int, steps: int = 1, size: tuple[int, int] = (64, 112), seed: int = 5):
    out = []
    for t in targets:
        reqs = [ImageRequest(f"a picture of {t}", "", seed + k, steps, 7.0, size[0], size[1], scene=1) for k in range(per)]
        out += image_jobs("candidate", t, backend, reqs)
    return out


def _sketch():
    return plugins.create("image_backend", "sketch")


def _rows(db_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db_path, timeout=30) as db:
        return db.execute(sql).fetchall()


def _wait(cond, timeout: float = 120.0, every: float = 0.05) -> None:
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise AssertionError("timed out waiting")
        time.sleep(every)


def _worker_process(folder: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "storyreel.cli", "worker", str(folder), "--batch", "4"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},  # two workers share two cores
    )  # fmt: skip


def _until_serving(proc: subprocess.Popen) -> None:
    line = proc.stderr.readline()
    assert "serving" in line, line


def test_queuing_twice_makes_nothing_twice(tmp_path):
    project = Project(tmp_path / "p")
    backend = _sketch()
    jobs = _jobs(backend, ["s1", "s2", "s3"], 2)
    first = q.enqueue(project, jobs)
    again = q.enqueue(project, jobs)  # a double click, a second tab
    assert first == again and len(set(first)) == 6
    assert len(q.jobs(project)) == 6
    worker = Worker(backends={("sketch", "sketch"): backend})
    ended = worker.drain(project, first)
    assert [j.state for j in ended] == ["done"] * 6 and worker.made == 6
    # made already: queuing it again makes nothing
    third = q.enqueue(project, jobs)
    assert third == first and all(j.state == "done" for j in q.jobs(project))
    assert worker.run_batch(project) == 0
    assert len(project.candidates()) == 6
    # one batch per target: each scene's candidates come from one backend call
    assert len({j.batch for j in ended}) == 3


def test_a_backend_that_makes_several_prompts_at_once_gets_scenes_together_the_urgent_one_first(tmp_path):
    """diffusers on a GPU makes several scenes' prompts in one call: a batch then spans scenes (each scene's
    candidates together, in the order they were queued), a regenerated scene is made before the others and alone,
    and cancelling one scene of a batch gives the other scenes' jobs back to the queue, not counted as a try."""
    from dataclasses import replace

    from storyreel.backends.sketch import SketchBackend
    from storyreel.errors import Cancelled

    calls: list[list[str]] = []

    class Mixing(SketchBackend):
        mixes_prompts = True

        def generate(self, requests, progress=None, should_stop=None):
            calls.append([r.prompt.rsplit(" ", 1)[1] for r in requests])
            if should_stop and "s9" in calls[-1]:
                _wait(should_stop)  # until the user cancels s9: then it stops at its next step, as diffusers does
                raise Cancelled("generation stopped")
            return super().generate(requests, progress, should_stop)

    project = Project(tmp_path / "p")
    mixing = Mixing()
    ids = q.enqueue(project, _jobs(mixing, ["s1", "s2", "s3"], 3))
    ids += q.enqueue(project, [replace(j, priority=1) for j in _jobs(mixing, ["s4"], 2)])  # "Regenerate" on s4
    worker = Worker(batch_size=7, backends={("sketch", "sketch"): mixing})
    worker.drain(project, ids)
    assert calls == [["s4", "s4"], ["s1"] * 3 + ["s2"] * 3 + ["s3"], ["s3", "s3"]]
    assert sorted(r.scene_id for r in project.candidates()) == sorted(["s1", "s2", "s3"] * 3 + ["s4"] * 2)

    more = q.enqueue(project, _jobs(mixing, ["s9", "s8"], 2, seed=50))
    thread = threading.Thread(target=lambda: worker.run_batch(Project(tmp_path / "p")))
    thread.start()
    _wait(lambda: all(j.state == "running" for j in q.jobs(project, more)))
    q.cancel(project, target="s9")
    thread.join(timeout=60)
    assert {(j.target, j.state, j.attempts) for j in q.jobs(project, more)} == {("s9", "cancelled", 1),
                                                                                ("s8", "queued", 0)}  # fmt: skip


def test_two_workers_make_every_job_exactly_once(tmp_path, tiny_model):
    folder = tmp_path / "projects"
    project = Project(folder / "tale")
    workers = [_worker_process(folder), _worker_process(folder)]
    try:
        for w in workers:
            _until_serving(w)
        from storyreel.backends.diffusers_local import DiffusersBackend

        backend = DiffusersBackend(str(tiny_model))
        ids = q.enqueue(project, _jobs(backend, [f"s{i}" for i in range(10)], 2, steps=6))
        _wait(lambda: all(j.state == "done" for j in q.jobs(project, ids)), timeout=300)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=60)
            w.stderr.close()
    db = folder / "tale" / "project.db"
    assert _rows(db, "SELECT COUNT(*), COUNT(DISTINCT input_key), COUNT(DISTINCT media) FROM candidates") == [(20, 20, 20)]
    assert _rows(db, "SELECT MAX(attempts) FROM jobs") == [(1,)]  # nobody took a job another held
    by_worker = _rows(db, "SELECT worker, COUNT(*) FROM jobs GROUP BY worker")
    assert len(by_worker) == 2 and all(n > 0 for _, n in by_worker), by_worker  # both shared the work
    assert all(w.returncode == 0 for w in workers)


def test_a_killed_worker_loses_only_its_batch(tmp_path, tiny_model):
    folder = tmp_path / "projects"
    project = Project(folder / "tale")
    from storyreel.backends.diffusers_local import DiffusersBackend

    backend = DiffusersBackend(str(tiny_model))
    victim = _worker_process(folder)
    _until_serving(victim)
    ids = q.enqueue(project, _jobs(backend, ["s1", "s2", "s3", "s4"], 3, steps=40))
    # kill -9 while it is making its second batch
    _wait(lambda: sum(j.state == "done" for j in q.jobs(project, ids)) >= 3
          and any(j.state == "running" for j in q.jobs(project, ids)), timeout=300, every=0.01)  # fmt: skip
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    victim.stderr.close()
    held = [j for j in q.jobs(project, ids) if j.state == "running"]
    made_before = {r.input_key: (r.id, r.media) for r in project.candidates()}
    assert held and len(made_before) >= 3

    rescuer = Worker()  # another worker: the dead one's jobs are released at once (its process is gone)
    ended = rescuer.drain(project, ids)
    assert all(j.state == "done" for j in ended)
    rows = project.candidates()
    assert len(rows) == 12 and len({r.input_key for r in rows}) == 12
    assert all(made_before[r.input_key] == (r.id, r.media) for r in rows if r.input_key in made_before)
    assert rescuer.made == 12 - len(made_before)  # only what was not stored was made again
    again = {j.id: j for j in ended}
    assert all(again[j.id].attempts == 2 for j in held)


def test_a_worker_whose_heartbeat_stopped_is_presumed_dead(tmp_path, monkeypatch):
    project = Project(tmp_path / "p")
    ids = q.enqueue(project, _jobs(_sketch(), ["s1"], 2))
    taken = q.claim(project, "elsewhere:1:abc")  # a worker on another machine: only its heartbeat tells
    assert [j.id for j in taken] == ids
    assert q.claim(project, "me:2:def") == []  # it is beating: its jobs are its own
    with project.tx() as db:
        db.execute("UPDATE jobs SET heartbeat = heartbeat - ?", (q.STALE_SECONDS + 1,))
    again = q.claim(project, "me:2:def")
    assert [j.id for j in again] == ids and all(j.attempts == 2 for j in again)


def test_cancel_a_scene_and_the_batch_in_flight(tmp_path, tiny_model):
    from storyreel.backends.diffusers_local import DiffusersBackend

    project = Project(tmp_path / "p")
    backend = DiffusersBackend(str(tiny_model))
    slow = q.enqueue(project, _jobs(backend, ["slow"], 2, steps=400))
    other = q.enqueue(project, _jobs(_sketch(), ["s2", "s3"], 2))
    assert q.cancel(project, target="s3") == 2  # queued: cancelled at once
    worker = Worker()
    thread = threading.Thread(target=lambda: worker.run_batch(Project(tmp_path / "p")))
    thread.start()
    _wait(lambda: all(j.state == "running" for j in q.jobs(project, slow)))
    time.sleep(0.5)
    started = time.time()
    q.cancel(project, target="slow")  # running: it stops at its next step
    thread.join(timeout=60)
    assert not thread.is_alive() and time.time() - started < 10
    states = {j.target: j.state for j in q.jobs(project)}
    assert states == {"slow": "cancelled", "s2": "queued", "s3": "cancelled"}
    Worker().drain(project, other)
    assert sorted(r.scene_id for r in project.candidates()) == ["s2", "s2"]


def test_a_failing_batch_says_why_and_the_others_go_on(tmp_path):
    project = Project(tmp_path / "p")
    good = q.enqueue(project, _jobs(_sketch(), ["s1", "s3"], 1))
    bad = _jobs(_sketch(), ["s2"], 1)[0]
    bad_spec = {**bad.spec, "backend": "diffusers", "model": str(tmp_path / "no-model-here")}
    ids = q.enqueue(project, [q.NewJob(bad.kind, bad.target, bad.input_key, bad.batch, bad_spec)])
    ended = Worker().drain(project, good + ids)
    by_target = {j.target: j for j in ended}
    assert by_target["s1"].state == by_target["s3"].state == "done"
    assert by_target["s2"].state == "failed"
    assert "no-model-here" in by_target["s2"].error and "\n" not in by_target["s2"].error
    p = q.progress(project)
    assert p.targets["s2"].failed == 1 and p.targets["s2"].errors == [by_target["s2"].error]
    assert (p.done, p.total) == (3, 3)
    # queuing it again after a failure tries again
    q.enqueue(project, [q.NewJob(bad.kind, bad.target, bad.input_key, bad.batch, bad_spec)])
    assert q.jobs(project, ids)[0].state == "queued"


def test_generate_goes_through_the_queue(tmp_path, story_file, cli):
    """`storyreel generate` queues its jobs and makes them with the same worker code; what is made is not
    queued again."""
    folder = tmp_path / "projects"
    project = folder / "tale"
    assert cli("new", story_file, "--project", project).code == 0
    run = cli("generate", project, "--backend", "sketch", "--candidates", "2", "--seed", "3")
    assert run.code == 0, run.stderr
    assert "made 6 candidates" in run.stderr
    db = project / "project.db"
    assert _rows(db, "SELECT state, COUNT(*) FROM jobs GROUP BY state") == [("done", 6)]
    run = cli("generate", project, "--backend", "sketch", "--candidates", "3", "--seed", "3")
    assert "made 3 candidates" in run.stderr
    assert _rows(db, "SELECT COUNT(*) FROM candidates") == [(9,)]
