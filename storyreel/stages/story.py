"""Story in: read the file, check it, and find what is to be narrated (prose paragraphs or script lines).

A story is Markdown (plain text is Markdown without markup): what is narrated is the text a reader sees, with every
piece of markup (emphasis markers, backticks, link destinations, HTML tags, list and quote markers, escapes), bare
URLs, images, headings, code blocks and tables blanked out. Offsets always point into the text as decoded.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.helpers import parseLinkDestination, parseLinkTitle

from ..errors import InputError, StoryError
from ..types import Block, Line, Story

# storyreel makes short videos; a longer text should be split into parts (100,000 characters is ~2 hours of speech).
MAX_STORY_CHARS = 100_000

# CommonMark with GFM strikethrough and tables. Indented code is off: a plain-text story that indents its paragraphs
# (a tab, four spaces) is prose. text_join is off so that entities and escapes come as tokens of their own (their
# source differs from their text).
_MD = MarkdownIt("commonmark").enable(["strikethrough", "table"]).disable(["code", "text_join"])
# A bare URL is not spoken; punctuation after it is the sentence's.
_URL = re.compile(r"\b(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>]*[^\s<>.,;:!?'\")\]}]", re.IGNORECASE)
# HTML tags read as a space ("line<br>line"), or as nothing inside a phrase ("<b>Mira</b>." says "Mira.").
_PHRASE_TAGS = frozenset(
    "a abbr b bdi bdo big cite code data del dfn em font i ins kbd mark q s samp small span strike strong sub sup "
    "time tt u var".split()
)
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)")
# Markdown breaks lines at \n only: the other line ends Python knows become \n (same length), and so do \r\n -> " \n".
_LINE_ENDS = str.maketrans({c: "\n" for c in "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"} | {"\ufeff": " ", "\x00": "\ufffd"})
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
# "Speaker: speech | what to draw"; the speaker is optional.
_SCRIPT_LINE = re.compile(
    r"^[ \t]*(?:(?P<speaker>[^:|\n]{1,40}?)[ \t]*:[ \t]*)?(?P<speech>[^|\n]*?\S)[ \t]*\|[ \t]*(?P<visual>[^\n]*?\S)?[ \t]*$"
)


def read_story(path: str | Path) -> str:
    """Read a story file as UTF-8 text (or UTF-16/32 with a BOM), or raise a StoryError that says what to do."""
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
    # UTF-16 and UTF-32 files say so with a BOM; without one, NUL bytes mean a binary file.
    encoding, label = next(((enc, label) for bom, enc, label in _BOMS if data.startswith(bom)), ("utf-8", "UTF-8"))
    if label == "UTF-8" and b"\x00" in data[:65536]:
        raise StoryError(f"{p} is a binary file, not text: give a plain-text (UTF-8) story file")
    try:
        # A BOM stays in the text as U+FEFF whatever the encoding, so offsets match what Python reads from a UTF-8
        # file, and a story has the same offsets in UTF-8 (with a BOM), UTF-16 and UTF-32.
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        raise StoryError(
            f"{p} is not {label} text (bad byte at offset {err.start}): save it as UTF-8 plain text"
        ) from None
    if "\x00" in text[:65536]:
        raise StoryError(f"{p} is a binary file, not text: give a plain-text (UTF-8) story file")
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


def _line_spans(src: str) -> list[tuple[int, int]]:
    """(start, end) of every line of the normalized text, without its newline: what markdown-it's maps count."""
    out, pos = [], 0
    for line in src.split("\n"):
        out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


class _Narration:
    """What the narrator reads at each offset: blank (markup, and all that is not narrated) or the story's text;
    ``markup`` marks the blanks inside a block that are not the story's own spaces (said as nothing, not a pause)."""

    def __init__(self, text: str):
        self.text = text
        self.shown = ["\n" if ch == "\n" else " " for ch in text]
        self.kept = bytearray(len(text))
        self.markup = bytearray(len(text))

    def keep(self, start: int, shown: str) -> None:
        self.shown[start : start + len(shown)] = shown
        self.kept[start : start + len(shown)] = b"\x01" * len(shown)

    def pause(self, start: int, end: int) -> None:
        """An HTML tag or comment reads as a space (``line<br>line``), not as nothing."""
        for i in range(start, end):
            if not self.kept[i]:
                self.kept[i] = 1
                self.shown[i] = "\n" if self.text[i] == "\n" else " "

    def keep_text(self, src: str, content: str, pos: int, end: int) -> int:
        """Keep the next occurrence of a text token's ``content`` in src[pos:end]; the offset after it."""
        if not content.strip():
            return pos
        i = src.find(content, pos, end)
        if i >= 0:
            self.keep(i, self.text[i : i + len(content)])
            return i + len(content)
        # the token's text was rewritten (a code span across lines, a container's indent): word by word
        for word in content.split():
            i = src.find(word, pos, end)
            if i >= 0:
                self.keep(i, self.text[i : i + len(word)])
                pos = i + len(word)
        return pos

    def block(self, lo: int, hi: int, visual: str | None = None, speaker: str | None = None) -> Block | None:
        """The block narrated in [lo, hi): from its first kept character to its last, bare URLs blanked."""
        for m in _URL.finditer("".join(self.shown[lo:hi])):
            a, b = lo + m.start(), lo + m.end()
            self.shown[a:b] = [" "] * (b - a)
            self.kept[a:b] = bytes(b - a)
        said = [i for i in range(lo, hi) if self.kept[i] and not self.shown[i].isspace()]
        if not said:
            return None
        start, end = said[0], said[-1] + 1
        for i in range(start, end):  # the story's own spaces and line ends between the words
            if not self.kept[i]:
                if self.text[i].isspace():
                    self.shown[i] = self.text[i]
                else:
                    self.markup[i] = 1
        return Block(start, end, visual=visual, speaker=speaker)

    def result(self, form: str, blocks: list[Block | None]) -> tuple[str, tuple[Block, ...], str, str]:
        marked = ["\x00" if m else ch for ch, m in zip(self.shown, self.markup, strict=True)]
        return form, tuple(b for b in blocks if b), "".join(self.shown), "".join(marked)


