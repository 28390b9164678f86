"""The storyreel studio (Streamlit): `storyreel ui [FOLDER]` runs this with its generation worker.

The sidebar opens, creates, duplicates and deletes the projects in FOLDER; the open project is in the URL
(?project=NAME), so a reload or a second tab lands on it. The pages: Story, Characters, Storyboard, Video,
Settings.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from storyreel.edit import delete_project, duplicate_project, list_projects
from storyreel.ui import common

HERE = Path(__file__).parent

st.set_page_config(page_title="storyreel studio", page_icon=str(HERE / "icon.png"), layout="wide")
st.logo(str(HERE / "logo.png"), size="large")


def _choose(name: str | None) -> None:
    if name:
        st.session_state["project"] = name
        st.query_params["project"] = name
    else:
        st.session_state.pop("project", None)
        st.query_params.pop("project", None)


def _sync_project() -> list[str]:
    """The open project: the URL's, else this tab's; the URL always names it."""
    names = [p.name for p in list_projects(common.root())]
    wanted = st.query_params.get("project") or st.session_state.get("project")
    if wanted and wanted not in names:
        common.flash("warning", f"there is no project {wanted!r} in {common.root()}: choose one in the sidebar")
        wanted = None
    _choose(wanted)
    return names


def _on_select(key: str) -> None:
    _choose(st.session_state.get(key))


def _duplicate(name: str) -> None:
    copy = st.session_state.get(f"_dup_name_{name}", "")
    if common.run_action(duplicate_project, common.root(), name, copy, done=f"made a copy: {copy}"):
        _choose(copy.strip())


def _delete(name: str) -> None:
    if common.run_action(delete_project, common.root(), name, done=f"deleted {name}"):
        _choose(None)


def sidebar(names: list[str], story_page) -> None:
    with st.sidebar:
        if st.button("New project", icon=":material/add:", key="_new", help="From a pasted or uploaded story"):
            _choose(None)
            st.switch_page(story_page)
        current = common.project_name()
        if names:
            key = f"_project_select_{current}"
            st.selectbox(
                "Project", names, index=names.index(current) if current in names else None, key=key,
                on_change=_on_select, args=(key,), placeholder="Open a project", help="Most recently changed first.",
            )  # fmt: skip
        else:
            st.caption(f"No projects yet in {common.root()}: create one on the Story page.")
        if current:
            with st.expander("Duplicate or delete"):
                st.text_input("Name of the copy", value=f"{current} copy", key=f"_dup_name_{current}")
                st.button("Duplicate", key="_dup", on_click=_duplicate, args=(current,))
                sure = st.checkbox(f"Yes, delete {current} with all its pictures and videos", key=f"_del_sure_{current}")
                st.button("Delete project", key="_del", type="primary", disabled=not sure, on_click=_delete,
                          args=(current,))  # fmt: skip
        st.caption(f"Projects folder: `{common.root()}`")


names = _sync_project()
pages = [
    st.Page(str(HERE / "views" / "story.py"), title="Story", icon=":material/edit_note:", url_path="story", default=True),
    st.Page(str(HERE / "views" / "characters.py"), title="Characters", icon=":material/group:", url_path="characters"),
    st.Page(str(HERE / "views" / "storyboard.py"), title="Storyboard", icon=":material/photo_library:", url_path="storyboard"),
    st.Page(str(HERE / "views" / "video.py"), title="Video", icon=":material/movie:", url_path="video"),
    st.Page(str(HERE / "views" / "settings.py"), title="Settings", icon=":material/settings:", url_path="settings"),
]
navigation = st.navigation(pages)
sidebar(names, pages[0])
navigation.run()
