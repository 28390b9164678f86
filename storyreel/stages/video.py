"""Video: the picked pictures with Ken Burns motion and crossfades, the voice, captions, music; and an .srt.

One ffmpeg process does the encoding: we send it the frames (made here with sub-pixel affine views, so the
motion has no jitter), and it burns the captions from an ASS file with libass, mixes the music under the
voice with sidechain ducking, normalises loudness and writes H.264 yuv420p + AAC with +faststart.
Everything ffmpeg reads is a file or an argument; no story text is ever part of a filter string.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import Cancelled, InputError, RenderError, StoreError, store_error
from ..render import captions as cap
from ..render import ffmpeg
from ..render.motion import cover, render_planes, to_planes
from ..render.timeline import ZOOM, Timeline, build_timeline
from ..store.db import CandidateRow, NarrationRow, Project, input_key
from ..tts.base import read_wav
from ..types import Scene, WordTiming

SIZES = {"9:16": (1080, 1920), "16:9": (1920, 1080), "1:1": (1080, 1080)}
AUDIO_RATE = 48000


@dataclass(frozen=True)
class VideoSettings:
    aspect: str = "9:16"
    fps: int = 30
    pause: float = 0.6
    crossfade: float = 0.5
    transitions: bool = True  # crossfades between scenes (else cuts)
    captions: bool = True
    caption_size: float = 1.0  # times the default size
    motion: float = 1.0  # Ken Burns strength: 0 still pictures, 1 gentle, 2 strong
    music: str | None = None
    music_volume: float = 0.3
    loudness: float = -14.0
    preset: str = "veryfast"
    crf: int = 20

    @property
    def size(self) -> tuple[int, int]:
        if self.aspect not in SIZES:
            raise InputError(f"--aspect {self.aspect!r} is not one of {', '.join(SIZES)}")
        return SIZES[self.aspect]


@dataclass(frozen=True)
class RenderResult:
    video: Path
    srt: Path
    duration: float
    reused: bool


MADE_TAG = "made with storyreel"  # the MP4's comment: a video storyreel may write over


def check_output(output: Path, story: Path | None = None, overwrite: bool = False,
                 project: Project | None = None) -> None:  # fmt: skip
    """Fail early, before any work, when the video or its .srt cannot be written, or would be written over the
    story being read (never) or over a file storyreel did not write (only with ``overwrite``)."""
    if output.suffix.lower() != ".mp4":
        raise InputError(f"output {output} should end in .mp4: storyreel writes MP4 videos")
    for path in (output, output.with_suffix(".srt")):
        if path.is_dir():
            raise InputError(f"{path} is a folder: give the video's file name, e.g. -o {path / 'story.mp4'}")
        if not path.exists():
            continue
        if story is not None and _same_file(path, story):
            raise InputError(f"writing {path} would replace the story being read: choose another -o for the video")
        if not overwrite and not made_by_storyreel(path, project):
            raise InputError(
                f"{path} exists and storyreel did not write it: choose another -o, or add --force to replace it"
            )
    folder = output.parent  # the nearest folder that exists: nothing is made before the options are checked
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise store_error(NotADirectoryError(20, "not a folder"), folder)
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".storyreel-check-"):
            pass
    except OSError as err:
        raise store_error(err, output.parent) from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def made_by_storyreel(path: Path, project: Project | None = None) -> bool:
    """A file storyreel wrote: one of this project's outputs, an MP4 with our tag, an .srt beside one; or
    an empty file (nothing to lose)."""
    try:
        if path.stat().st_size == 0:
            return True
    except OSError:
        return False
    video = path.with_suffix(".mp4")
    if project is not None and project.wrote_output(video):
        return True
    if path.suffix.lower() == ".srt":
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:200]
        except OSError:
            return False
        return head.startswith("1\n") and " --> " in head and video.is_file() and made_by_storyreel(video)
    try:
        return MADE_TAG in ffmpeg.metadata(path).get("comment", "")
    except InputError:
        return False


def _voice_track(rows: list[NarrationRow], project: Project, tl: Timeline) -> np.ndarray:
    """All scenes' narration on one mono track at AUDIO_RATE, each starting at its slot."""
    track = np.zeros(int(np.ceil(tl.duration * AUDIO_RATE)) + 1, dtype=np.float32)
    for row, slot in zip(rows, tl.slots, strict=True):
        samples, rate = read_wav(project.media.path(row.media).read_bytes())
        x = samples.astype(np.float32) / 32768.0
        if rate != AUDIO_RATE:  # resample (speech-band content; linear interpolation is enough at 22-48 kHz)
            n = int(round(len(x) * AUDIO_RATE / rate))
            x = np.interp(np.arange(n) * (rate / AUDIO_RATE), np.arange(len(x)), x).astype(np.float32)
        start = int(round(slot.start * AUDIO_RATE))
        end = min(len(track), start + len(x))
        track[start:end] += x[: end - start]
    return track