def _label_end(src: str, i: int, end: int) -> int:
    """The offset after the ``]`` that closes the ``[`` at src[i]."""
    depth, p = 0, i
    while p < end:
        ch = src[p]
        if ch == "\\":
            p += 2
            continue
        depth += (ch == "[") - (ch == "]")
        if depth == 0:
            return p + 1
        p += 1
    return i + 1


def _skip_space(src: str, p: int, end: int) -> int:
    while p < end and src[p] in " \t\n":
        p += 1
    return p


def _link_tail(src: str, pos: int, end: int) -> int:
    """The offset after a link's ``(destination "title")`` or ``[reference]`` that starts at ``pos``, if any."""
    if pos < end and src[pos] == "(":
        p = _skip_space(src, pos + 1, end)
        dest = parseLinkDestination(src, p, end)
        if dest.ok:
            p = _skip_space(src, dest.pos, end)
            title = parseLinkTitle(src, p, end)
            if title.ok:
                p = _skip_space(src, title.pos, end)
        if p < end and src[p] == ")":
            return p + 1
    elif pos < end and src[pos] == "[":
        close = src.find("]", pos + 1, end)
        if close >= 0:
            return close + 1
    return pos


def _keep_inline(out: _Narration, src: str, children: list, pos: int, end: int) -> None:
    """Keep the text of an inline block's tokens, found forward from ``pos`` in the source (tokens are in order);
    every construct with markup moves ``pos`` past its markup, so no later text is found inside it."""
    in_autolink = False
    for tok in children:
        kind = tok.type
        if kind == "text" and not in_autolink:
            pos = out.keep_text(src, tok.content, pos, end)
        elif kind == "text_special":  # an entity (&amp; reads "&") or an escape (\* reads "*")
            i = src.find(tok.markup, pos, end)
            if i >= 0 and len(tok.content) <= len(tok.markup):
                # "&amp;" keeps "&" where the entity starts; "\*" keeps "*" where it is
                out.keep(i if tok.info == "entity" else i + len(tok.markup) - len(tok.content), tok.content)
                pos = i + len(tok.markup)
        elif kind == "code_inline":  # `code` reads as its text
            i = src.find(tok.markup, pos, end)
            if i >= 0:
                pos = out.keep_text(src, tok.content, i + len(tok.markup), end)
                close = src.find(tok.markup, pos, end)
                pos = close + len(tok.markup) if close >= 0 else pos
        elif kind == "html_inline":
            i = src.find(tok.content, pos, end)
            if i >= 0:
                tag = _TAG_NAME.match(tok.content)
                if not (tag and tag.group(1).lower() in _PHRASE_TAGS):
                    out.pause(i, i + len(tok.content))
                pos = i + len(tok.content)
        elif kind == "image":  # a picture is not read, nor its alt text
            i = src.find("![", pos, end)
            if i >= 0:
                pos = _link_tail(src, _label_end(src, i + 1, end), end)
        elif kind == "link_open" and tok.markup == "autolink":  # <http://...>: not read
            in_autolink = True
        elif kind == "link_close" and tok.markup == "autolink":
            in_autolink = False
            close = src.find(">", pos, end)
            pos = close + 1 if close >= 0 else pos
        elif kind == "link_open":  # [text](destination): the text is read
            i = src.find("[", pos, end)
            pos = i + 1 if i >= 0 else pos
        elif kind == "link_close":
            close = src.find("]", pos, end)
            if close >= 0:
                pos = _link_tail(src, close + 1, end)


