"""The studio's figures: how fast a Pick shows while the worker generates, and what the queue costs.

    python bench/ui.py [--picks 10] [--scenes 12] [--candidates 8]

1. Pick latency, in a real browser (Debian's Chromium) against `storyreel ui`: the time from a click on Pick to
   the page showing that candidate as picked, while the worker is generating (a tiny random-weight diffusers
   model keeps it busy on this machine's CPU), and again once it is idle.
2. Images per second through the worker (queue, claim, heartbeat, PNG, database) against the same backend
   called directly by a plain loop that saves PNGs, on the same requests, in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

STORY = "\n\n".join(
    f"In the {n} valley the old knight Aldric met a {w} traveller on the road to the hills."
    for n, w in zip(["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
                     "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth"],
                    ["weary", "cheerful", "silent", "limping", "singing", "hooded", "young", "ancient", "lost",
                     "proud", "gentle", "tall", "small", "quick", "sleepy", "brave"], strict=True)
)  # fmt: skip


def _requests(scenes: int, candidates: int, steps: int, size: tuple[int, int]):
    from storyreel.types import ImageRequest

    return {f"s{i}": [ImageRequest(f"a knight in valley {i}", "", 100 + k, steps, 7.0, size[0], size[1], scene=i + 1)
                      for k in range(candidates)] for i in range(scenes)}  # fmt: skip


def throughput(backend, scenes: int, candidates: int, steps: int, size: tuple[int, int]) -> tuple[float, float]:
    """Seconds for the same images made (1) by a plain loop calling the backend and saving PNGs, (2) through the
    queue and the worker. Each first warms the backend up."""
    from storyreel.executors.inprocess import Worker, png_bytes
    from storyreel.stages.images import image_jobs
    from storyreel.store import jobs as q
    from storyreel.store.db import Project

    work = _requests(scenes, candidates, steps, size)
    backend.generate(next(iter(work.values()))[:1])  # load the weights outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "plain"
        out.mkdir()
        t = time.perf_counter()
        for target, reqs in work.items():
            for k, image in enumerate(backend.generate(reqs)):
                (out / f"{target}-{k}.png").write_bytes(png_bytes(image))
        plain = time.perf_counter() - t

        project = Project(Path(tmp) / "project")
        jobs = [j for target, reqs in work.items() for j in image_jobs("candidate", target, backend, reqs)]
        worker = Worker(batch_size=candidates, backends={(backend.name, backend.location or backend.model_id): backend})
        t = time.perf_counter()
        ids = q.enqueue(project, jobs)
        ended = worker.drain(project, ids, poll=0.01)
        queued = time.perf_counter() - t
        assert all(j.state == "done" for j in ended) and len(project.candidates()) == len(jobs)
        project.close()
    return plain, queued


# in the page: note the time of the next click, and when an element with the wanted class is painted
WATCH = """(wanted) => {
  window.__pickLatency = null;
  let clicked = null;
  document.addEventListener('click', () => { clicked = performance.now(); }, {capture: true, once: true});
  const seen = () => document.getElementsByClassName(wanted).length > 0;
  const obs = new MutationObserver(() => {
    if (clicked !== null && seen()) {
      obs.disconnect();
      requestAnimationFrame(() => { window.__pickLatency = performance.now() - clicked; });
    }
  });
  obs.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
}"""


def pick_latency(picks: int, scenes: int, candidates: int, model: Path) -> tuple[list[float], list[float], float]:
    """Seconds from a click on Pick to the candidate shown as picked: while generating, then idle."""
    from browser import browser, open_page, settle, studio_server

    from storyreel import edit
    from storyreel.store import jobs as q
    from storyreel.store.db import Project

    busy, idle = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "projects"
        folder.mkdir()
        opts = {"backend": "diffusers", "model": str(model), "steps": 30, "size": "64x112", "candidates": candidates,
                "scenes": scenes, "seed": 1}  # fmt: skip
        edit.create_project(folder, "bench", STORY, opts).close()
        project = Project(folder / "bench")
        first = project.scenes()[0]
        with studio_server(folder) as url, browser(height=1200) as page:
            page.goto(f"{url}/storyboard?project=bench")
            settle(page)
            page.get_by_role("button", name="Generate all").click()
            settle(page)
            # the first scene's candidates are on the page; the others are still being made
            page.wait_for_function(
                f"document.querySelectorAll('[class*=\"st-key-cand_{first.id}_\"]').length >= {candidates}",
                timeout=300_000,
            )
            settle(page)

            def one_pick(n: int) -> float:
                """Timed in the page: from the click event to the first frame that shows the candidate framed
                as picked (a MutationObserver sees its class, then one animation frame for the paint)."""
                rows = project.candidates(first.id)
                target = rows[(n + 1) % len(rows)]
                wanted = f"st-key-cand_{first.id}_{target.id}_picked"
                page.evaluate(WATCH, wanted)
                page.locator(f'[class*="st-key-cand_{first.id}_{target.id}"]').get_by_role("button", name="Pick").click()
                took = page.wait_for_function("window.__pickLatency", timeout=60_000).json_value()
                settle(page)
                return took / 1000

            for n in range(picks):
                if not q.progress(project).busy:
                    break
                busy.append(one_pick(n))
            ended = time.time()
            while q.progress(project).busy:
                time.sleep(0.5)
            rate = q.progress(project).per_second
            settle(page)
            open_page(page, "Storyboard")
            for n in range(picks):
                idle.append(one_pick(n + picks))
            if not busy:
                print(f"note: generation ended {time.time() - ended:.0f} s before the first pick: use more --scenes")
        project.close()
    return busy, idle, rate


BASELINE_APP = """
import streamlit as st

