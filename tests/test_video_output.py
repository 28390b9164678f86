"""What a person gets from a render, measured in the decoded video and sound: the picture they picked, in its
colours, moving smoothly; dissolves at the cuts; each scene's voice starting as its picture is fully in; captions in
step with the speech and clear of the app's buttons; music ducked under the voice; a file that plays while it
downloads; an unchanged render not encoded again.

One story is rendered once for the module (and once more with music): three scripted scenes whose pictures are plain
colours with a soft texture (red, green, red), so every check can tell the scenes apart and see them move."""

from __future__ import annotations

import stat
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import decode_audio, frame_at, parse_srt, shared_scope, write_tone

from storyreel import edit, pipeline, plugins
from storyreel.backends.base import Defaults, ImageBackend
from storyreel.render.ffmpeg import ffmpeg_exe, probe

cv2 = pytest.importorskip("cv2")

STORY = """Narrator: The fox woke up. She ran to the river. Fish jumped high. | a fox by a river
Narrator: Rain fell all night long. The owl stayed home. | an owl in the rain
Narrator: Morning came at last. Everyone sang together. | animals singing at dawn
"""
PALETTE = [(200, 40, 40), (40, 190, 60), (40, 60, 200)]  # red, green, blue
RATE = 8000  # the decoded sound's sample rate
TONE = 3200.0  # the music's pitch: far above the voice's, so the two can be measured apart


