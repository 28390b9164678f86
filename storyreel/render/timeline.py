"""The video's timeline as plain data: when each scene shows, how its picture moves, when each caption shows.

Scene i holds the screen for its narration plus a pause; its voice starts when its slot starts. Crossfades are
centred on the cuts, so they add nothing to the length: the video lasts exactly as long as the narration plus
the pauses.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

from ..stages.language import IDEOGRAPHIC
from ..types import WordTiming

MOTIONS = ("zoom_in", "pan_right", "zoom_out", "pan_up", "pan_left", "pan_down")
ZOOM = 1.12  # how far a picture zooms over its scene: gentle
MAX_CAPTION_WORDS = 6


@dataclass(frozen=True)
class Slot:
    index: int
    start: float  # when the voice starts: half way through the dissolve into the picture
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


_BREAK_AFTER = re.compile(
    r"[.!?;:,\u2026\u3002\uff0c\u060c\u061b\u061f\u3001\uff01\uff1f\uff1b\uff1a]"
    r"['\"\u201d\u2019)\u00bb\u300d\u300f\u300b\uff09]*$"
)
_IDEOGRAPH = re.compile(f"[{IDEOGRAPHIC}]")


IDEOGRAPH_WEIGHT = 0.55  # a caption holds up to eleven Chinese characters (with their marks): one line


def _weight(w: WordTiming) -> float:
    """How much of a caption a word takes: 1, or for a Chinese character or kana (a "word" of its own, see
    tts.base.word_spans) IDEOGRAPH_WEIGHT for it and each full-width mark with it ("虎！」")."""
    if not _IDEOGRAPH.search(w.text):
        return 1.0
    return IDEOGRAPH_WEIGHT * sum(unicodedata.east_asian_width(ch) in "WF" for ch in w.text)


def _group_words(ws: list[WordTiming]) -> list[list[WordTiming]]:
    """Phrases cut after punctuation; long ones split into even parts of at most MAX_CAPTION_WORDS; short
    neighbours joined while they fit."""
    phrases: list[list[WordTiming]] = [[]]
    for w in ws:
        phrases[-1].append(w)
        if _BREAK_AFTER.search(w.text):
            phrases.append([])
    groups: list[list[WordTiming]] = []
    weights: list[float] = []
    for ph in (p for p in phrases if p):
        total = sum(_weight(w) for w in ph)
        parts = math.ceil(total / MAX_CAPTION_WORDS - 1e-9)
        unit = min(_weight(w) for w in ph)  # even parts, counted in the phrase's smallest words
        size = math.ceil(total / parts / unit - 1e-9) * unit
        chunks: list[list[WordTiming]] = [[]]
        filled = 0.0
        for w in ph:
            if chunks[-1] and filled + _weight(w) > size + 1e-9:
                chunks.append([])
                filled = 0.0
            chunks[-1].append(w)
            filled += _weight(w)
        for chunk in chunks:
            weight = sum(_weight(w) for w in chunk)
            if groups and weights[-1] + weight <= MAX_CAPTION_WORDS + 1e-9 and min(weights[-1], weight) < 3:
                groups[-1].extend(chunk)
                weights[-1] += weight
            else:
                groups.append(chunk)
                weights.append(weight)
    return groups


def caption_text(words: list[WordTiming]) -> str:
    """The words of a caption as they are written: spaces between words, none between Chinese characters."""
    out = words[0].text if words else ""
    for before, w in zip(words, words[1:], strict=False):
        out += ("" if _IDEOGRAPH.search(before.text) and _IDEOGRAPH.search(w.text) else " ") + w.text
    return out


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
            out.append(Caption(round(start, 3), round(end, 3), caption_text(g)))
    return out
