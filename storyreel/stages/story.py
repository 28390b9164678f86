"""Story in: read the file, check it, and find what is to be narrated (prose paragraphs or script lines)."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError, StoryError
from ..types import Block, Story

# storyreel makes short videos; a longer text should be split into parts (100,000 characters is ~2 hours of speech).
MAX_STORY_CHARS = 100_000

_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t].*)?$")
_RULE = re.compile(r"^[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*$")
# "Speaker: speech | what to draw"; the speaker is optional.
_SCRIPT_LINE = re.compile(
    r"^[ \t]*(?:(?P<speaker>[^:|\n]{1,40}?)[ \t]*:[ \t]*)?(?P<speech>[^|\n]*?\S)[ \t]*\|[ \t]*(?P<visual>[^\n]*?\S)?[ \t]*$"
)


def read_story(path: str | Path) -> str:
    """Read a story file as UTF-8 text, or raise a StoryError that says what to do."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"story file {p} not found: check the path") from None
    except IsADirectoryError:
        raise InputError(f"{p} is a folder, not a story file: give a .txt or .md file") from None
    except OSError as err:
        raise InputError(f"cannot read story file {p}: {err.strerror}") from None
    return decode_story(data, str(p))


def decode_story(data: bytes, name: str) -> str:
    """A story file's bytes as text, or a StoryError that says what to do."""
    p = name
    if b"\x00" in data[:65536]:
        raise StoryError(f"{p} is a binary file, not text: give a plain-text (UTF-8) story file")
    try:
        text = data.decode("utf-8")  # a BOM stays, so offsets match what Python reads
    except UnicodeDecodeError as err:
        raise StoryError(
            f"{p} is not UTF-8 text (bad byte at offset {err.start}): save it as UTF-8 plain text"
        ) from None
    check_text(text, p)
    return text


def check_text(text: str, name: str = "the story") -> None:
    if not text.strip():
        raise StoryError(f"{name} is empty: write or paste a story into it")
    if len(text) > MAX_STORY_CHARS:
        raise StoryError(
            f"{name} has {len(text):,} characters, more than the {MAX_STORY_CHARS:,} storyreel takes: "
            "split it into parts of a few pages each"
        )
    if not any(ch.isalnum() for ch in text):
        raise StoryError(f"{name} has no words in it: write or paste a story into it")


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line, without its newline."""
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        out.append((pos, pos + len(body)))
        pos += len(line)
    return out


def _ignored(line: str) -> bool:
    return not line.strip() or bool(_HEADING.match(line)) or bool(_RULE.match(line))


def parse_story(text: str) -> Story:
    """Find the narrated blocks. A script is a text whose lines mostly read ``Speaker: speech | visual``."""
    check_text(text)
    original, text = text, text.replace("\ufeff", " ")  # same length: offsets still point into the original
    lines = [(s, e) for s, e in _lines(text) if not _ignored(text[s:e])]
    scripted = [(s, e, _SCRIPT_LINE.match(text[s:e])) for s, e in lines]
    n_script = sum(1 for *_, m in scripted if m)
    if lines and n_script >= max(1, 0.6 * len(lines)):
        blocks = []
        for s, e, m in scripted:
            if m is None:  # a line without "|": all of it is speech
                ls = len(text[s:e]) - len(text[s:e].lstrip())
                blocks.append(Block(s + ls, s + len(text[s:e].rstrip())))
                continue
            speaker = m.group("speaker")
            blocks.append(
                Block(
                    s + m.start("speech"),
                    s + m.end("speech"),
                    visual=m.group("visual") or None,
                    speaker=speaker.strip() if speaker else None,
                )
            )
        return Story(original, "script", tuple(blocks))

    # Prose: paragraphs are runs of lines that are not blank, headings or rules.
    blocks, start, end = [], None, None
    for s, e in _lines(text):
        if _ignored(text[s:e]):
            if start is not None:
                blocks.append(Block(start, end))
                start = None
            continue
        body = text[s:e]
        if start is None:
            start = s + len(body) - len(body.lstrip())
        end = s + len(body.rstrip())
    if start is not None:
        blocks.append(Block(start, end))
    return Story(original, "prose", tuple(blocks))


def narrated_text(story: Story) -> str:
    """The story with everything that is not narrated blanked out, offsets unchanged (for the NLP stages).

    Script visuals are kept (they name the characters a scene shows) but set apart by newlines.
    """
    chars = [" " if ch not in "\n" else "\n" for ch in story.text]
    for b in story.blocks:
        chars[b.start : b.end] = story.text[b.start : b.end]
        if b.visual:
            vstart = story.text.find(b.visual, b.end)
            if vstart >= 0:
                chars[b.end] = "\n"
                chars[vstart : vstart + len(b.visual)] = b.visual
    return "".join(chars)
