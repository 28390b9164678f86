"""What a newcomer sees: `storyreel make` says only storyreel's own lines, no warnings of the libraries under it
(setuptools, torchvision, OpenCV's "[ WARN", transformers, diffusers, huggingface_hub) and no traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import storyreel

EXAMPLE = Path(storyreel.__file__).parent / "data" / "example_story.md"
# "Warning", "[ WARN:0@0.1]", "warnings.warn(", "... to silence this warning", "[transformers] ...", a traceback
LIBRARY_NOISE = re.compile(r"warn|traceback|^\s*\[(transformers|diffusers|huggingface_hub|torch)\]", re.IGNORECASE)


def noise(stderr: str) -> list[str]:
    """Lines of library noise (tests/e2e/test_make_diffusers.py checks a diffusers make with it too)."""
    return [line for line in stderr.splitlines() if LIBRARY_NOISE.search(line)]


def test_make_sketch_of_the_example_story_says_no_library_warnings(tmp_path, cli):
    out = tmp_path / "out" / "demo.mp4"
    # every stage of a make, on the whole example story; the fast voice and the square video only make the render
    # (most of a make's time, about as long as the narration) shorter: they bring no library in and keep none out
    run = cli("make", EXAMPLE, "-o", out, "--backend", "sketch", "--speed", "450", "--aspect", "1:1")
    assert run.code == 0, run.stderr
    assert out.exists()
    assert noise(run.stderr) == [], run.stderr


def test_opencv_keeps_quiet_about_a_picture_it_cannot_read(tmp_path):
    # storyreel says which scene to regenerate; OpenCV's own "[ WARN:0@0.01] global loadsave.cpp ..." must not
    # come first (cv2 is imported by the video stage, after storyreel)
    broken = tmp_path / "scene-1.png"
    broken.write_bytes(b"not a picture")
    gone = tmp_path / "gone.png"
    code = f"import storyreel, cv2; assert cv2.imread({str(broken)!r}) is None; cv2.imread({str(gone)!r})"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert noise(run.stderr) == [], run.stderr
