from __future__ import annotations

import pytest

from storyreel import plugins
from storyreel.errors import TTSError
from storyreel.tts.base import read_wav


def test_espeak_speaks_with_word_times():
    engine = plugins.create("tts_engine", "espeak")
    text = "Old Mira, the village healer, waited at 100% of the gate: it's “fine”."
    speech = engine.speak(text)
    samples, rate = read_wav(speech.wav)
    assert rate == speech.sample_rate and abs(len(samples) / rate - speech.duration) < 0.01
    assert 2.0 < speech.duration < 10.0
    assert [w.text for w in speech.words] == text.split()
    starts = [w.start for w in speech.words]
    assert starts == sorted(starts) and starts[0] < 0.3 and starts[-1] < speech.duration
    assert all(w.end >= w.start for w in speech.words)


def test_espeak_speed_and_voice():
    slow = plugins.create("tts_engine", "espeak", speed=120).speak("The dragon slept in the mountain.")
    fast = plugins.create("tts_engine", "espeak", speed=300).speak("The dragon slept in the mountain.")
    assert fast.duration < slow.duration
    gb = plugins.create("tts_engine", "espeak", voice="en-gb").speak("Hello there.")
    assert gb.duration > 0.3
    with pytest.raises(TTSError, match="no voice"):
        plugins.create("tts_engine", "espeak", voice="klingon-xx").speak("Hello")


def test_piper_needs_a_voice_file(tmp_path):
    with pytest.raises(TTSError, match="needs a voice file"):
        plugins.create("tts_engine", "piper", voice=None)
    with pytest.raises(TTSError, match="not found"):
        plugins.create("tts_engine", "piper", voice=str(tmp_path / "nope.onnx"))
