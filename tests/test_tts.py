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


def test_a_short_scene_is_spoken_and_another_voice_speaks_every_scene_again(tmp_path):
    """What the narration stage keeps: a one-word scene ("Run!") is spoken, not refused as silence; the same
    voice again speaks nothing twice; another voice speaks every scene again, in its own sound."""
    from storyreel import edit
    from storyreel.stages.narration import narrate_scenes

    project = edit.create_project(tmp_path, "short", "Narrator: Run! | a fox running\nNarrator: The fox ran all the way home. | a fox at home\n",
                                  {"backend": "sketch"})  # fmt: skip
    scenes = project.scenes()
    assert [s.text for s in scenes] == ["Run!", "The fox ran all the way home."]
    us = plugins.create("tts_engine", "espeak", voice="en-us")
    steps: list[tuple[int, int]] = []
    first = narrate_scenes(project, us, scenes, progress=lambda d, t: steps.append((d, t)))
    assert steps == [(1, 2), (2, 2)]  # the studio's progress: scene by scene, out of two
    short = first[scenes[0].id]
    assert 0.05 < short.duration < 1.05 and [w["text"] for w in short.words] == ["Run!"]
    again = narrate_scenes(project, us, scenes)
    assert {k: r.media for k, r in again.items()} == {k: r.media for k, r in first.items()}  # nothing spoken twice
    gb = narrate_scenes(project, plugins.create("tts_engine", "espeak", voice="en-gb"), scenes)
    for scene in scenes:
        heard_us, _ = read_wav(project.media.path(first[scene.id].media).read_bytes())
        heard_gb, _ = read_wav(project.media.path(gb[scene.id].media).read_bytes())
        assert gb[scene.id].media != first[scene.id].media
        assert len(heard_us) != len(heard_gb) or (heard_us != heard_gb).any()  # another voice, another sound
