"""The studio's pages, driven through Streamlit's AppTest: each button does what it says, in the database and on
the page, and a mistake is an error box, never a traceback. The worker runs in the test (the pages only queue)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import THREE_SCENES
from streamlit.testing.v1 import AppTest

from storyreel import edit
from storyreel.executors.inprocess import Worker
from storyreel.store import jobs as q
from storyreel.store.db import Project

APP = str(Path(__file__).resolve().parents[1] / "storyreel" / "ui" / "app.py")

TALE = """# The dragon of the mountain

Prince Siegfried rode out of the city at dawn with his grey hair in the wind.
The dragon Fafnir slept in the mountain, and the beast dreamed of gold.
Old Mira, the village healer, waited for him at the edge of the forest.
He climbed the mountain. The dragon woke and roared at him.
"""


@pytest.fixture
def root(tmp_path, monkeypatch):
    folder = tmp_path / "projects"
    folder.mkdir()
    monkeypatch.setenv("STORYREEL_STUDIO_ROOT", str(folder))
    return folder


@pytest.fixture
def tale(root):
    edit.create_project(root, "tale", TALE, {"backend": "sketch", "candidates": 2, "seed": 100}).close()
    return root / "tale"


def studio(page: str | None = None, project: str | None = "tale") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if project:
        at.query_params["project"] = project
    at.run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def key(widgets, prefix: str) -> str:
    """The key of the widget whose key starts with ``prefix`` (keys carry a fingerprint of what they show)."""
    found = [w.key for w in widgets if w.key and w.key.startswith(prefix)]
    assert len(found) == 1, (prefix, found)
    return found[0]


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def make_everything(path: Path) -> int:
    """The worker's part: make what the pages queued."""
    project = Project(path)
    ids = [j.id for j in q.jobs(project) if j.state == "queued"]
    Worker().drain(project, ids)
    return len(ids)


def edit_opts(project: Project) -> dict:
    from storyreel.pipeline import Options, resolve

    return resolve(project, Options())


def texts(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in at.markdown) + "\n".join(str(c.value) for c in at.caption)


# Story --------------------------------------------------------------------------------------------------------
def test_a_new_project_from_a_pasted_story(root):
    at = studio(project=None)
    at.text_input[0].set_value("dragon")
    at.text_area[0].set_value(THREE_SCENES)
    at.button[0].click().run()
    ok(at)
    assert at.query_params["project"] == "dragon"  # the URL names it: a reload lands on it
    assert any("project created" in t.value for t in at.toast)
    project = Project(root / "dragon")
    assert len(project.scenes()) == 3 and project.settings()["candidates"] == 8
    # a second tab with that URL sees the same project
    other = studio(project="dragon")
    assert any("3 scenes" in h.value for h in other.subheader)


def test_a_story_drafted_by_a_language_model_goes_into_the_form(root, monkeypatch):
    from test_write import GOOD, KEY, FakeLLM

    monkeypatch.setenv("STORYREEL_LLM_KEY", KEY)
    fake = FakeLLM([json.dumps(GOOD)])
    try:
        at = studio(project=None)
        at.text_input(key="draft_topic").set_value("a fox who outwits a crow")
        at.number_input(key="draft_scenes").set_value(3)
        at.text_input(key="draft_url").set_value(fake.url)
        at.text_input(key="draft_model").set_value("llama3.1")
        at.button(key=key(at.button, "FormSubmitter:draft")).click().run()
        ok(at)
        text = at.text_area(key="new_text").value
        assert text.startswith("# The Fox and the Crow") and "Rusty: What a voice" in text
        assert at.text_input(key="new_name").value == "the-fox-and-the-crow"
        assert not list(root.iterdir())  # nothing made until the user creates the project
        at.button[0].click().run()  # Create project
        ok(at)
        assert len(Project(root / "the-fox-and-the-crow").scenes()) == 3
        assert not [f for f in root.rglob("*") if f.is_file() and KEY.encode() in f.read_bytes()]
    finally:
        fake.close()
    at = studio(project=None)  # no server given: an error box, the form as it was
    at.text_input(key="draft_topic").set_value("a fox")
    at.button(key=key(at.button, "FormSubmitter:draft")).click().run()
    assert not at.exception and any("needs --llm-url" in e.value for e in at.error)


