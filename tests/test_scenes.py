from __future__ import annotations

import pytest

from storyreel.errors import StoryError
from storyreel.stages.scenes import split_scenes
from storyreel.stages.story import parse_story

TEXT = (
    "The old king ruled a quiet land by the sea. He had three daughters and one son. "
    "Yes. No. The youngest daughter loved the sea more than anything in the world. "
    "One day a storm came from the west and broke the royal ships."
)


def test_one_scene_per_sentence_with_short_ones_merged():
    scenes = split_scenes(parse_story(TEXT))
    texts = [s.text for s in scenes]
    assert texts[0] == "The old king ruled a quiet land by the sea."
    # "Yes." and "No." are too short to hold a picture for two seconds: they join a neighbour
    assert not any(t in ("Yes.", "No.") for t in texts)
    assert " ".join(texts) == " ".join(TEXT.split())
    for s in scenes:
        assert TEXT[s.start : s.end].split() == s.text.split()
        assert s.visual == s.text


def test_exactly_n_scenes_and_too_many():
    story = parse_story(TEXT)
    for n in (1, 2, 3):
        scenes = split_scenes(story, scenes=n)
        assert len(scenes) == n
        assert " ".join(s.text for s in scenes) == " ".join(TEXT.split())
    with pytest.raises(StoryError, match="too few for 50 scenes"):
        split_scenes(story, scenes=50)


def test_script_gives_one_scene_per_line_with_its_visual():
    text = "Narrator: Hi there, it begins. | a castle at dawn\nNarrator: Then the dragon came. | a dragon\n"
    scenes = split_scenes(parse_story(text))
    assert [(s.text, s.visual) for s in scenes] == [
        ("Hi there, it begins.", "a castle at dawn"),
        ("Then the dragon came.", "a dragon"),
    ]


def test_paragraphs_never_share_a_scene():
    text = (
        "The wolf ran through the dark wood all night long.\n\nIn the morning the hunter found the tracks in the snow."
    )
    scenes = split_scenes(parse_story(text))
    assert len(scenes) == 2