def _write_wav(path: Path, track: np.ndarray) -> None:
    from ..tts.base import wav_bytes

    path.write_bytes(wav_bytes(np.clip(track * 32767, -32768, 32767).astype(np.int16), AUDIO_RATE))


def _fonts(work: Path, text: str = "") -> dict[str, str]:
    """A fonts folder and fontconfig file of our own, so libass finds Roboto (and the system's fonts for
    scripts Roboto lacks, see render.fonts) without depending on how the machine's fontconfig is set up."""
    import font_roboto

    from ..render.fonts import fontconfig_xml

    fonts = work / "fonts"
    fonts.mkdir()
    for name in ("Roboto", "RobotoBold"):
        shutil.copy(font_roboto.font_files[name], fonts)
    conf = work / "fonts.conf"
    conf.write_text(fontconfig_xml(fonts, work / "fontcache", text))
    env = dict(os.environ)
    env["FONTCONFIG_FILE"] = str(conf)
    return env


VIDEO_GRAPH = "[0:v]ass=filename=captions.ass:fontsdir=fonts,format=yuv420p[v]\n"
VIDEO_GRAPH_NO_CAPTIONS = "[0:v]format=yuv420p[v]\n"


def _audio_graph(settings: VideoSettings, duration: float, music: bool, loudnorm: str) -> str:
    """Voice (input 0) and music (input 1) mixed, the music ducked under the voice and faded out at the end.
    Written to a file for ffmpeg; only our own numbers go in it."""
    t = f"{duration:.3f}"
    fade = min(2.0, duration / 4)
    voice = f"[0:a]aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,apad,atrim=0:{t}"
    if not music:
        return f"{voice},{loudnorm}[a]\n"
    return (
        f"{voice},asplit=2[voice][key];\n"
        f"[1:a]aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,atrim=0:{t},"
        f"volume={settings.music_volume:.3f},afade=t=in:d=0.5,afade=t=out:st={duration - fade:.3f}:d={fade:.3f}[music];\n"
        "[music][key]sidechaincompress=threshold=0.02:ratio=8:attack=20:release=400[ducked];\n"
        f"[voice][ducked]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,{loudnorm}[a]\n"
    )


def _mix_audio(work: Path, settings: VideoSettings, duration: float, music: Path | None) -> None:
    """voice.wav (+ music) -> audio.wav at the target loudness: loudnorm measures in a first pass, then applies
    one linear gain, which lands on the target where single-pass dynamic mode drifts by about a decibel."""
    inputs = ["-i", "voice.wav"]
    if music is not None:
        inputs += ["-stream_loop", "-1", "-i", str(music.resolve())]
    target = f"I={settings.loudness}:TP=-1.5:LRA=11"
    (work / "measure.txt").write_text(_audio_graph(settings, duration, music is not None,
                                                   f"loudnorm={target}:print_format=json"))  # fmt: skip
    err = ffmpeg.run(["-v", "info", *inputs, "-/filter_complex", "measure.txt", "-map", "[a]", "-f", "null", "-"],
                     cwd=work)  # fmt: skip
    m = json.loads(err[err.rindex("{") : err.rindex("}") + 1])
    if m["input_i"] in ("-inf", "inf"):  # silence: nothing to measure
        norm = f"aresample={AUDIO_RATE}"
    else:
        norm = (
            f"loudnorm={target}:measured_I={m['input_i']}:measured_TP={m['input_tp']}:measured_LRA={m['input_lra']}:"
            f"measured_thresh={m['input_thresh']}:offset={m['target_offset']}:linear=true,aresample={AUDIO_RATE}"
        )
    (work / "mix.txt").write_text(_audio_graph(settings, duration, music is not None, norm))
    ffmpeg.run(
        ["-y", *inputs, "-/filter_complex", "mix.txt", "-map", "[a]", "-c:a", "pcm_s16le", "audio.wav"], cwd=work
    )