class Painted(ImageBackend):
    """Plain-colour pictures with a soft texture: the colour from the scene and seed, so a scene's two candidates
    differ (scene 1: blue, then red; scene 2: green, then blue; scene 3: red, then green)."""

    name = "painted"
    model_id = "painted"

    def __init__(self, **_: object) -> None:
        pass

    def defaults(self) -> Defaults:
        return Defaults(steps=1, guidance=0.0, width=576, height=1024, native=576)

    def generate(self, requests, progress=None, should_stop=None):
        from PIL import Image

        out = []
        for r in requests:
            colour = np.array(PALETTE[(2 * r.scene + r.seed) % 3], dtype=np.float32)
            rng = np.random.default_rng(r.seed * 31 + r.scene)
            blobs = cv2.resize(rng.uniform(-1, 1, (r.height // 16, r.width // 16)).astype(np.float32), (r.width, r.height),
                               interpolation=cv2.INTER_CUBIC)  # fmt: skip
            pixels = np.clip(colour + 45 * blobs[..., None], 0, 255).astype(np.uint8)
            out.append(Image.fromarray(pixels))
        return out


@pytest.fixture(scope=shared_scope)
def made(tmp_path_factory):
    """The story rendered as a person makes it: generated, scene 1's second candidate picked, rendered."""
    plugins.registry().image_backend("painted", Painted)
    root = tmp_path_factory.mktemp("video-output")
    project = edit.create_project(root, "fox", STORY, {"backend": "painted", "candidates": 2, "seed": 0,
                                                      "size": "576x1024"})  # fmt: skip
    opts = pipeline.in_force(project)
    pipeline.generate(project, opts)
    scenes = project.scenes()
    first = project.candidates(scenes[0].id)
    edit.pick(project, scenes[0].id, first[1].id)  # the second candidate: red (the first is blue)
    video = root / "fox.mp4"
    pipeline.render(project, video, opts)
    return {"root": root, "project": project, "opts": opts, "video": video}


@pytest.fixture(scope=shared_scope)
def frames(made):
    """Every frame, small (54x96), as RGB."""
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(made["video"]), "-vf", "scale=54:96", "-f",
                          "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, 96, 54, 3).astype(np.float32)


@pytest.fixture(scope=shared_scope)
def voice(made):
    """The sound's loudness every 10 ms, and where the speech starts after a silence."""
    sound = decode_audio(made["video"], RATE)
    hop = RATE // 100
    rms = np.sqrt(np.mean(sound[: len(sound) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    loud = rms > 0.08 * rms.max()
    onsets, quiet = [], 99
    for i, on in enumerate(loud):
        if on and quiet >= 15:  # speech after at least 150 ms of quiet: a sentence starts
            onsets.append(i / 100)
        quiet = 0 if on else quiet + 1
    return {"rms": rms, "loud": loud, "onsets": onsets}


def _mix(frames: np.ndarray, a: tuple, b: tuple) -> np.ndarray:
    """How far each frame's mean colour is along the way from colour a to colour b (0: a, 1: b)."""
    a_, b_ = np.array(a, dtype=np.float32), np.array(b, dtype=np.float32)
    mean = frames.mean(axis=(1, 2))
    return ((mean - a_) @ (b_ - a_)) / float((b_ - a_) @ (b_ - a_))


def _scene_spans(frames: np.ndarray) -> list[tuple[int, int]]:
    """Frame spans in which each scene's picture is fully in (red, green, red)."""
    green = _mix(frames, PALETTE[0], PALETTE[1]) > 0.9
    first_green, last_green = int(np.argmax(green)), len(green) - 1 - int(np.argmax(green[::-1]))
    return [(0, first_green), (first_green, last_green + 1), (last_green + 1, len(frames))]


def _midpoints(frames: np.ndarray) -> list[float]:
    """The times (s) at which each dissolve is half way: red to green, then green to red."""
    along = _mix(frames, PALETTE[0], PALETTE[1])
    out = []
    for rising in (True, False):
        above = along >= 0.5 if rising else along < 0.5
        start = 0 if rising else int(np.argmax(along >= 0.5))
        n = start + int(np.argmax(above[start:]))
        a, b = along[n - 1], along[n]
        out.append((n - 1 + 0.5 + (0.5 - a) / (b - a)) / 30)
    return out


def test_each_scene_shows_its_picture_in_its_colours_and_the_pick_is_the_one_shown(frames):
    mean = frames.mean(axis=(1, 2))
    n = len(frames)
    for t, colour in ((0.15, 0), (0.5, 1), (0.9, 0)):  # scene 1 red (its pick), scene 2 green, scene 3 red
        r, g, b = mean[int(t * n)]
        want = PALETTE[colour]
        assert abs(r - want[0]) < 30 and abs(g - want[1]) < 30 and abs(b - want[2]) < 30, (t, (r, g, b), want)


def test_the_picked_candidate_is_the_picture_in_the_video(made, frames):
    project = made["project"]
    scene = project.scenes()[0]
    picked = project.candidates(scene.id)[1]
    from PIL import Image

    shown = frames[: len(frames) // 6].mean(axis=(0, 1, 2))
    wanted = np.asarray(Image.open(project.media.path(picked.media)).convert("RGB"), dtype=np.float32).mean(axis=(0, 1))
    other = np.asarray(Image.open(project.media.path(project.candidates(scene.id)[0].media)).convert("RGB"),
                       dtype=np.float32).mean(axis=(0, 1))  # fmt: skip
    assert np.abs(shown - wanted).max() < 20 and np.abs(shown - other).max() > 60


def test_scenes_dissolve_into_each_other(frames):
    along = _mix(frames, PALETTE[0], PALETTE[1])
    between = [i for i, x in enumerate(along) if 0.2 < x < 0.8]  # frames that are half one picture, half the next
    cut_1 = [i for i in between if i < len(frames) / 2]
    cut_2 = [i for i in between if i >= len(frames) / 2]
    assert len(cut_1) >= 6 and len(cut_2) >= 6, (len(cut_1), len(cut_2))  # a 0.5 s dissolve: 15 frames, 30 fps
    assert cut_1[-1] - cut_1[0] < 20 and cut_2[-1] - cut_2[0] < 20  # and only at the cuts


def test_pictures_move_smoothly_by_fractions_of_a_pixel(made, frames):
    spans = _scene_spans(frames)
    start, end = spans[1]
    t = (start + end) / 2 / 30
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", f"{t:.3f}", "-i", str(made["video"]), "-frames:v", "12",
                          "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout  # fmt: skip
    gray = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 1920, 1080).astype(np.float32)
    window = cv2.createHanningWindow((256, 256), cv2.CV_32F)
    patch = (slice(400, 656), slice(160, 416))  # away from the centre: zooms move it too
    shifts, changes = [], []
    for a, b in zip(gray, gray[1:], strict=False):
        changes.append(np.abs(b[patch] - a[patch]).mean())
        (dx, dy), _ = cv2.phaseCorrelate(a[patch].copy(), b[patch].copy(), window)  # (it may window them in place)
        shifts.append(np.hypot(dx, dy))
    shifts, changes = np.array(shifts), np.array(changes)
    assert 0.15 < np.median(shifts) < 3, shifts  # it moves, gently
    # and by as much on every frame: a picture moved by whole pixels stands still or creeps on some frames, then
    # jumps (here the encoder's frame types alone make the change vary by about 25%)
    assert changes.max() < 1.6 * changes.min(), changes


def test_each_scenes_voice_starts_half_way_through_the_dissolve_into_its_picture(frames, voice):
    loud, onsets = voice["loud"], voice["onsets"]
    assert abs(onsets[0]) <= 0.1  # the first scene's at once
    for t in _midpoints(frames):
        nearest = min(onsets, key=lambda o: abs(o - t))
        assert abs(nearest - t) <= 0.1, (t, nearest)
        before = loud[max(0, int((t - 0.35) * 100)) : int((t - 0.05) * 100)]
        assert not before.any(), t  # a pause before it: the scenes' voices do not run into each other


def test_captions_start_with_the_speech_they_show(made, voice):
    cues = parse_srt(made["video"].with_suffix(".srt").read_text(encoding="utf-8"))
    assert len(cues) >= 6
    for start, _, text in cues:
        nearest = min(voice["onsets"], key=lambda o: abs(o - start))
        assert abs(nearest - start) <= 0.15, (text, start, nearest)


def test_captions_are_drawn_inside_the_safe_area(made, frames):
    from conftest import frame_at

    spans = _scene_spans(frames)
    for start, end in spans:
        frame = frame_at(made["video"], (start + end) / 2 / 30).astype(int)
        ys, xs = np.nonzero(frame.min(axis=2) > 220)  # the captions' white (the pictures have none)
        assert len(ys) > 500
        h, w = frame.shape[:2]
        # clear of the app's buttons: TikTok's and Reels' bottom bar and right column
        assert ys.max() < 0.8 * h and ys.min() > 0.4 * h, (ys.min() / h, ys.max() / h)
        assert xs.min() > 0.04 * w and xs.max() < 0.88 * w, (xs.min() / w, xs.max() / w)


def test_the_video_plays_while_it_downloads(made):
    """moov (the index) before mdat (the data): a player can start before the whole file is there."""
    data = made["video"].read_bytes()
    boxes, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        size = struct.unpack(">Q", data[at + 8 : at + 16])[0] if size == 1 else size
        boxes.append(kind.decode("latin-1"))
        at += size if size else len(data)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    info = probe(made["video"])
    assert (info.width, info.height) == (1080, 1920)


def test_music_is_ducked_under_the_voice(made, voice):
    project, root = made["project"], made["root"]
    music = write_tone(root / "tone.wav", seconds=4.0, freq=TONE)
    out = root / "with-music.mp4"
    pipeline.render(project, out, {**made["opts"], "music": str(music), "music_volume": 0.5})
    sound = decode_audio(out, RATE)
    hop = RATE // 100
    n = min(len(sound) // hop, len(voice["loud"]))
    blocks = sound[: n * hop].reshape(n, hop)
    k = np.exp(-2j * np.pi * TONE * np.arange(hop) / RATE)
    tone = np.abs(blocks @ k) ** 2  # the music's power every 10 ms
    loud, rms = voice["loud"][:n], voice["rms"][:n]
    silent = rms < 0.01 * rms.max()
    edge = 40  # not the first and last 0.4 s
    speaking = tone[edge:-edge][loud[edge:-edge]]
    pausing = tone[edge:-edge][silent[edge:-edge]]
    assert len(speaking) > 100 and len(pausing) > 30
    ducked = 10 * np.log10(np.median(pausing) / np.median(speaking))
    assert ducked >= 6, f"the music is only {ducked:.1f} dB lower under the voice"


def test_an_unchanged_render_is_reused_without_encoding(made, tmp_path, monkeypatch, request):
    """A second render of the same project and settings copies the first video: the encoder does not run."""
    calls = tmp_path / "calls.txt"
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f"#!{sys.executable}\nimport os, sys\nopen({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + "
                       f"'\\n')\nos.execv({ffmpeg_exe()!r}, [{ffmpeg_exe()!r}] + sys.argv[1:])\n")  # fmt: skip
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("STORYREEL_FFMPEG", str(wrapper))
    ffmpeg_exe.cache_clear()
    request.addfinalizer(ffmpeg_exe.cache_clear)  # the real one again, for the tests after this one
    again = made["root"] / "again.mp4"
    result = pipeline.render(made["project"], again, made["opts"])
    encoded = [c for c in (calls.read_text().splitlines() if calls.exists() else []) if "libx264" in c]
    assert not encoded and result.reused
    assert again.read_bytes() == made["video"].read_bytes()
    # and a change is encoded: another pick
    project = made["project"]
    scene = project.scenes()[1]
    edit.pick(project, scene.id, project.candidates(scene.id)[1].id)
    pipeline.render(project, made["root"] / "changed.mp4", made["opts"])
    assert [c for c in calls.read_text().splitlines() if "libx264" in c]


class Disc(Painted):
    """A white disc in the middle of a black picture: a thing a viewer knows the shape and place of."""

    name = "disc"

    def generate(self, requests, progress=None, should_stop=None):
        from PIL import Image

        out = []
        for r in requests:
            yy, xx = np.mgrid[: r.height, : r.width]
            inside = (xx - r.width / 2 + 0.5) ** 2 + (yy - r.height / 2 + 0.5) ** 2 <= (0.2 * r.width) ** 2
            out.append(Image.fromarray(np.repeat(np.where(inside, 235, 10).astype(np.uint8)[..., None], 3, axis=2)))
        return out


def test_the_picture_is_framed_as_it_was_drawn_round_things_round_and_centred(tmp_path):
    """A scene that zooms in shows its picture whole at first, then closer, about its middle: a disc drawn in the
    middle stays round, in the middle of the frame, its size between the picture's fitted to the frame and that
    times the zoom (not stretched, shifted, or shown at another scale)."""
    from storyreel.render.timeline import ZOOM

    plugins.registry().image_backend("disc", Disc)
    story = "Narrator: The moon rose over the quiet hills tonight. | a full moon\n"
    project = edit.create_project(tmp_path, "moon", story, {"backend": "disc", "candidates": 1, "seed": 0,
                                                            "size": "576x1024", "captions": False})  # fmt: skip
    opts = pipeline.in_force(project)
    pipeline.generate(project, opts)
    video = tmp_path / "moon.mp4"
    result = pipeline.render(project, video, opts)
    fitted = 0.2 * 576 * 2 * 1080 / 576  # the disc's diameter with the picture fitted to the frame's width
    sizes = []
    for t in (0.05, result.duration * 0.5, result.duration - 0.1):
        lit = frame_at(video, t)[..., 1] > 128
        rows, cols = np.flatnonzero(lit.any(axis=1)), np.flatnonzero(lit.any(axis=0))
        width, height = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
        centre = ((cols[0] + cols[-1]) / 2, (rows[0] + rows[-1]) / 2)
        assert abs(width - height) <= 0.02 * width, (t, width, height)  # round, not stretched
        assert abs(centre[0] - 539.5) <= 6 and abs(centre[1] - 959.5) <= 6, (t, centre)  # in the middle
        assert fitted * 0.98 <= width <= fitted * ZOOM * 1.02, (t, width, fitted)
        sizes.append(width)
    assert sizes[0] < sizes[1] < sizes[2]  # closer and closer


def test_a_video_storyreel_made_is_written_over_from_another_project_without_asking(made, tmp_path):
    """The MP4 says it was made by storyreel: another project (or the same story made again elsewhere) may write
    over it without --force; a video from elsewhere may not."""
    from storyreel.errors import InputError
    from storyreel.stages.video import check_output

    other = edit.create_project(tmp_path, "other", STORY, {"backend": "painted"})
    check_output(made["video"], project=other)  # no error: ours
    foreign = tmp_path / "holiday.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-t", "1",
                    str(foreign)], check=True)  # fmt: skip
    with pytest.raises(InputError, match="--force"):
        check_output(foreign, project=other)
