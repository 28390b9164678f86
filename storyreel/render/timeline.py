"""The video's timeline as plain data: when each scene shows, how its picture moves, when each caption shows.

Scene i holds the screen for its narration plus a pause; its voice starts when its slot starts. Crossfades are
centred on the cuts, so they add nothing to the length: the video lasts exactly as long as the narration plus
the pauses.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..types import WordTiming

MOTIONS = ("zoom_in", "pan_right", "zoom_out", "pan_up", "pan_left", "pan_down")
ZOOM = 1.12  # how far a picture zooms over its scene: gentle
MAX_CAPTION_WORDS = 6


@dataclass(frozen=True)
class Slot:
    index: int
    start: float  # when the voice starts and the picture is fully in
    end: float
    voice: float  # the narration's length
    motion: str


@dataclass(frozen=True)
class Caption:
    start: float
    end: float
    text: str


@dataclass
class Timeline:
    width: int
    height: int
    fps: int
    slots: list[Slot]
    crossfade: float
    captions: list[Caption] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.slots[-1].end if self.slots else 0.0

    @property
    def frames(self) -> int:
        return round(self.duration * self.fps)

    def frame_plan(self, n: int) -> list[tuple[int, float, float]]:
        """What frame ``n`` shows: [(slot index, weight, motion progress 0..1)], weights summing to 1."""
        t = (n + 0.5) / self.fps
        half = self.crossfade / 2
        out = []
        for s in self.slots:
            lo = s.start - (half if s.index > 0 else 0.0)
            hi = s.end + (half if s.index < len(self.slots) - 1 else 0.0)
            if not lo <= t < hi and not (s.index == len(self.slots) - 1 and t >= hi):
                continue
            progress = min(1.0, max(0.0, (t - lo) / (hi - lo)))
            weight = 1.0
            if s.index > 0 and t < s.start + half:
                weight = _ease((t - (s.start - half)) / self.crossfade)
            if s.index < len(self.slots) - 1 and t >= s.end - half:
                weight = 1.0 - _ease((t - (s.end - half)) / self.crossfade)
            out.append((s.index, weight, progress))
        total = sum(w for _, w, _ in out) or 1.0
        return [(i, w / total, p) for i, w, p in out]


def _ease(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return 0.5 - 0.5 * math.cos(math.pi * x)


def build_timeline(
    voice_durations: list[float],
    width: int = 1080,
    height: int = 1920,
    fps: int = 30,
    pause: float = 0.6,
    crossfade: float = 0.5,
    words: list[list[WordTiming]] | None = None,
) -> Timeline:
    slots, t = [], 0.0
    for i, d in enumerate(voice_durations):
        end = t + d + pause
        slots.append(Slot(i, t, end, d, MOTIONS[i % len(MOTIONS)]))
        t = end
    tl = Timeline(width, height, fps, slots, crossfade if len(slots) > 1 else 0.0)
    if words is not None:
        tl.captions = caption_groups(tl, words)
    return tl


_BREAK_AFTER = re.compile(r"[.!?;:,\u2026\u3002\uff0c\u060c]['\"\u201d\u2019)]*$")


def _group_words(ws: list[WordTiming]) -> list[list[WordTiming]]:
    """Phrases cut after punctuation; long ones split into even parts of at most MAX_CAPTION_WORDS; short
    neighbours joined while they fit."""
    phrases: list[list[WordTiming]] = [[]]
    for w in ws:
        phrases[-1].append(w)
        if _BREAK_AFTER.search(w.text):
            phrases.append([])
    groups: list[list[WordTiming]] = []
    for ph in (p for p in phrases if p):
        parts = -(-len(ph) // MAX_CAPTION_WORDS)
        size = -(-len(ph) // parts)
        for k in range(0, len(ph), size):
            chunk = ph[k : k + size]
            if groups and len(groups[-1]) + len(chunk) <= MAX_CAPTION_WORDS and min(len(groups[-1]), len(chunk)) < 3:
                groups[-1].extend(chunk)
            else:
                groups.append(chunk)
    return groups


def caption_groups(tl: Timeline, words: list[list[WordTiming]]) -> list[Caption]:
    """Captions of at most MAX_CAPTION_WORDS words, in time with the voice."""
    out: list[Caption] = []
    for slot, ws in zip(tl.slots, words, strict=True):
        groups = _group_words(ws)
        for gi, g in enumerate(groups):
            start = slot.start + g[0].start
            if gi + 1 < len(groups):
                end = slot.start + groups[gi + 1][0].start
            else:
                end = min(slot.end, slot.start + g[-1].end + 0.3)
            if end - start < 0.05:
                continue
            out.append(Caption(round(start, 3), round(end, 3), " ".join(w.text for w in g)))
    return out
