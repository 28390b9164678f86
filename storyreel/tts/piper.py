"""Piper: neural voices from a local ``.onnx`` voice file (with its ``.onnx.json`` beside it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import TTSError
from ..types import Speech
from .base import TTSEngine, proportional_timings, speech_end, wav_bytes


class PiperEngine(TTSEngine):
    name = "piper"

    def __init__(self, voice: str | None = None, **_: object) -> None:
        if not voice or not voice.endswith(".onnx"):
            raise TTSError("the piper engine needs a voice file: give --voice PATH/TO/VOICE.onnx")
        path = Path(voice)
        if not path.is_file():
            raise TTSError(f"piper voice {path} not found: give the path of a Piper .onnx voice file")
        if not Path(str(path) + ".json").is_file():
            raise TTSError(f"{path}.json is missing: a Piper voice needs its .onnx.json config beside it")
        self.voice = str(path)
        self._voice = None

    def speak(self, text: str) -> Speech:
        try:
            from piper import PiperVoice  # type: ignore[import-not-found]
        except ImportError:
            raise TTSError("piper is not installed: run `pip install 'storyreel[piper]'` or use --tts espeak") from None
        if self._voice is None:
            self._voice = PiperVoice.load(self.voice)
        voice = self._voice
        parts = [np.frombuffer(chunk.audio_int16_bytes, dtype="<i2") for chunk in voice.synthesize(text)]
        rate = voice.config.sample_rate
        samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        duration = len(samples) / rate
        # Piper gives no word events: spread the words over the speech by their length.
        words = proportional_timings(text, speech_end(samples, rate) or duration)
        return Speech(wav_bytes(samples, rate), rate, duration, words)
