"""Story: paste or upload a story, split it into scenes, then merge, split and rewrite scenes."""

from __future__ import annotations

import hashlib

import streamlit as st

from storyreel import edit
from storyreel.errors import InputError
from storyreel.stages.story import decode_story
from storyreel.ui import common

PLACEHOLDER = (
    "Paste a story here. Prose works, and so does a script, one scene a line:\n"
    "Narrator: Long ago, a dragon slept under the mountain. | a green dragon asleep on gold, in a cave"
)


def _uploaded_text(upload) -> str:
    if upload is None:
        return ""
    data = upload.getvalue()
    if len(data) > common.STORY_LIMIT:
        raise InputError(f"{upload.name} is {len(data) / 1e6:.1f} MB: a story file may be at most 1 MB")
    return decode_story(data, upload.name)


def create() -> None:
    """The New project form's button: a project from the pasted or uploaded story, opened at once."""
    ss = st.session_state
    upload = ss.get("new_upload")
    story = _uploaded_text(upload) or ss.get("new_text") or ""
    if not story.strip():
        raise InputError("write or paste a story, or upload a .txt or .md file")
    chosen = (ss.get("new_name") or "").strip() or (upload.name.rsplit(".", 1)[0] if upload is not None else "")
    if not chosen:
        raise InputError("give the project a name")
    edit.create_project(common.root(), chosen, story, {"candidates": common.STUDIO_CANDIDATES, "backend": "auto"}).close()
    ss["project"] = chosen
    st.query_params["project"] = chosen


def draft() -> None:
    """The Draft button: a story from the user's language model, put in the New project form to read and change."""
    from storyreel.assist.llm import Assistant, write_story

    ss = st.session_state
    text = write_story(ss.get("draft_topic") or "", int(ss.get("draft_scenes") or 8),
                       Assistant(ss.get("draft_url") or None, ss.get("draft_model") or None))  # fmt: skip
    ss["new_text"] = text
    if not (ss.get("new_name") or "").strip():
        from storyreel.stages.characters import new_character_id

        ss["new_name"] = new_character_id(text.splitlines()[0].lstrip("# "), set())  # the title, as a folder name


def draft_form() -> None:
    with st.expander("No story yet? Draft one with your language model"):
        with st.form("draft"):
            st.text_input("What it is about", key="draft_topic", placeholder="a fox who outwits a crow")
            a, b, c = st.columns([1, 3, 2])
            a.number_input("Scenes", 1, 60, 8, key="draft_scenes")
            b.text_input("Server (OpenAI-compatible)", key="draft_url", placeholder="http://127.0.0.1:11434/v1",
                         help="Ollama, llama.cpp's server, vLLM, LM Studio or OpenAI. A key: start the studio with "
                              "STORYREEL_LLM_KEY set; it is never stored.")  # fmt: skip
            c.text_input("Model", key="draft_model", placeholder="llama3.1")
            st.form_submit_button("Draft the story", on_click=lambda: common.run_action(
                draft, done="drafted: read it below, change what you like, then create the project"))  # fmt: skip


def new_project_form() -> None:
    st.subheader("New project")
    with st.form("new_project"):
        st.text_input("Project name", placeholder="the-dragon-of-the-mountain", key="new_name")
        st.text_area("Story", height=260, placeholder=PLACEHOLDER, key="new_text")
        st.file_uploader("…or upload a story file (.txt or .md, up to 100,000 characters)", type=["txt", "md"],
                         max_upload_size=1, key="new_upload")  # fmt: skip
        st.form_submit_button("Create project", type="primary", on_click=lambda: common.run_action(
            create, done="project created: check its scenes below, then its characters"))  # fmt: skip
    draft_form()


@st.cache_data(max_entries=8, show_spinner=False)
def _sentences(text: str) -> list[tuple[int, str]]:
    return edit.story_sentences(text)