def test_bad_stories_get_an_error_box_and_make_nothing(root):
    at = studio(project=None)
    at.text_input[0].set_value("empty")
    at.text_area[0].set_value("   \n  ")
    at.button[0].click().run()
    assert not at.exception and any("write or paste a story" in e.value for e in at.error)
    at.text_input[0].set_value("../outside")
    at.text_area[0].set_value(THREE_SCENES)
    at.button[0].click().run()
    assert not at.exception and any("cannot be a project name" in e.value for e in at.error)
    assert not list(root.iterdir()) and not (root.parent / "outside").exists()


def test_split_merge_and_split_again_keep_what_did_not_change(tale):
    project = Project(tale)
    before = project.scenes()
    first = before[0]
    cand = project.add_candidate(first.id, "k1", 0, b"png", backend="sketch", model="sketch", seed=1, steps=1,
                                 guidance=0, width=8, height=8, prompt="p", negative="")  # fmt: skip
    project.pick(first.id, cand.id, by="user")
    at = studio("story")
    # merge scenes 3 and 4
    third = before[2]
    at.button(key=f"merge_{third.id}").click().run()
    ok(at)
    after = project.scenes()
    assert len(after) == len(before) - 1
    assert after[2].text == f"{before[2].text} {before[3].text}"
    assert after[0].id == first.id and project.picks()[first.id] == (cand.id, "user")
    # split it again where it was joined
    merged = after[2]
    at.selectbox(key=key(at.selectbox, f"split_at_{merged.id}_")).set_value(before[3].start)
    at.button(key=f"split_{merged.id}").click().run()
    ok(at)
    again = project.scenes()
    assert [s.text for s in again] == [s.text for s in before]
    # the merge and split stay when the story is edited elsewhere, and scene 1 keeps its pick
    story = project.story_text().replace("at dawn", "at first light")
    at.text_area(key=next(k for k in _keys(at) if k.startswith("story_"))).set_value(story)
    at.button(key="split_story").click().run()
    ok(at)
    assert [s.text for s in project.scenes()][1:] == [s.text for s in before][1:]
    assert project.scenes()[0].id == first.id and project.picks()[first.id] == (cand.id, "user")


def _keys(at: AppTest) -> list[str]:
    return [w.key for w in at.text_area if w.key]


def test_split_button_and_exact_scene_count(tale):
    at = studio("story")
    at.radio(key="scene_mode").set_value("Exactly")
    at.run()
    at.number_input(key="scene_count").set_value(2)
    at.button(key="split_story").click().run()
    ok(at)
    assert len(Project(tale).scenes()) == 2
    assert any("2 scenes" in h.value for h in at.subheader)


def test_edit_a_scene_narration(tale):
    project = Project(tale)
    s = project.scenes()[1]
    at = studio("story")
    key = next(k for k in _keys(at) if k.startswith(f"narration_{s.id}"))
    at.text_area(key=key).set_value("The dragon Fafnir dreamed of rivers of gold.")
    at.button(key=f"save_{s.id}").click().run()
    ok(at)
    now = project.scene(s.id)
    assert now.text == "The dragon Fafnir dreamed of rivers of gold." and now.index == 1
    assert "dreamed of rivers of gold" in project.story_text()


# Characters -----------------------------------------------------------------------------------------------------
def _char(project: Project, name: str):
    return next(c for c in project.characters() if c.name == name)


def test_rename_and_describe_a_character(tale):
    project = Project(tale)
    sieg = _char(project, "Siegfried")
    at = studio("characters")
    at.text_input(key=key(at.text_input, f"name_{sieg.id}_")).set_value("Siegfried the Bold")
    at.text_input(key=key(at.text_input, f"words_{sieg.id}_")).set_value("grey hair, silver armor, young knight")
    at.button(key=key(at.button, f"save_{sieg.id}_")).click().run()
    ok(at)
    now = next(c for c in project.characters() if c.id == sieg.id)
    assert now.name == "Siegfried the Bold" and now.prompt == "grey hair, silver armor, young knight"
    # every scene he is in carries his words; the page says so with his colour
    at.switch_page("views/storyboard.py").run()
    ok(at)
    assert "grey hair, silver armor, young knight" in texts(at)


