"""Render benchmark: a 60 s, 10-scene video against a plain ffmpeg still-image encode of the same length and size.

    python bench/render.py [--runs 2] [--aspect 9:16]

Prints both times, their ratio (target: full render within 1.25x of the plain encode) and the peak memory of
the render (the Python process and ffmpeg, each at its peak; target: under 1 GB together).
The pictures are textured like real generated images, so the encoder has real work to do.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SENTENCES = [
    "Long ago, in a kingdom by the grey northern sea, there lived a prince who feared nothing at all.",
    "Every morning he rode along the high white cliffs, watching the little ships come home with their silver fish.",
    "One winter a dragon came down from the mountains and burned the harbour in a single night.",
    "The frightened people begged the old king for help, but the king was tired and sad and could only weep.",
    "So the prince took his grandfather's sword and climbed alone into the frozen mountains.",
    "For three days he followed the smoke, until he found the cave where the dragon slept on gold.",
    "The beast opened one green eye and laughed, for it had eaten a hundred knights before him.",
    "But the prince did not draw his sword; instead he sat down and asked the dragon why it was so angry.",
    "Nobody had ever asked it anything, and the dragon wept hot tears that melted all the snow.",
    "In the spring they flew back to the harbour together, and the people never feared the sky again.",
]


def textured(seed: int, w: int = 576, h: int = 1024) -> np.ndarray:
    """A picture with the texture of a generated image: smooth shapes, edges and fine noise."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for _ in range(40):
        c = rng.uniform(0, 255, 3)
        cv2.circle(img, (int(rng.uniform(0, w)), int(rng.uniform(0, h))), int(rng.uniform(20, 220)), c.tolist(), -1)
    img = cv2.GaussianBlur(img, (0, 0), 6)
    img += rng.normal(0, 12, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def render_child(project_dir: str, output: str, aspect: str) -> None:
    """Runs in a child process: the render alone, then its peak memory."""
    from storyreel import Project
    from storyreel.stages.images import pick_candidates
    from storyreel.stages.narration import narrate_scenes
    from storyreel.stages.video import VideoSettings, render_video
    from storyreel.tts.espeak import EspeakEngine

    project = Project(project_dir)
    scenes = project.scenes()
    picks = pick_candidates(project, {s.id: project.candidates(s.id) for s in scenes})
    narrations = narrate_scenes(project, EspeakEngine(), scenes)  # already made: read back
    t0 = time.perf_counter()
    result = render_video(project, scenes, picks, narrations, Path(output), VideoSettings(aspect=aspect), force=True)
    seconds = time.perf_counter() - t0
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ff = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "duration": result.duration, "python_mb": me, "ffmpeg_mb": ff}))


def prepare(work: Path) -> tuple[Path, float]:
    import cv2

    from storyreel import Project, update_story
    from storyreel.pipeline import DEFAULTS
    from storyreel.stages.narration import narrate_scenes
    from storyreel.tts.espeak import EspeakEngine

    project = Project(work / "bench.storyreel")
    scenes, _ = update_story(project, "\n\n".join(SENTENCES), {**DEFAULTS, "scenes": None})
    assert len(scenes) == 10, len(scenes)
    for i, s in enumerate(scenes):
        ok, png = cv2.imencode(".png", cv2.cvtColor(textured(i), cv2.COLOR_RGB2BGR))
        row = project.add_candidate(s.id, f"bench-{i}", 0, png.tobytes(), backend="bench", model="bench", seed=i,
                                    steps=0, guidance=0.0, width=576, height=1024, prompt=s.text, negative="")  # fmt: skip
        project.pick(s.id, row.id, by="user")
    narr = narrate_scenes(project, EspeakEngine(), scenes)
    duration = sum(n.duration + 0.6 for n in narr.values())
    return project.path, duration


def plain_encode(work: Path, duration: float, width: int, height: int) -> float:
    import cv2

    from storyreel.render.ffmpeg import ffmpeg_exe

    still = work / "still.png"
    img = cv2.resize(textured(0), (width, height), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(still), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    t0 = time.perf_counter()
    subprocess.run(
        [ffmpeg_exe(), "-y", "-v", "error", "-loop", "1", "-framerate", "30", "-i", str(still), "-t", f"{duration:.3f}",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(work / "plain.mp4")],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--aspect", default="9:16")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        render_child(args.child[0], args.child[1], args.aspect)
        return
    from storyreel.stages.video import SIZES

    width, height = SIZES[args.aspect]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project, duration = prepare(work)
        print(f"video: {duration:.1f} s, 10 scenes, {width}x{height} at 30 fps")
        plain, full, mem = [], [], []
        for run in range(args.runs):
            plain.append(plain_encode(work, duration, width, height))
            out = subprocess.run(
                [sys.executable, __file__, "--aspect", args.aspect, "--child", str(project), str(work / f"r{run}.mp4")],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            stats = json.loads(out.strip().splitlines()[-1])
            full.append(stats["seconds"])
            mem.append(stats["python_mb"] + stats["ffmpeg_mb"])
            print(f"run {run + 1}: plain encode {plain[-1]:.1f} s, storyreel render {full[-1]:.1f} s "
                  f"(python {stats['python_mb']:.0f} MB + ffmpeg {stats['ffmpeg_mb']:.0f} MB)")  # fmt: skip
        p, f = min(plain), min(full)
        print(f"plain ffmpeg -loop 1 encode: {p:.2f} s")
        print(f"storyreel full render:       {f:.2f} s")
        print(f"ratio: {f / p:.2f}x (target <= 1.25x)")
        print(f"peak memory: {max(mem):.0f} MB (target < 1024 MB)")


if __name__ == "__main__":
    main()
