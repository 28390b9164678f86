from __future__ import annotations

import pytest

from storyreel.errors import InputError, StoryError
from storyreel.stages.story import MAX_STORY_CHARS, narrated_text, parse_story, read_story


def test_prose_blocks_skip_headings_and_blank_lines():
    text = "# Title\n\nFirst paragraph line one.\nLine two.\n\n## Part 2\n\nSecond paragraph.\n"
    story = parse_story(text)
    assert story.form == "prose"
    assert [text[b.start : b.end] for b in story.blocks] == [
        "First paragraph line one.\nLine two.",
        "Second paragraph.",
    ]
    blank = narrated_text(story)
    assert len(blank) == len(text) and "Title" not in blank and "Part 2" not in blank


def test_script_lines_give_speech_visual_and_speaker():
    text = (
        "# The tale\n\nNarrator: The knight rode out. | a knight on a white horse, dawn\n"
        "Narrator: The dragon woke. | a black dragon in a cave\n"
    )
    story = parse_story(text)
    assert story.form == "script"
    assert [text[b.start : b.end] for b in story.blocks] == ["The knight rode out.", "The dragon woke."]
    assert [b.visual for b in story.blocks] == ["a knight on a white horse, dawn", "a black dragon in a cave"]
    assert {b.speaker for b in story.blocks} == {"Narrator"}


def test_bom_keeps_offsets_of_the_decoded_text(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffOnce upon a time there was a king.".encode())
    text = read_story(path)
    assert text == path.read_text(encoding="utf-8")
    story = parse_story(text)
    assert text[story.blocks[0].start :].startswith("Once")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"   \n\t\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"caf\xe9 au lait", "not UTF-8"),
        (b"... --- !!!", "no words"),
    ],
)
def test_bad_story_files_say_what_to_do(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(StoryError, match=message):
        read_story(path)


def test_too_long_and_missing(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("word " * (MAX_STORY_CHARS // 5 + 10))
    with pytest.raises(StoryError, match="split it into parts"):
        read_story(big)
    with pytest.raises(InputError, match="not found"):
        read_story(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="is a folder"):
        read_story(tmp_path)