def test_merge_and_split_characters(tale):
    project = Project(tale)
    chars = {c.name: c for c in project.characters()}
    mira, fafnir = chars["Mira"], chars["Fafnir"]
    at = studio("characters")
    at.selectbox(key=key(at.selectbox, f"merge_into_{mira.id}_")).set_value(fafnir.id)
    at.button(key=key(at.button, f"merge_{mira.id}_")).click().run()
    ok(at)
    assert mira.id not in {c.id for c in project.characters()}
    merged = next(c for c in project.characters() if c.id == fafnir.id)
    assert {m.text for m in mira.mentions} <= {m.text for m in merged.mentions}
    # and split her out again, from her mentions
    at.run()
    theirs = [f"{m.start}:{m.end}" for m in merged.mentions if m.text in {x.text for x in mira.mentions}]
    at.multiselect(key=key(at.multiselect, f"mentions_{fafnir.id}_")).set_value(theirs)
    at.run()
    at.text_input(key=key(at.text_input, f"split_name_{fafnir.id}_")).set_value("Mira")
    at.button(key=key(at.button, f"split_{fafnir.id}_")).click().run()
    ok(at)
    names = {c.name: c for c in project.characters()}
    assert {m.text for m in names["Mira"].mentions} == {m.text for m in mira.mentions}
    # the edits survive a new analysis of the story
    edit.set_story(project, project.story_text() + "\nMira smiled.", {"scenes": None, "coref": "rules"})
    names = {c.name: c for c in project.characters()}
    assert "Mira" in names and "Fafnir" in names
    assert {m.text for m in mira.mentions} <= {m.text for m in names["Mira"].mentions}


def test_not_a_character_and_add_by_hand(tale):
    project = Project(tale)
    mira = _char(project, "Mira")
    at = studio("characters")
    at.button(key=key(at.button, f"reject_{mira.id}_")).click().run()
    ok(at)
    assert "Mira" not in {c.name for c in project.characters()}
    at.text_input(key="add_name").set_value("Healer")
    at.text_input(key="add_aliases").set_value("the village healer")
    at.button(key="add_character").click().run()
    ok(at)
    healer = _char(project, "Healer")
    assert [m.text for m in healer.mentions] == ["the village healer"]
    scene3 = project.scenes()[2]
    assert healer.id in scene3.characters  # the scene where she is named now carries her words
    edit.set_story(project, project.story_text(), {"scenes": None, "coref": "rules"})
    assert "Mira" not in {c.name for c in project.characters()}  # still not a character


def test_portraits_preview_and_reference(tale):
    project = Project(tale)
    sieg = _char(project, "Siegfried")
    at = studio("characters")
    at.number_input(key=f"n_portraits_{sieg.id}").set_value(2)
    at.run()
    at.button(key=f"preview_{sieg.id}").click().run()
    ok(at)
    assert make_everything(tale) == 2
    at.run()
    ok(at)
    shots = project.portraits(sieg.id)
    assert len(shots) == 2
    assert any(b.key == f"ref_{sieg.id}_{shots[1].id}" for b in at.button)
    at.button(key=f"ref_{sieg.id}_{shots[1].id}").click().run()
    ok(at)
    assert _char(project, "Siegfried").reference == shots[1].media
    # preview again: the same seed makes nothing new
    at.button(key=f"preview_{sieg.id}").click().run()
    assert make_everything(tale) == 0


# Storyboard -----------------------------------------------------------------------------------------------------
def test_generate_all_pick_lock_and_more(tale):
    project = Project(tale)
    scenes = project.scenes()
    at = studio("storyboard")
    at.button(key="generate_all").click().run()
    ok(at)
    assert make_everything(tale) == 2 * len(scenes)
    at.run()
    ok(at)
    s = scenes[1]
    rows = project.candidates(s.id)
    assert len(rows) == 2
    assert len(at.image) == 2 * len(scenes)
    # pick the second one
    at.button(key=f"pick_{s.id}_{rows[1].id}").click().run()
    ok(at)
    assert project.picks()[s.id] == (rows[1].id, "user")
    assert not any(b.key == f"pick_{s.id}_{rows[1].id}" for b in at.button)  # marked picked, not a button
    # lock: no more, no regenerate, no other pick
    at.button(key=f"lock_{s.id}").click().run()
    ok(at)
    assert project.scene(s.id).locked
    assert at.button(key=f"pick_{s.id}_{rows[0].id}").disabled
    # a new style changes every prompt: Generate all remakes every scene but the locked one
    project.set_settings(style="oil painting")
    at.button(key="generate_all").click().run()
    queued = {j.target for j in q.jobs(project) if j.state == "queued"}
    assert queued == {x.id for x in scenes} - {s.id}
    assert make_everything(tale) == 2 * (len(scenes) - 1)
    assert edit.shown_pictures(project, edit_opts(project))[s.id].id == rows[1].id  # the video keeps its picture
    at.button(key=f"lock_{s.id}").click().run()
    # more: K more candidates with new seeds, for this scene only
    at.number_input(key=f"more_n_{s.id}").set_value(3)
    at.run()
    at.button(key=f"more_{s.id}").click().run()
    ok(at)
    assert make_everything(tale) == 5  # 2 + 3 for its current prompt (the new style), the others have theirs
    seeds = sorted(r.seed for r in project.candidates(s.id) if "oil painting" in r.prompt)
    assert seeds == [100, 101, 102, 103, 104]
    assert project.picks()[s.id] == (rows[1].id, "user")