def story_editor(project, opts: dict) -> None:
    text = project.story_text() or ""
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    with st.expander("The story", expanded=not project.scenes()):
        st.text_area("Story", value=text, height=320, key=f"story_{digest}", label_visibility="collapsed")
        st.file_uploader("Replace it with a file (.txt or .md, up to 100,000 characters)", type=["txt", "md"], max_upload_size=1,
                         key=f"upload_{digest}")
        left, right = st.columns(2)
        auto = left.radio("Scenes", ["Automatic", "Exactly"], horizontal=True,
                          index=0 if opts.get("scenes") is None else 1, key="scene_mode")  # fmt: skip
        right.number_input("How many scenes", min_value=1, max_value=500, value=int(opts.get("scenes") or 10),
                           disabled=auto == "Automatic", key="scene_count")  # fmt: skip

        st.button("Split", type="primary", key="split_story", help="Cut the story into scenes and find its "
                  "characters; scenes whose text did not change keep their pictures, picks and prompts.",
                  on_click=common.action(split, common.Value(f"upload_{digest}"), common.Value(f"story_{digest}"),
                                         done="story split into scenes"))  # fmt: skip


def split(project, upload, text: str) -> None:
    story = _uploaded_text(upload) or text
    exact = st.session_state.get("scene_mode") == "Exactly"
    scenes = int(st.session_state.get("scene_count") or 10) if exact else None
    if exact and project.scene_breaks():
        common.flash("info", "your own merges and splits were cleared, to make exactly the number asked for")
    edit.set_story(project, story, {**common.options(project), "scenes": scenes}, clear_breaks=exact)
    project.set_settings(scenes=scenes)  # remembered once it worked


def scene_list(project, opts: dict) -> None:
    scenes = project.scenes()
    if not scenes:
        return
    chars = project.characters()
    names = {c.id: c.name for c in chars}
    colour = common.colours(project, chars)
    text = project.story_text() or ""
    sentences = _sentences(text)
    st.subheader(f"{len(scenes)} scenes")
    for s in common.paged(scenes, 40, "story_page"):
        i = s.index
        with st.container(border=True):
            head, body = st.columns([1, 12])
            head.markdown(f"### {i + 1}")
            who = " ".join(f"{common.swatch(colour.get(c, '#888'))}{names.get(c, c)}" for c in s.characters)
            key = f"narration_{s.id}_{hashlib.sha256(s.text.encode()).hexdigest()[:8]}"
            body.text_area("Narration", value=s.text, key=key, height=80, label_visibility="collapsed")
            if who:
                body.markdown(who, unsafe_allow_html=True)
            a, b, c = body.columns(3)
            a.button("Save narration", key=f"save_{s.id}", on_click=common.action(
                edit.edit_narration, s.id, common.Value(key), opts, s.text, done=f"scene {i + 1}'s narration saved"))  # fmt: skip
            b.button("Merge with next", key=f"merge_{s.id}", disabled=i + 1 == len(scenes),
                     on_click=common.action(edit.merge_with_next, s.id, opts, done=f"scenes {i + 1} and {i + 2} merged"))  # fmt: skip
            inside = [(start, t) for start, t in sentences if s.start <= start < s.end]
            with c.popover("Split…", disabled=len(inside) < 2):
                labels = {start: t[:80] for start, t in inside[1:]}
                skey = f"split_at_{s.id}_{edit.digest(list(labels))}"
                st.selectbox("Start a new scene at", list(labels), format_func=labels.get, key=skey)
                st.button("Split here", key=f"split_{s.id}", on_click=common.action(
                    edit.split_scene, s.id, common.Value(skey), opts, done=f"scene {i + 1} split"))  # fmt: skip


def body(project) -> None:
    opts = common.options(project)
    story_editor(project, opts)
    scene_list(project, opts)
    with st.expander("New project"):
        new_project_form()


def welcome() -> None:
    st.write("Turn a story into a narrated vertical video: paste it, split it into scenes, give its characters their "
             "looks, pick a picture per scene, and render.")  # fmt: skip
    new_project_form()


common.page("Story", body, welcome)
