"""The TTSEngine interface: text in, a mono WAV and each word's time span out."""

from __future__ import annotations

import io
import re
import wave
from abc import ABC, abstractmethod

import numpy as np

from ..stages.language import IDEOGRAPHIC
from ..types import Speech, WordTiming

# A word is a run of non-space characters; a Chinese character or kana is a word of its own, with the marks
# around it (「 before, 。」 after): those scripts have no spaces, and espeak times them one by one.
_OPEN = "\u300c\u300e\u3008\u300a\u3010\uff08\u201c\u2018\u00ab(\\["
_CLOSE = "\u3001\u3002\uff0c\uff01\uff1f\uff1b\uff1a\u300d\u300f\u3009\u300b\u3011\uff09\u201d\u2019\u00bb\u2026\u30fb)\\].,!?;:"
_WORD = re.compile(f"[{_OPEN}]*[{IDEOGRAPHIC}][{_CLOSE}]*|(?:(?![{IDEOGRAPHIC}])\\S)+")


class TTSEngine(ABC):
    name: str = ""
    voice: str = ""
    notes: tuple[str, ...] = ()  # what the user should be told about the voice chosen, a line each

    @abstractmethod
    def speak(self, text: str) -> Speech: ...

    def check(self) -> None:  # noqa: B027 (engines that can check more say so)
        """Raise a TTSError now if this engine cannot speak with its voice (before any work is done)."""

    def key(self) -> tuple:
        """Everything that changes the sound, for the narration's input key."""
        return (self.name, self.voice)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as w:
        rate, ch, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError(f"expected 16-bit WAV, got {8 * width}-bit")
    samples = np.frombuffer(raw, dtype="<i2")
    if ch > 1:
        samples = samples.reshape(-1, ch).mean(axis=1).astype(np.int16)
    return samples, rate


def speech_end(samples: np.ndarray, rate: int, threshold: int = 300) -> float:
    """Seconds until the last sample louder than ``threshold`` (trailing silence excluded)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    return (int(loud[-1]) + 1) / rate if loud.size else 0.0


def word_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _WORD.finditer(text)]


def timings_from_starts(text: str, starts: list[float | None], end: float) -> tuple[WordTiming, ...]:
    """Word timings from the start time of each word (None where unknown: interpolated between neighbours)."""
    spans = word_spans(text)
    known = [(i, s) for i, s in enumerate(starts) if s is not None]
    filled: list[float] = []
    for i in range(len(spans)):
        if starts[i] is not None:
            filled.append(float(starts[i]))  # type: ignore[arg-type]
            continue
        before = next(((j, s) for j, s in reversed(known) if j < i), (-1, 0.0))
        after = next(((j, s) for j, s in known if j > i), (len(spans), end))
        frac = (i - before[0]) / (after[0] - before[0])
        filled.append(before[1] + frac * (after[1] - before[1]))
    for i in range(1, len(filled)):  # never backwards
        filled[i] = max(filled[i], filled[i - 1])
    out = []
    for i, (s, e) in enumerate(spans):
        stop = filled[i + 1] if i + 1 < len(filled) else max(end, filled[i])
        out.append(WordTiming(text[s:e], round(filled[i], 3), round(max(stop, filled[i]), 3)))
    return tuple(out)


def proportional_timings(text: str, duration: float) -> tuple[WordTiming, ...]:
    """When an engine gives no word events: spread the words over the speech by their length."""
    spans = word_spans(text)
    weights = [len(text[s:e]) + 2 for s, e in spans]
    total = sum(weights) or 1
    starts, t = [], 0.0
    for w in weights:
        starts.append(t)
        t += duration * w / total
    return timings_from_starts(text, starts, duration)  # type: ignore[arg-type]