def test_edit_a_prompt_regenerate_and_reset(tale):
    project = Project(tale)
    at = studio("storyboard")
    at.button(key="generate_all").click().run()
    make_everything(tale)
    at.run()
    s = project.scenes()[0]
    at.toggle(key=f"edit_{s.id}").set_value(True).run()
    key = next(w.key for w in at.text_area if w.key and w.key.startswith(f"visual_{s.id}"))
    at.text_area(key=key).set_value("a knight on a white horse leaving a walled city at dawn")
    at.button(key=f"save_visual_{s.id}").click().run()
    ok(at)
    assert "a knight on a white horse" in texts(at)
    assert at.button(key=f"regen_{s.id}").disabled is False
    at.button(key=f"regen_{s.id}").click().run()
    assert make_everything(tale) == 2
    at.run()
    newest = project.candidates(s.id)[-2:]
    assert all("a knight on a white horse" in r.prompt for r in newest)
    assert all("prince, grey hair" in r.prompt for r in newest)  # his words stay
    at.button(key=f"reset_visual_{s.id}").click().run()
    ok(at)
    assert project.scene_override(s.id) is None
    assert at.button(key=f"regen_{s.id}").disabled  # the automatic prompt's candidates are there already


def test_generate_with_a_tiny_diffusers_model(tale, tiny_model):
    project = Project(tale)
    at = studio("settings")
    at.selectbox(key="backend").set_value("diffusers")
    at.text_input(key="model").set_value(str(tiny_model))
    at.number_input(key="steps").set_value(2)
    at.text_input(key="size").set_value("64x112")
    at.button(key="save_settings").click().run()
    ok(at)
    assert any("tiny-sd" in s.value for s in at.success)
    at.switch_page("views/storyboard.py").run()
    at.button(key="generate_all").click().run()
    ok(at)
    assert make_everything(tale) == 2 * len(project.scenes())
    rows = project.candidates()
    assert {r.backend for r in rows} == {"diffusers"} and {(r.width, r.height) for r in rows} == {(64, 112)}


def test_a_missing_model_is_an_error_box(tale):
    at = studio("settings")
    at.selectbox(key="backend").set_value("diffusers")
    at.text_input(key="model").set_value("/nowhere/model")
    at.button(key="save_settings").click().run()
    assert not at.exception
    assert any("not found" in e.value for e in at.error)
    at.switch_page("views/storyboard.py").run()
    assert not at.exception


# Video ----------------------------------------------------------------------------------------------------------
def test_render_in_the_background_and_play(tale):
    project = Project(tale)
    # a square video of a quick voice: the same render, in half the time (its frames are no part of this test)
    project.set_settings(aspect="1:1", speed=450)
    at = studio("storyboard")
    at.button(key="generate_all").click().run()
    make_everything(tale)
    at.switch_page("views/video.py").run()
    ok(at)
    at.button(key="render").click().run()
    ok(at)
    assert q.latest(project, "render").state == "queued"
    assert make_everything(tale) == 1
    at.run()
    ok(at)
    assert (tale / "video.mp4").exists() and (tale / "video.srt").exists()
    assert at.get("video")
    labels = {b.label for b in at.get("download_button")}
    assert {"Download MP4", "Download SRT"} <= labels


def test_settings_go_back_to_the_model_defaults_and_a_bad_value_stores_nothing(tale):
    project = Project(tale)
    at = studio("settings")
    at.number_input(key="steps").set_value(20)
    at.number_input(key="guidance").set_value(7.5)
    at.button(key="save_settings").click().run()
    ok(at)
    assert (project.settings()["steps"], project.settings()["guidance"]) == (20, 7.5)
    at.number_input(key="steps").set_value(0)
    at.number_input(key="guidance").set_value(-1.0)
    at.button(key="save_settings").click().run()
    ok(at)
    assert project.settings()["steps"] is None and project.settings()["guidance"] is None
    at.text_input(key="size").set_value("banana")
    at.number_input(key="steps").set_value(9)
    at.button(key="save_settings").click().run()
    assert not at.exception and any("WIDTHxHEIGHT" in e.value for e in at.error)
    assert project.settings().get("size") is None and project.settings()["steps"] is None  # nothing stored


