"""Shared fixtures: a tiny random-weight Stable Diffusion model, stories, and a way to run the real CLI."""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "storyreel" / "data" / "example_story.md"

# torch's OpenMP threads wait for work by spinning: on a machine where anything else runs (another process of this
# suite, an editor, a second developer) they fight over the cores and a tiny-model image can take ten times as long.
# Passive waiting changes no result, only that; it is set before torch is loaded here, and the storyreel processes
# the tests start inherit it. A value already set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

THREE_SCENES = """# A test tale

Prince Siegfried rode out of the city at dawn with his grey hair in the wind.
The dragon Fafnir slept in the mountain, and the beast dreamed of gold.
He climbed the mountain, and she roared at him: "100% mine: don't touch!"
"""


# `make mutate` (mutmut) runs, for each mutant, the tests that reach the mutated function and stops at the first
# failure: the quick modules first, so that a mutant they catch never waits for a module that renders a video.
QUICK_FIRST = ["test_tts", "test_render", "test_edit", "test_generate_fast", "test_api", "test_markdown",
               "test_languages", "test_video_output"]  # fmt: skip


def shared_scope(fixture_name, config) -> str:
    """A fixture shared by a module's tests (one render measured many ways), except while mutmut learns which
    tests reach which code: then each test makes its own, so every test of the module is run against the mutants
    of the code the fixture runs (mutmut credits what a module fixture reaches to its first test only)."""
    return "function" if os.environ.get("MUTANT_UNDER_TEST") == "stats" else "module"


def pytest_collection_modifyitems(items):
    if os.environ.get("MUTANT_UNDER_TEST", "") in ("", "stats", "fail", "mutant_generation"):
        return
    rank = {name: i for i, name in enumerate(QUICK_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rpartition(".")[2], len(rank)))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """No test reads or writes the user's caches."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip("diffusers")
    from tiny_sd import build_tiny_sd

    return build_tiny_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture
def story_file(tmp_path) -> Path:
    path = tmp_path / "story.md"
    path.write_text(THREE_SCENES, encoding="utf-8")
    return path


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path, cwd: Path | None = None, env: dict | None = None, timeout: float = 600) -> Run:
    """Run the storyreel command as a user would, in a fresh process."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "storyreel.cli", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli


def write_tone(path: Path, seconds: float = 3.0, freq: float = 220.0, rate: int = 44100) -> Path:
    """A stereo sine tone WAV: music for tests."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = bytearray()
        for i in range(int(seconds * rate)):
            v = int(12000 * math.sin(2 * math.pi * freq * i / rate))
            frames += struct.pack("<hh", v, v)
        w.writeframes(bytes(frames))
    return path


def decode_audio(path: Path, rate: int = 8000):
    """The audio of a media file as mono float samples (via ffmpeg)."""
    import numpy as np

    from storyreel.render.ffmpeg import ffmpeg_exe

    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").astype("float32") / 32768.0


def frame_at(path: Path, t: float):
    """One decoded RGB frame at time t."""
    import numpy as np

    from storyreel.render.ffmpeg import ffmpeg_exe, probe

    info = probe(path)
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-ss", f"{t:.3f}", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.uint8).reshape(info.height, info.width, 3)


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.strip().splitlines()
        start, end = lines[1].split(" --> ")

        def secs(s: str) -> float:
            h, m, rest = s.split(":")
            sec, ms = rest.split(",")
            return int(h) * 3600 + int(m) * 60 + int(sec) + int(ms) / 1000

        out.append((secs(start), secs(end), " ".join(lines[2:])))
    return out


def integrated_loudness(path: Path) -> float:
    """EBU R128 integrated loudness of a file, in LUFS (ffmpeg's ebur128 filter)."""
    import re

    from storyreel.render.ffmpeg import ffmpeg_exe

    err = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True,
        text=True,
    ).stderr
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", err)[-1])


def send_reply(handler, code: int, data: object, ctype: str = "application/json") -> None:
    """Answer a request of a test's local HTTP server (http.server) with JSON, or with bytes as they are."""
    import json

    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)

