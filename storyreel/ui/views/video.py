"""Video: aspect, voice, captions, motion, transitions, music; Render in the background; play and download."""

from __future__ import annotations

import time

import streamlit as st

from storyreel import edit, pipeline
from storyreel.stages.images import ASPECTS
from storyreel.store import jobs as queue
from storyreel.tts.espeak import VOICES
from storyreel.ui import common

OUTPUT = "video.mp4"


def save_option(project, name: str, value) -> None:
    """Each change is kept at once (checked first), so Render always uses what the page shows."""
    before = common.options(project)
    common.save_options(project, **{name: value})
    if name == "aspect" and value != before["aspect"] and project.candidates():
        common.flash("warning", f"pictures are made in the video's shape: **Generate all** on the Storyboard makes "
                     f"{value} ones; until then the video uses the pictures there are, cropped")  # fmt: skip


def video_options(project, opts: dict) -> None:
    d = edit.digest(opts)  # a change made elsewhere (another tab) redraws the fields

    def widget(kind, label: str, name: str, *args, **kwargs):
        key = f"v_{name}_{d}"
        return kind(label, *args, key=key, on_change=common.action(save_option, name, common.Value(key)), **kwargs)

    a, b = st.columns(2)
    with a:
        widget(st.selectbox, "Aspect", "aspect", list(ASPECTS), index=list(ASPECTS).index(opts["aspect"]),
               help="9:16 for TikTok, Reels and Shorts; 16:9 for YouTube; 1:1 for a feed.")  # fmt: skip
        widget(st.slider, "Speed (words a minute)", "speed", 80, 450, int(opts.get("speed") or 165), step=5)
        widget(st.checkbox, "Captions", "captions", value=bool(opts.get("captions", True)))
        widget(st.slider, "Caption size", "caption_size", 0.5, 2.0, float(opts.get("caption_size") or 1.0), step=0.1)
    with b:
        voices = list(VOICES)
        current = opts.get("voice") or voices[0]
        if current not in voices:
            voices.append(current)
        widget(st.selectbox, "Voice", "voice", voices, index=voices.index(current), format_func=lambda v: VOICES.get(v, v))
        widget(st.slider, "Motion", "motion", 0.0, 2.0, float(opts.get("motion", 1.0)), step=0.25,
               help="How far each picture zooms or pans: 0 still, 1 gentle, 2 strong.")  # fmt: skip
        widget(st.checkbox, "Crossfades between scenes", "transitions", value=bool(opts.get("transitions", True)))
        widget(st.slider, "Music volume", "music_volume", 0.0, 2.0, float(opts.get("music_volume") or 0.3), step=0.05)
    music_picker(project, opts)


def music_picker(project, opts: dict) -> None:
    music = opts.get("music")
    if music:
        st.caption(f"Music: {project.settings().get('music_name') or music}")
        st.audio(pipeline.music_path(project, music))
        st.button("Remove music", key="remove_music", on_click=common.action(edit.set_music, None, None,
                                                                            done="music removed"))  # fmt: skip
    key = f"music_up_{st.session_state.get('_music_uploads', 0)}"  # a new box once a file is used
    up = st.file_uploader("Music under the voice (an audio file, at most 50 MB)",
                          type=["mp3", "wav", "ogg", "m4a", "aac", "flac", "opus"], max_upload_size=50, key=key)  # fmt: skip
    if up is not None:
        st.button("Use this music", key="use_music", on_click=common.action(use_music, common.Value(key)))


def use_music(project, upload) -> None:
    edit.set_music(project, upload.getvalue(), upload.name)
    st.session_state["_music_uploads"] = st.session_state.get("_music_uploads", 0) + 1
    common.flash("success", f"music: {upload.name}")


def render_panel(project, opts: dict) -> None:
    left, right = st.columns([1, 3])
    left.button("Render", type="primary", key="render", on_click=common.action(
        lambda p: pipeline.queue_render(p, common.options(p), OUTPUT), done="render queued"))  # fmt: skip

    @st.fragment(run_every=1.0)
    def status() -> None:
        with common.guard():
            _status()

    def _status() -> None:
        p = common.open_project()
        if p is None:
            return
        try:
            job = queue.latest(p, "render")
        finally:
            p.close()
        if job is None:
            st.caption("Not rendered yet.")
            return
        if job.state in ("queued", "running"):
            what = "waiting for the worker" if job.state == "queued" else "rendering"
            st.progress(min(1.0, job.progress), text=f"{what}… {job.progress:.0%}")
            st.button("Cancel render", key="cancel_render",
                      on_click=common.action(lambda p: queue.cancel(p, target=pipeline.RENDER_TARGET), done="render cancelled"))  # fmt: skip
        elif job.state == "failed":
            st.error(f"The render failed: {job.error}" + (" The last good video is below." if _video(p) else ""))
        elif job.state == "cancelled":
            st.caption("The last render was cancelled.")
        seen = st.session_state.get("_render_seen")
        key = (job.id, job.state, job.finished_at)
        st.session_state["_render_seen"] = key
        if seen is not None and seen != key and job.state in queue.FINAL:
            st.rerun(scope="app")

    with right:
        status()


def _video(project):
    path = project.path / OUTPUT
    return path if path.exists() else None


def player(project) -> None:
    path = _video(project)
    if path is None:
        return
    srt = path.with_suffix(".srt")
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
    st.subheader("The video")
    cols = st.columns([2, 3])
    with cols[0]:
        job = queue.latest(project, "render")
        tall = job is None or job.spec.get("options", {}).get("aspect", "9:16") == "9:16"
        st.video(str(path), width=340 if tall else "stretch")  # a phone's shape fits the window
    with cols[1]:
        st.caption(f"Rendered {made} · {path.stat().st_size / 1e6:.1f} MB")
        name = project.path.name
        st.download_button("Download MP4", data=path.read_bytes, file_name=f"{name}.mp4", mime="video/mp4",
                           key="download_mp4", on_click="ignore")  # fmt: skip
        if srt.exists():
            st.download_button("Download SRT", data=srt.read_bytes, file_name=f"{name}.srt",
                               mime="application/x-subrip", key="download_srt", on_click="ignore")  # fmt: skip


def body(project) -> None:
    opts = common.options(project)
    if not project.scenes():
        st.info("No scenes yet: write or paste the story on the **Story** page and press **Split**.")
        return
    video_options(project, opts)
    render_panel(project, opts)
    player(project)


common.page("Video", body)