def test_settings_take_deepcache_and_refuse_it_with_compile(tale):
    project = Project(tale)
    at = studio("settings")
    at.number_input(key="deepcache").set_value(3)
    at.checkbox(key="compile").check()
    at.button(key="save_settings").click().run()
    assert not at.exception and any("do not go together" in e.value for e in at.error)
    assert not project.settings().get("deepcache") and not project.settings().get("compile")  # nothing stored
    at.checkbox(key="compile").uncheck()
    at.button(key="save_settings").click().run()
    ok(at)
    assert project.settings()["deepcache"] == 3 and at.number_input(key="deepcache").value == 3


def test_settings_take_an_a1111_server_without_its_password(tale):
    project = Project(tale)
    at = studio("settings")
    at.selectbox(key="backend").set_value("a1111")
    at.button(key="save_settings").click().run()  # no server given: an error box, nothing stored
    assert not at.exception and any("--backend-url" in e.value for e in at.error)
    assert project.settings()["backend"] == "sketch"
    from test_a1111 import FakeA1111

    fake = FakeA1111()
    try:
        at.text_input(key="backend_url").set_value(fake.url.replace("http://", "http://ana:pw123@") + "/")
        at.button(key="save_settings").click().run()
        ok(at)
        assert (project.settings()["backend"], project.settings()["backend_url"]) == ("a1111", fake.url)
        assert not [f for f in tale.rglob("*") if f.is_file() and b"pw123" in f.read_bytes()]  # the database, its WAL
        assert any(f"a1111 at {fake.url}" in s.value for s in at.success)
    finally:
        fake.close()


def test_settings_list_the_a1111_servers_checkpoints(tale):
    from test_a1111 import FakeA1111

    project = Project(tale)
    fake = FakeA1111()
    try:
        project.set_settings(backend="a1111", backend_url=fake.url)
        at = studio("settings")
        box = at.selectbox(key="a1111_model")
        assert box.options == ["v1-5-pruned.safetensors [6ce0161689]", "dreamshaper_8.safetensors [879db523c3]"]
        box.set_value("dreamshaper_8.safetensors [879db523c3]").run()
        ok(at)
        assert project.settings()["model"] == "dreamshaper_8.safetensors [879db523c3]"
    finally:
        fake.close()
    at = studio("settings")  # the server is gone: an error box that says so, the page still works
    assert not at.exception and any("cannot reach the AUTOMATIC1111 server" in e.value for e in at.error)


def test_two_tabs_do_not_overwrite_each_other(tale):
    project = Project(tale)
    mira = _char(project, "Mira")
    a, b = studio("characters"), studio("characters")
    a.text_input(key=key(a.text_input, f"words_{mira.id}_")).set_value("old woman, green shawl")
    a.button(key=key(a.button, f"save_{mira.id}_")).click().run()
    ok(a)
    # tab B still shows the old words; it changes only the negative words
    b.text_input(key=key(b.text_input, f"neg_{mira.id}_")).set_value("young")
    b.button(key=key(b.button, f"save_{mira.id}_")).click().run()
    ok(b)
    now = _char(project, "Mira")
    assert (now.prompt, now.negative) == ("old woman, green shawl", "young")
    # a narration saved from a page drawn before another tab merged its scene is refused, and nothing is lost
    story_a, story_b = studio("story"), studio("story")
    first = project.scenes()[0]
    story_a.button(key=f"merge_{first.id}").click().run()
    ok(story_a)
    text = project.story_text()
    narr = key(story_b.text_area, f"narration_{first.id}_")
    story_b.text_area(key=narr).set_value("Prince Siegfried rode out at dawn.")
    story_b.button(key=f"save_{first.id}").click().run()
    assert any("changed since the page was drawn" in e.value for e in story_b.error)
    assert project.story_text() == text