def _frames(tl: Timeline, images: list[Path], should_stop: Callable[[], bool] | None,
            motion: float = 1.0) -> Iterator[bytes]:  # fmt: skip
    """yuv420p frames: warping the Y, Cb and Cr planes costs half of warping RGB, and ffmpeg converts nothing."""
    import cv2

    cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for n in range(tl.frames):
        if should_stop and n % 30 == 0 and should_stop():
            raise Cancelled("rendering stopped; run the same command again to render")
        plan = tl.frame_plan(n)
        for i in [i for i in cache if i not in {p[0] for p in plan}]:
            del cache[i]  # a scene that has left the screen
        layers = []
        for i, weight, progress in plan:
            if i not in cache:
                bgr = cv2.imread(str(images[i]), cv2.IMREAD_COLOR)
                if bgr is None:
                    raise RenderError(f"cannot read the picture {images[i]}: regenerate scene {i + 1}")
                margin = 1.0 + (ZOOM - 1.0) * motion  # the room the motion has: none at strength 0
                cache[i] = to_planes(cover(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), tl.width, tl.height, margin))
            layers.append((render_planes(cache[i], tl.slots[i].motion, progress, tl.width, tl.height), weight))
        if len(layers) == 1:
            planes = layers[0][0]
        else:
            (a, wa), (b, _) = layers[0], layers[1]
            planes = [cv2.addWeighted(pa, wa, pb, 1.0 - wa, 0.0) for pa, pb in zip(a, b, strict=True)]
        yield b"".join(p.tobytes() for p in planes)