@st.fragment
def card():
    n = st.session_state.get("n", 0)
    with st.container(key=f"box_{n}"):
        st.button("Pick", key="pick", on_click=lambda: st.session_state.update(n=n + 1))

card()
"""


def baseline_latency(picks: int) -> list[float]:
    """The same click-to-paint time on the smallest Streamlit page that does it (a button in a fragment that
    changes a container's key): the floor that Streamlit itself sets on this machine."""
    import os
    import subprocess

    from browser import browser, free_port, settle

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "baseline.py"
        app.write_text(BASELINE_APP)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
                                 "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())  # fmt: skip
        try:
            with browser() as page:
                for _ in range(100):
                    try:
                        page.goto(f"http://127.0.0.1:{port}")
                        break
                    except Exception:  # not up yet
                        time.sleep(0.2)
                settle(page)
                for n in range(picks):
                    page.evaluate(WATCH, f"st-key-box_{n + 1}")
                    page.get_by_role("button", name="Pick").click()
                    out.append(page.wait_for_function("window.__pickLatency", timeout=60_000).json_value() / 1000)
                    settle(page)
        finally:
            proc.terminate()
            proc.wait()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--picks", type=int, default=10)
    ap.add_argument("--scenes", type=int, default=12)
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--skip-browser", action="store_true")
    args = ap.parse_args()

    from tiny_sd import build_tiny_sd

    from storyreel import plugins

    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_sd(Path(tmp) / "tiny-sd")
        print("images per second, the same requests (scenes x candidates, one backend call per scene):")
        for label, backend, steps, size in (
            ("sketch cards, 576x1024", plugins.create("image_backend", "sketch"), 1, (576, 1024)),
            ("tiny diffusers, 64x112, 4 steps", plugins.create("image_backend", "diffusers", model=str(model)), 4,
             (64, 112)),
        ):  # fmt: skip
            n = args.scenes * args.candidates
            plain, queued = throughput(backend, args.scenes, args.candidates, steps, size)
            print(f"  {label:34s} plain loop {n / plain:7.1f}/s   worker {n / queued:7.1f}/s   "
                  f"ratio {plain / queued:.2f}   worker's own cost {(queued - plain) / n * 1000:+.1f} ms/image")  # fmt: skip
        if args.skip_browser:
            return
        busy, idle, rate = pick_latency(args.picks, args.scenes, args.candidates, model)
        floor = baseline_latency(args.picks)

    def line(xs: list[float]) -> str:
        if not xs:
            return "no samples"
        xs = sorted(xs)
        return (f"median {statistics.median(xs) * 1000:.0f} ms, p90 {xs[int(0.9 * (len(xs) - 1))] * 1000:.0f} ms, "
                f"max {xs[-1] * 1000:.0f} ms ({len(xs)} picks)")  # fmt: skip

    print("click on Pick -> shown as picked, in Chromium:")
    print(f"  while the worker generates ({rate:.1f} images/s): {line(busy)}")
    print(f"  idle:                                     {line(idle)}")
    print(f"  baseline, a one-button Streamlit page:    {line(floor)}")


if __name__ == "__main__":
    main()
