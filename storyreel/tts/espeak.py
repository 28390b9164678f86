"""espeak-ng, embedded: the shared library and voice data from the espeakng-loader wheel, driven through ctypes.

Word events from the synthesiser give each word's start time, for captions in time with the voice.
"""

from __future__ import annotations

import ctypes
import threading
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TTSError
from ..types import Speech
from .base import TTSEngine, speech_end, timings_from_starts, wav_bytes, word_spans

AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
CHARS_UTF8 = 1
EVENT_LIST_TERMINATED, EVENT_WORD = 0, 1
RATE, VOLUME, PITCH = 1, 2, 3

DEFAULT_VOICE = "en-us"
# voices to choose from in the studio (any espeak voice name works: `espeak-ng --voices`); "+f3" is a variant
VOICES = {
    "en-us": "English (US), male", "en-us+f3": "English (US), female", "en-gb": "English (UK), male",
    "en-gb+f2": "English (UK), female", "en-gb-scotland": "English (Scotland)", "en-029": "English (Caribbean)",
    "en-us+m7": "English (US), deep", "en-us+whisper": "English (US), whisper",
    "fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch",
}  # fmt: skip
DEFAULT_SPEED = 165  # words per minute; espeak's own default (175) sounds hurried for stories
LANGUAGE_VOICES = {"en": DEFAULT_VOICE, "zh": "cmn"}  # a language (ISO 639-1) whose voice has another name


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # milliseconds
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_lock = threading.Lock()  # espeak-ng keeps global state: one synthesis at a time per process


@cache
def _library() -> tuple[Any, int]:
    try:
        import espeakng_loader
    except ImportError:
        raise TTSError("espeak-ng is not installed: run `pip install espeakng-loader`") from None
    try:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
    except OSError as err:
        raise TTSError(f"cannot load the espeak-ng library: {err}") from None
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
        ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_Voice)]
    lib.espeak_GetCurrentVoice.restype = ctypes.c_void_p
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
    if rate <= 0:
        raise TTSError("espeak-ng could not start (its voice data is missing): reinstall espeakng-loader")
    return lib, rate


def _set_voice(lib: Any, voice: str) -> bool:
    """By voice name ("en-us", "gmw/en") or, failing that, by language ("en-gb", "fr")."""
    if lib.espeak_SetVoiceByName(voice.encode()) == 0:
        return True
    spec = _Voice(None, voice.lower().encode(), None, 0, 0, 0, 0, 0, None)
    if lib.espeak_SetVoiceByProperties(ctypes.byref(spec)) != 0:
        return False
    current = lib.espeak_GetCurrentVoice()
    if not current:
        return False
    # the voice must speak the language asked for
    return voice.lower().split("-")[0].encode() in b" ".join(_voice_languages(current))


def _voice_languages(voice: int) -> list[bytes]:
    """The languages of an espeak_VOICE: a list of (priority byte, name, NUL), ended by a 0 byte (so ctypes'
    c_char_p reads only the first)."""
    addr = ctypes.c_void_p.from_address(voice + _Voice.languages.offset).value
    out: list[bytes] = []
    while addr and len(out) < 64 and ctypes.string_at(addr, 1) != b"\0":
        name = ctypes.string_at(addr + 1)
        out.append(name.lower())
        addr += 2 + len(name)
    return out


@cache
def _data_languages() -> frozenset[str]:
    """Every language espeak's voice data speaks (the "language" lines of its voice files)."""
    try:
        import espeakng_loader
    except ImportError:
        return frozenset()
    found = set()
    for f in (Path(espeakng_loader.get_data_path()) / "lang").rglob("*"):
        if f.is_file():
            for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "language":
                    found.add(parts[1].lower())
    return frozenset(found)


def voice_for_language(language: str) -> str | None:
    """The espeak voice of a language (ISO 639-1: "fr" -> "fr", "zh" -> "cmn"), or None when espeak has none."""
    voice = LANGUAGE_VOICES.get(language, language)
    return voice if voice == DEFAULT_VOICE or voice in _data_languages() else None


class EspeakEngine(TTSEngine):
    name = "espeak"

    def __init__(self, voice: str | None = None, speed: int | None = None, language: str | None = None,
                 **_: object) -> None:  # fmt: skip
        if voice is None and language and language != "en":  # the voice follows the story's language
            from ..stages.language import language_name

            voice = voice_for_language(language)
            name = language_name(language)
            self.notes = (f"the story is in {name}: espeak's {name} voice ({voice}) narrates it" if voice else
                          f"espeak has no {name} voice: the story is narrated in English (choose one with --voice)",)  # fmt: skip
        self.voice = voice or DEFAULT_VOICE
        self.speed = int(speed or DEFAULT_SPEED)
        if not 80 <= self.speed <= 450:
            raise TTSError(f"espeak speed {self.speed} is out of range: give 80 to 450 words per minute")

    def key(self) -> tuple:
        return (self.name, self.voice, self.speed)

    def check(self) -> None:
        lib, _ = _library()
        with _lock:
            found = _set_voice(lib, self.voice)
        if not found:
            raise TTSError(f"espeak has no voice {self.voice!r}: try en-us, en-gb, fr, de, es (or `espeak-ng --voices`)")

    def speak(self, text: str) -> Speech:
        lib, rate = _library()
        chunks: list[bytes] = []
        events: list[tuple[int, int]] = []  # (text_position, audio ms)

        def on_audio(wav: Any, n: int, ev: Any) -> int:
            if n > 0:
                chunks.append(ctypes.string_at(wav, n * 2))
            i = 0
            while ev[i].type != EVENT_LIST_TERMINATED:
                if ev[i].type == EVENT_WORD:
                    events.append((ev[i].text_position, ev[i].audio_position))
                i += 1
            return 0

        callback = _Callback(on_audio)
        data = text.encode("utf-8")
        with _lock:
            lib.espeak_SetSynthCallback(callback)
            if not _set_voice(lib, self.voice):
                raise TTSError(
                    f"espeak has no voice {self.voice!r}: try en-us, en-gb, fr, de, es (or `espeak-ng --voices`)"
                )
            lib.espeak_SetParameter(RATE, self.speed, 0)
            err = lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
        if err != 0:
            raise TTSError(f"espeak-ng failed to speak (error {err})")
        samples = np.frombuffer(b"".join(chunks), dtype="<i2")
        duration = len(samples) / rate
        spans = word_spans(text)
        starts: list[float | None] = [None] * len(spans)
        for pos, ms in events:
            c = pos - 1
            for i, (s, e) in enumerate(spans):
                if s <= c < e and starts[i] is None:
                    starts[i] = ms / 1000.0
                    break
        words = timings_from_starts(text, starts, speech_end(samples, rate) or duration)
        return Speech(wav_bytes(samples, rate), rate, duration, words)
