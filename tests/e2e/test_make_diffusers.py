"""storyreel make through the real diffusers code path, with a tiny random-weight model built by the test."""

from __future__ import annotations

import re

import numpy as np
from conftest import decode_audio, integrated_loudness, parse_srt, write_tone
from test_newcomer import noise

from storyreel.render.ffmpeg import probe
from storyreel.store.db import Project


def test_make_with_tiny_diffusers_model(tmp_path, tiny_model, story_file, cli):
    out = tmp_path / "out" / "tale.mp4"
    music = write_tone(tmp_path / "music.wav", seconds=2.0)
    run = cli(
        "make", story_file, "-o", out, "--model", tiny_model, "--steps", "2", "--size", "64x112",
        "--candidates", "2", "--seed", "7", "--music", music,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert noise(run.stderr) == [], run.stderr  # no warnings of torch, transformers, diffusers, OpenCV

    # the picture: vertical 1080x1920 H.264 yuv420p at 30 fps, AAC 48 kHz stereo
    info = probe(out)
    assert (info.width, info.height) == (1080, 1920)
    assert info.video.startswith("h264") and "yuv420p" in info.video
    assert info.fps == 30
    assert info.audio.startswith("aac") and "48000 Hz" in info.audio and "stereo" in info.audio

    # the length: every scene's narration plus its pause
    project = Project(out.with_suffix(".storyreel"))
    scenes = project.scenes()
    assert len(scenes) == 3
    narr = [row.duration for row in (project.narration_for(s.id, k) for s in scenes for k in _keys(project, s.id))]
    assert len(narr) == 3
    expected = sum(narr) + 3 * 0.6
    assert abs(info.duration - expected) < 0.3, (info.duration, expected)

    # the sound: present, not silent, and the music goes on under the pauses
    audio = decode_audio(out)
    assert np.sqrt(np.mean(audio**2)) > 0.02
    quiet_pause = audio[int((narr[0] + 0.25) * 8000) : int((narr[0] + 0.45) * 8000)]
    assert np.sqrt(np.mean(quiet_pause**2)) > 0.001  # the music plays between the lines
    assert abs(integrated_loudness(out) - (-14.0)) < 1.5

    # the .srt has the burned captions' short cues (at most six words), in order, with every word of the scenes
    srt = parse_srt(out.with_suffix(".srt").read_text(encoding="utf-8"))
    assert all(len(c[2].split()) <= 6 for c in srt)
    assert " ".join(c[2] for c in srt).split() == " ".join(s.text for s in scenes).split()
    assert all(a[1] <= b[0] for a, b in zip(srt, srt[1:], strict=False))

    # images came from the diffusers backend, with the model, seeds and settings recorded
    cands = project.candidates()
    assert len(cands) == 6
    assert {c.backend for c in cands} == {"diffusers"}
    assert {c.model for c in cands} == {str(tiny_model)}
    assert sorted({c.seed for c in cands}) == [7, 8]
    assert {(c.width, c.height, c.steps) for c in cands} == {(64, 112, 2)}
    # the dragon's words are in the scene where "the beast" dreams, and the prince's where only "He" climbs
    by_scene = {s.index: s for s in scenes}
    assert "fafnir" in by_scene[1].characters
    assert "siegfried" in by_scene[2].characters
    prompt = next(c.prompt for c in cands if c.scene_id == by_scene[2].id)
    assert re.search(r"grey hair", prompt)


def test_same_seed_same_image(tmp_path, tiny_model):
    from storyreel.backends.diffusers_local import DiffusersBackend
    from storyreel.types import ImageRequest

    backend = DiffusersBackend(str(tiny_model))
    reqs = [ImageRequest("a dragon", "", seed, 2, 5.0, 64, 64) for seed in (3, 4, 3)]
    a, b, c = (np.asarray(im) for im in backend.generate(reqs))
    assert a.shape == (64, 64, 3)
    assert np.array_equal(a, c)
    assert not np.array_equal(a, b)


def _keys(project, scene_id):
    return [
        r["input_key"] for r in project.db.execute("SELECT input_key FROM narrations WHERE scene_id = ?", (scene_id,))
    ]
