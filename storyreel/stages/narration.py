"""Narration: one WAV per scene from a TTS engine, with the time span of each word, kept by input hash."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import Cancelled, TTSError
from ..store.db import NarrationRow, Project, input_key
from ..tts.base import TTSEngine
from ..types import Scene


def narration_key(engine: TTSEngine, scene: Scene) -> str:
    return input_key(*engine.key(), scene.text)


def narrate_scenes(
    project: Project,
    engine: TTSEngine,
    scenes: list[Scene],
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, NarrationRow]:
    out: dict[str, NarrationRow] = {}
    for i, scene in enumerate(scenes):
        if should_stop and should_stop():
            raise Cancelled("narration stopped; what was spoken is kept")
        key = narration_key(engine, scene)
        row = project.narration_for(scene.id, key)
        if row is None or not project.media.path(row.media).exists():  # a WAV deleted by hand is spoken again
            speech = engine.speak(scene.text)
            if speech.duration <= 0.05:
                raise TTSError(f"the voice said nothing for scene {scene.index + 1} ({scene.text[:40]!r}): "
                               "check the --voice and the scene's text")  # fmt: skip
            words = [{"text": w.text, "start": w.start, "end": w.end} for w in speech.words]
            row = project.add_narration(scene.id, key, speech.wav, speech.duration, words, engine.name, engine.voice)
        out[scene.id] = row
        if progress:
            progress(i + 1, len(scenes))
    return out