class _HTMLText(HTMLParser):
    """An HTML block's text and tags in order: ("text", what a browser shows, "") or ("tag", its source, its name);
    scripts, styles and comments are neither."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[str, str, str]] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._hidden += tag in ("script", "style")
        self.events.append(("tag", self.get_starttag_text() or "<", tag))

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.events.append(("tag", self.get_starttag_text() or "<", tag))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1
        self.events.append(("tag", "</", tag))  # its source may differ in case and spaces: found by its "</"

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.events.append(("text", data, ""))


def _keep_html_block(out: _Narration, src: str, html: str, pos: int, end: int) -> None:
    """Keep the text of an HTML block; tags read as a space, or as nothing in a phrase (``<b>``, ``<i>``)."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    for kind, raw, name in parser.events:
        if kind == "text":
            pos = out.keep_text(src, raw, pos, end)
            continue
        i = src.find(raw, pos, end)
        close = (i + len(raw) if raw != "</" else src.find(">", i, end) + 1) if i >= 0 else 0
        if close > i >= 0:
            if name not in _PHRASE_TAGS:
                out.pause(i, close)
            pos = close


@lru_cache(maxsize=8)
def _read(text: str) -> tuple[str, tuple[Block, ...], str, str]:
    """(form, blocks, narrated text, the same with markup as NUL) of a story: see parse_story and narrated_text."""
    src = text.replace("\r\n", " \n").translate(_LINE_ENDS)  # what markdown-it reads, offsets unchanged
    tokens = _MD.parse(src)
    lines = _line_spans(src)
    out = _Narration(text)

    def span(line_map: list[int]) -> tuple[int, int]:
        return lines[line_map[0]][0], lines[line_map[1] - 1][1]

    # Paragraphs (in lists and quotes too) are narrated; headings, code, tables, rules and link definitions are not.
    paragraphs = [tok for prev, tok in zip(tokens, tokens[1:], strict=False)
                  if tok.type == "inline" and prev.type == "paragraph_open" and tok.map]  # fmt: skip
    script_lines = [s for tok in paragraphs for s in lines[tok.map[0] : tok.map[1]] if src[s[0] : s[1]].strip()]
    scripted = [(s, e, _SCRIPT_LINE.match(src[s:e])) for s, e in script_lines]
    if scripted and sum(1 for *_, m in scripted if m) >= max(1, 0.6 * len(scripted)):
        blocks = []
        for s, e, m in scripted:
            if m is None:  # a line without "|": all of it is speech
                lo, hi, visual, speaker = s, e, None, None
            else:
                lo, hi = s + m.start("speech"), s + m.end("speech")
                visual, speaker = m.group("visual") or None, (m.group("speaker") or "").strip() or None
            _keep_inline(out, src, _MD.parseInline(src[lo:hi])[0].children or [], lo, hi)
            blocks.append(out.block(lo, hi, visual=visual, speaker=speaker))
        return out.result("script", blocks)

    blocks = []
    narrated_paragraphs = {id(tok) for tok in paragraphs}
    for tok in tokens:
        if id(tok) in narrated_paragraphs:
            lo, hi = span(tok.map)
            _keep_inline(out, src, tok.children or [], lo, hi)
        elif tok.type == "html_block" and tok.map:  # its text is read, its tags are not
            lo, hi = span(tok.map)
            _keep_html_block(out, src, tok.content, lo, hi)
        else:
            continue
        blocks.append(out.block(lo, hi))
    return out.result("prose", blocks)


def parse_story(text: str) -> Story:
    """Find the narrated blocks. A script is a text whose lines mostly read ``Speaker: speech | visual``."""
    check_text(text)
    form, blocks, *_ = _read(text)
    return Story(text, form, blocks)


def spoken_text(story: Story, start: int, end: int) -> str:
    """What the narrator says (and the captions show) for story.text[start:end]: its narrated words, markup and
    URLs taken out (``**Siegfried**,`` says ``Siegfried,``), spaces and line ends collapsed."""
    marked = _read(story.text)[3]
    return " ".join(marked[start:end].replace("\x00", "").split())


def narrated_text(story: Story) -> str:
    """The story with everything that is not narrated blanked out, offsets unchanged (for the NLP stages): what the
    narrator says, with markup, URLs, headings, code, a script's speaker labels and what-to-draw blanked; entities
    read as their character (``&amp;`` as ``&    ``)."""
    narrated = _read(story.text)[2]
    chars = [" " if ch not in "\n" else "\n" for ch in story.text]
    for b in story.blocks:
        chars[b.start : b.end] = narrated[b.start : b.end]
    return "".join(chars)


def parse_narration(story: Story) -> Any:
    """spaCy's parse of the narrated text, each block (a paragraph, a script line) starting a sentence."""
    from ..nlp import parse

    return parse(narrated_text(story), [b.start for b in story.blocks])


def script_lines(story: Story) -> list[Line]:
    """A script's lines for the character finder: who speaks each (None for a narrator) and what it draws."""
    if story.form != "script":
        return []
    out = []
    for b in story.blocks:
        vstart = story.text.find(b.visual, b.end) if b.visual else -1
        speaker = b.speaker if b.speaker and b.speaker.strip().lower() not in NARRATOR_LABELS else None
        out.append(Line(b.start, b.end, speaker, vstart, b.visual if vstart >= 0 else ""))
    return out


# speaker labels that are nobody in the story: the voice that tells it
NARRATOR_LABELS = frozenset("narrator narration storyteller story teller voice voiceover voice-over vo v.o. n "
                            "voice over off-screen".split()) | {"voice over", "story teller"}  # fmt: skip