def _ahead(gen: Iterator[bytes], depth: int = 6) -> Iterator[bytes]:
    """Make frames on a second thread while ffmpeg takes the previous ones (OpenCV releases the GIL).

    However the consumer stops (done, an error, Ctrl-C), the thread is stopped and joined before this returns:
    a thread left inside OpenCV when Python exits aborts the process ("terminate called without an active
    exception")."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in gen:
                if not put(item):
                    return
        except BaseException as err:  # handed to the consumer
            put(err)
            return
        finally:
            if hasattr(gen, "close"):  # a generator's own clean-up runs on this thread
                gen.close()
        put(done)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def render_video(
    project: Project,
    scenes: list[Scene],
    picks: dict[str, CandidateRow],
    narrations: dict[str, NarrationRow],
    output: Path,
    settings: VideoSettings,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    force: bool = False,
    overwrite: bool = False,
) -> RenderResult:
    """Render, or reuse the video an earlier render made from exactly these inputs (unless ``force``).
    ``overwrite``: write over an existing file storyreel did not make."""
    width, height = settings.size
    missing = [str(s.index + 1) for s in scenes if s.id not in picks]
    if missing:
        which = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
        raise RenderError(
            f"scene{'s' if len(missing) > 1 else ''} {which} {'have' if len(missing) > 1 else 'has'} no picture yet: "
            "generate them first (Generate all, or `storyreel generate`)"
        )
    output = Path(output)
    check_output(output, overwrite=overwrite, project=project)
    srt_path = output.with_suffix(".srt")
    music = Path(settings.music) if settings.music else None
    music_sha = ""
    if music is not None:
        ffmpeg.check_audio(music)
        import hashlib

        music_sha = hashlib.sha256(music.read_bytes()).hexdigest()

    rows = [narrations[s.id] for s in scenes]
    words = [[WordTiming(w["text"], w["start"], w["end"]) for w in r.words] for r in rows]
    crossfade = settings.crossfade if settings.transitions else 0.0
    tl = build_timeline([r.duration for r in rows], width, height, settings.fps, settings.pause, crossfade, words)
    srt_entries = tl.captions  # the same short cues as the burned captions
    key = input_key(
        "render-v2", [picks[s.id].media for s in scenes], [r.media for r in rows], [s.text for s in scenes],
        asdict(settings) | {"music": music_sha},
    )  # fmt: skip
    previous = project.render_for(key)
    if previous is not None and not force and project.media.path(previous["media"]).exists():
        _publish(project.media.path(previous["media"]), output)
        _publish(project.media.path(previous["srt_media"]), srt_path)
        return RenderResult(output, srt_path, previous["duration"], True)

    with tempfile.TemporaryDirectory(dir=project.path, prefix=".render-") as tmp:
        work = Path(tmp)
        try:
            _write_wav(work / "voice.wav", _voice_track(rows, project, tl))
            (work / "captions.ass").write_text(
                cap.ass_document(tl.captions, width, height, settings.caption_size), encoding="utf-8"
            )
            (work / "captions.srt").write_text(cap.srt_document(srt_entries), encoding="utf-8")
            (work / "video.txt").write_text(VIDEO_GRAPH if settings.captions else VIDEO_GRAPH_NO_CAPTIONS)
        except OSError as err:
            raise store_error(err, work) from None
        _mix_audio(work, settings, tl.duration, music)
        env = _fonts(work, " ".join(c.text for c in tl.captions))
        images = [project.media.path(picks[s.id].media) for s in scenes]
        args = [
            ffmpeg.ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-color_range", "tv", "-colorspace", "bt709", "-s", f"{width}x{height}", "-framerate", str(settings.fps),
            "-i", "pipe:0", "-i", "audio.wav",
            "-/filter_complex", "video.txt", "-map", "[v]", "-map", "1:a",
            "-c:v", "libx264", "-preset", settings.preset, "-crf", str(settings.crf), "-pix_fmt", "yuv420p",
            "-r", str(settings.fps), "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-c:a", "aac", "-b:a", "192k", "-ar", str(AUDIO_RATE), "-ac", "2",
            "-metadata", f"comment={MADE_TAG}", "-movflags", "+faststart", "-t", f"{tl.frames / settings.fps:.3f}", "video.mp4",
        ]  # fmt: skip
        log = (work / "ffmpeg.log").open("w+")
        proc = subprocess.Popen(args, cwd=work, env=env, stdin=subprocess.PIPE, stderr=log, stdout=subprocess.DEVNULL,
                                start_new_session=True)  # Ctrl-C is ours to handle: ffmpeg is stopped below
        assert proc.stdin is not None
        frames = _ahead(_frames(tl, images, should_stop, settings.motion))
        try:
            for n, frame in enumerate(frames):
                proc.stdin.write(frame)
                if progress and n % 15 == 0:
                    progress(n, tl.frames)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg stopped reading: its log says why
        except BaseException:
            proc.kill()
            proc.wait()
            log.close()
            raise
        finally:
            frames.close()  # the frame thread is stopped and joined, however we leave
        code = proc.wait()
        log.seek(0)
        err = log.read()
        log.close()
        if code != 0:
            if "No space left" in err:
                raise StoreError(f"the disk is full while rendering in {project.path}: free some space and run again")
            raise RenderError(f"ffmpeg failed while rendering: {ffmpeg.last_error(err)}")
        if progress:
            progress(tl.frames, tl.frames)
        _publish(work / "video.mp4", output)
        _publish(work / "captions.srt", srt_path)
        project.add_render(key, work / "video.mp4", work / "captions.srt", output, asdict(settings), tl.duration)
    return RenderResult(output, srt_path, tl.duration, False)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sweep_work(root: Path) -> None:
    """Work folders and half-copied files left by renders that were killed (a kill skips the clean-up). Called
    under the project's render lock, so no render is using them."""
    for stale in root.glob(".render-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _publish(src: Path, dest: Path) -> None:
    """Copy to a temporary name beside dest, then rename: the old file stays until the new one is whole."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a video is for sharing
        os.replace(tmp, dest)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True) if "tmp" in locals() else None
        raise store_error(err, dest) from None
