"""ffmpeg: found once, always run with argument lists, its failures turned into one-line RenderErrors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import InputError, RenderError


@cache
def ffmpeg_exe() -> str:
    """STORYREEL_FFMPEG, else the full build that ships with imageio-ffmpeg, else ffmpeg on the PATH."""
    env = os.environ.get("STORYREEL_FFMPEG")
    if env:
        return env
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        pass
    found = shutil.which("ffmpeg")
    if found:
        return found
    raise RenderError("ffmpeg not found: run `pip install imageio-ffmpeg` or install ffmpeg")


def run(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run ffmpeg with these arguments; return its stderr. Raises RenderError with ffmpeg's own last words."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise RenderError(f"ffmpeg failed: {last_error(proc.stderr)}")
    return proc.stderr


def last_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.search(r"error|invalid|no space|permission|not found|failed", ln, re.I):
            return ln[:300]
    return lines[-1][:300] if lines else "no message"


@dataclass(frozen=True)
class MediaInfo:
    duration: float
    video: str | None  # e.g. "h264 (High) ... yuv420p(...), 1080x1920, 30 fps"
    audio: str | None  # e.g. "aac (LC) ... 48000 Hz, stereo, fltp, 192 kb/s"
    width: int | None
    height: int | None
    fps: float | None


def probe(path: Path) -> MediaInfo:
    """What ffmpeg sees in a media file (imageio-ffmpeg has no ffprobe, so we read `ffmpeg -i`)."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True, errors="replace"
    )
    err = proc.stderr
    if "Invalid data found" in err or "No such file" in err or "Input #0" not in err:
        raise InputError(f"{path} is not a media file ffmpeg can read: give an audio or video file")
    dur = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", err)
    duration = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else 0.0
    video = re.search(r"Stream #\S+.*?: Video: (.*)", err)
    audio = re.search(r"Stream #\S+.*?: Audio: (.*)", err)
    size = re.search(r"(\d{2,5})x(\d{2,5})", video.group(1)) if video else None
    fps = re.search(r"([\d.]+) fps", video.group(1)) if video else None
    return MediaInfo(
        duration,
        video.group(1) if video else None,
        audio.group(1) if audio else None,
        int(size.group(1)) if size else None,
        int(size.group(2)) if size else None,
        float(fps.group(1)) if fps else None,
    )


def metadata(path: Path) -> dict[str, str]:
    """A media file's container tags (title, comment, ...), as `ffmpeg -i` prints them."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True, errors="replace"
    )
    if "Input #0" not in proc.stderr:
        raise InputError(f"{path} is not a media file ffmpeg can read")
    head = proc.stderr.split("Stream #", 1)[0]
    tags = re.findall(r"^\s{4}(\w+)\s*: (.*)$", head, flags=re.M)
    return {k.lower(): v.strip() for k, v in tags}


def check_audio(path: Path) -> MediaInfo:
    if not path.is_file():
        raise InputError(f"music file {path} not found: check the path")
    try:
        info = probe(path)
    except InputError:
        raise InputError(f"{path} is not an audio file: give an MP3, WAV, OGG, FLAC or M4A file") from None
    if info.audio is None:
        raise InputError(f"{path} has no sound in it: give an MP3, WAV, OGG, FLAC or M4A file")
    return info
