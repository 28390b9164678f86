"""Markdown stories are narrated as the text a reader sees: no markup, URLs or code spoken or captioned."""

from __future__ import annotations

import json
import re

import pytest
from conftest import EXAMPLE, parse_srt

from storyreel import analyse
from storyreel.stages.scenes import split_scenes
from storyreel.stages.story import narrated_text, parse_story, read_story

MARKDOWN = """# The Prince and the Dragon

Prince **Siegfried** rode out of [the city of Worms](https://example.com/worms "Worms") at dawn, in _silver armor_.
He read the `old map` that he found at https://maps.example.com/route?x=1 and <b>Mira</b> waved to him.

## The healer

- Old Mira gave him a jar of __salve__ &amp; bread.
- She said the dragon slept in the mountain.

1. The dragon Fafnir woke.
2. The beast roared at the prince.

> Fire filled the cave,
> and the prince raised his shield.

![the cave, drawn](cave.png) Siegfried struck\\! See <https://example.org/ending> for more.

```python
print("not narrated at all")
```

<div align="center">
At sunrise Siegfried came <i>home</i>.
</div>

[ref]: https://example.com/ref
"""

SPOKEN = (
    "Prince Siegfried rode out of the city of Worms at dawn, in silver armor. "
    "He read the old map that he found at and Mira waved to him. "
    "Old Mira gave him a jar of salve & bread. "
    "She said the dragon slept in the mountain. "
    "The dragon Fafnir woke. "
    "The beast roared at the prince. "
    "Fire filled the cave, and the prince raised his shield. "
    "Siegfried struck! See for more. "
    "At sunrise Siegfried came home."
)

MARKUP = ["**", "__", "_silver", "`", "](", "[", "http", "example", "<", ">", "#", "&amp;", "- ", "1.", "\\", "print"]


def _no_markup(text: str) -> None:
    for piece in MARKUP:
        assert piece not in text, (piece, text)


def _in_order(words: list[str], text: str) -> bool:
    pos = 0
    for word in words:
        pos = text.find(word, pos)
        if pos < 0:
            return False
        pos += len(word)
    return True


def test_markdown_story_scenes_read_as_text(tmp_path, cli):
    story = tmp_path / "story.md"
    story.write_text(MARKDOWN, encoding="utf-8")
    run = cli("characters", story, "--json")
    assert run.code == 0, run.stderr
    scenes = json.loads(run.stdout)["scenes"]
    texts = [s["text"] for s in scenes]
    assert " ".join(texts) == SPOKEN
    for s in scenes:
        _no_markup(s["text"])
        # offsets still point into the story as written: a scene starts on its first word, and has all its words
        written = MARKDOWN[s["start"] : s["end"]]
        words = re.findall(r"\w+", s["text"])
        assert written.startswith(words[0]) and _in_order(words, written), (written, s["text"])
    names = [c["name"] for c in json.loads(run.stdout)["characters"]]
    assert any("Siegfried" in name for name in names) and any("Mira" in name for name in names), names


def test_headings_code_and_link_targets_are_not_narrated():
    story = parse_story(MARKDOWN)
    assert story.form == "prose"
    blank = narrated_text(story)
    assert len(blank) == len(MARKDOWN)
    for gone in ["The healer", "not narrated", "example.com", "cave.png", "the cave, drawn", 'Worms"', "**"]:
        assert gone not in blank, gone
    # every block starts and ends on a narrated word, not on markup
    for b in story.blocks:
        assert MARKDOWN[b.start].isalnum() and MARKDOWN[b.end - 1] in ".!,", MARKDOWN[b.start : b.end]


def test_script_speech_markup_is_not_spoken():
    text = (
        "Narrator: The **knight** rode to [Worms](http://worms.example). | a knight on a white horse\n"
        "Mira: `Go` now, *brave* one! | an old woman at the gate\n"
    )
    story = parse_story(text)
    assert story.form == "script"
    assert [b.speaker for b in story.blocks] == ["Narrator", "Mira"]
    assert [b.visual for b in story.blocks] == ["a knight on a white horse", "an old woman at the gate"]
    scenes = split_scenes(story)
    assert [s.text for s in scenes] == ["The knight rode to Worms.", "Go now, brave one!"]


def test_rendered_captions_have_no_markup(tmp_path, cli):
    story = tmp_path / "story.md"
    story.write_text(
        "# Title\n\nPrince **Siegfried** rode to [the city](https://example.com/city) at *dawn*, see "
        "https://example.com/map or <b>this</b>.\n\n- The `dragon` slept.\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.mp4"
    run = cli("make", story, "-o", out, "--backend", "sketch", "--scenes", "1")
    assert run.code == 0, run.stderr
    srt = out.with_suffix(".srt").read_text(encoding="utf-8")
    for piece in ["**", "](", "http", "<", "`", "#", "- "]:
        assert piece not in srt, (piece, srt)
    captions = " ".join(c[2] for c in parse_srt(srt))
    assert "the city" in captions and "Siegfried" in captions and "dragon" in captions


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_story_with_bom_reads_like_its_utf8_copy(tmp_path, encoding):
    text = EXAMPLE.read_text(encoding="utf-8")
    utf16 = tmp_path / "story16.md"
    utf16.write_bytes(("\ufeff" + text).encode(encoding))
    utf8_bom = tmp_path / "story8.md"
    utf8_bom.write_bytes(("\ufeff" + text).encode("utf-8"))
    read = read_story(utf16)
    assert read == read_story(utf8_bom) == "\ufeff" + text  # the BOM stays, as for UTF-8: same offsets
    scenes16, _ = analyse(read)
    scenes8, _ = analyse(read_story(utf8_bom))
    plain, _ = analyse(text)
    assert [(s.start, s.end, s.text) for s in scenes16] == [(s.start, s.end, s.text) for s in scenes8]
    assert [s.text for s in scenes16] == [s.text for s in plain]


# no markup, but what looks like it: a tab-indented paragraph (not code), a lone "*", snake_case
PLAIN = """The Miller's Daughter

Once upon a time, a miller had a daughter who could spin straw into gold; or so he said to the king.
The king (who loved gold more than anything) locked her in a room: 2 * 3 = 6 rooms of straw, and a wheel.

	She wept -- and a little man came in! "What will you give me?" he asked. She gave him her necklace...
	He spun all night, the snake_case of a spinning wheel humming until dawn.
"""


def test_plain_story_is_narrated_as_written():
    story = parse_story(PLAIN)
    blocks = [PLAIN[b.start : b.end] for b in story.blocks]
    assert blocks == [p.strip() for p in PLAIN.split("\n\n")]
    blank = narrated_text(story)
    for b in story.blocks:
        assert blank[b.start : b.end] == PLAIN[b.start : b.end]
    for scene in split_scenes(story):
        assert scene.text == " ".join(PLAIN[scene.start : scene.end].split())