def test_a_merged_character_shows_and_keeps_its_words(tale):
    project = Project(tale)
    fafnir, mira = _char(project, "Fafnir"), _char(project, "Mira")
    project.update_character(fafnir.id, prompt="green scales, huge wings")
    at = studio("characters")
    at.selectbox(key=key(at.selectbox, f"merge_into_{fafnir.id}_")).set_value(mira.id)
    at.button(key=key(at.button, f"merge_{fafnir.id}_")).click().run()
    ok(at)
    words = at.text_input(key=key(at.text_input, f"words_{mira.id}_"))
    assert words.value == "green scales, huge wings"  # the card shows what was merged in
    at.button(key=key(at.button, f"save_{mira.id}_")).click().run()
    assert _char(project, "Mira").prompt == "green scales, huge wings"


def test_mentions_are_chosen_by_what_they_are_and_a_move_needs_a_target(tale):
    project = Project(tale)
    sieg = _char(project, "Siegfried")
    at = studio("characters")
    target = sieg.mentions[1]
    picker = key(at.multiselect, f"mentions_{sieg.id}_")
    at.multiselect(key=picker).set_value([f"{target.start}:{target.end}"])
    at.run()
    at.button(key=key(at.button, f"move_{sieg.id}_")).click().run()  # no one chosen to move them to
    assert any("choose the character to move" in e.value for e in at.error)
    assert len(_char(project, "Siegfried").mentions) == len(sieg.mentions)
    at.button(key=key(at.button, f"drop_{sieg.id}_")).click().run()
    ok(at)
    left = _char(project, "Siegfried").mentions
    assert (target.start, target.end) not in {(m.start, m.end) for m in left} and len(left) == len(sieg.mentions) - 1
    # the choice does not carry over to another mention
    assert not at.multiselect(key=key(at.multiselect, f"mentions_{sieg.id}_")).value


def test_the_writing_assistant_describes_scenes_and_suggests_a_characters_words(tale, monkeypatch):
    from test_write import KEY, FakeLLM

    monkeypatch.setenv("STORYREEL_LLM_KEY", KEY)
    project = Project(tale)
    at = studio("storyboard")
    at.button(key="describe_scenes").click().run()  # no assistant yet: it says where to set one
    assert not at.exception and any("Settings, Writing assistant" in e.value for e in at.error)
    n = len(project.scenes())
    drawings = {"scenes": [{"scene": i + 1, "draw": f"Fafnir over the gold, picture {i + 1}"} for i in range(n)]}
    fake = FakeLLM([json.dumps(drawings), json.dumps({"scenes": [{"scene": 1, "draw": "Mira alone at dusk"}]}),
                    json.dumps({"words": "old woman, herb basket, green shawl"})])  # fmt: skip
    try:
        at.switch_page("views/settings.py").run()
        at.text_input(key="llm_url").set_value(fake.url)
        at.button(key="save_assistant").click().run()  # a server but no model: nothing stored
        assert not at.exception and any("needs --llm-model" in e.value for e in at.error)
        assert project.settings().get("llm_url") is None
        at.text_input(key="llm_model").set_value("llama3.1")
        at.button(key="save_assistant").click().run()
        ok(at)
        assert (project.settings()["llm_url"], project.settings()["llm_model"]) == (fake.url, "llama3.1")

        project.set_scene_lock(project.scenes()[1].id, True)  # a locked scene keeps its prompt
        at.switch_page("views/storyboard.py").run()
        at.button(key="describe_scenes").click().run()
        ok(at)
        asked = fake.requests[0][1]["messages"][-1]["content"]
        assert "Fafnir" in asked and "dreamed of gold" not in asked  # scene 2, locked, is not asked about
        scenes = project.scenes()
        assert scenes[0].visual == "Fafnir over the gold, picture 1" and scenes[1].visual != "Fafnir over the gold, picture 2"
        page = " ".join(m.value for m in at.markdown)
        assert "Fafnir over the gold, picture 1" in page  # the new prompt is on the scene's card
        at.toggle(key=f"edit_{scenes[2].id}").set_value(True).run()
        at.button(key=f"describe_{scenes[2].id}").click().run()  # one scene, from its editor
        ok(at)
        assert project.scenes()[2].visual == "Mira alone at dusk"

        at.switch_page("views/characters.py").run()
        at.button(key=key(at.button, "describe_mira_")).click().run()
        ok(at)
        mira = _char(project, "Mira")
        assert mira.prompt == "old woman, herb basket, green shawl"
        assert at.text_input(key=key(at.text_input, "words_mira_")).value == "old woman, herb basket, green shawl"
        assert not [f for f in tale.rglob("*") if f.is_file() and KEY.encode() in f.read_bytes()]
    finally:
        fake.close()
