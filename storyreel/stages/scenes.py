"""Scenes: the story cut into pieces of one picture and one narrated line each."""

from __future__ import annotations

import re
from typing import Any

from ..errors import InputError, StoryError
from ..types import Scene, Story
from .language import IDEOGRAPHIC, OTHER_NO_SPACE, detect_language

# A scene should carry about two seconds of speech; espeak and most voices speak ~2.7 words a second, and
# Chinese or Japanese about four characters a second (espeak's Mandarin: ~3.6).
MIN_SCENE_SECONDS = 2.0
WORDS_PER_SECOND = 2.7
IDEOGRAPHS_PER_SECOND = 4.0
LETTERS_PER_SECOND = 12.0  # Thai, Lao, Khmer, Burmese: letters, not words, between the spaces
MAX_SENTENCE_SECONDS = 15.0  # a longer "sentence" (no full stop in a paragraph) is cut at its commas

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
_IDEOGRAPHS = re.compile(f"[{IDEOGRAPHIC}]")
_NO_SPACE_LETTERS = re.compile(f"[{OTHER_NO_SPACE}]")


def speech_seconds(text: str) -> float:
    if not _IDEOGRAPHS.search(text) and not _NO_SPACE_LETTERS.search(text):
        return len(_WORD.findall(text)) / WORDS_PER_SECOND
    ideographs = len(_IDEOGRAPHS.findall(text))
    letters = len(_NO_SPACE_LETTERS.findall(text))
    words = len(_WORD.findall(_NO_SPACE_LETTERS.sub(" ", _IDEOGRAPHS.sub(" ", text))))
    return words / WORDS_PER_SECOND + ideographs / IDEOGRAPHS_PER_SECOND + letters / LETTERS_PER_SECOND


# sentences by punctuation, for languages other than English ---------------------------------------------------
_ENDS = ".!?\u2026\u203c\u2047-\u2049\u061f\u06d4\u0964\u0965"  # . ! ? … ‼ ⁇ ⁈ ⁉, Arabic ؟ ۔, Devanagari । ॥
_WIDE_ENDS = "\u3002\uff01\uff1f\uff0e\uff61"  # 。！？．｡: the next sentence may follow without a space
_CLOSERS = "\"'\u00bb\u201c\u201d\u2019\u203a\u300d\u300f\u300b\u3009\u3011\uff09)\\]"  # " ' » “ ” ’ › 」 』 》 〉 】 ） ) ]
# quoted speech is kept whole: an opening mark and the closing marks that end it
_QUOTES = {"\u00ab": "\u00bb", "\u300c": "\u300d", "\u300e": "\u300f", "\u201c": "\u201d", "\u201e": "\u201c\u201d",
           "\u2039": "\u203a", "\u300a": "\u300b", '"': '"'}  # « » 「 」 『 』 “ ” „ “ ‹ › 《 》  # fmt: skip
MAX_QUOTE_CHARS = 600  # a longer "quote" is a stray mark, not one piece of speech
# an end, its closing marks, and a French closing guillemet after a space ("Bonjour ! »")
_END_RUN = re.compile(f"(?:[{_WIDE_ENDS}]+|[{_ENDS}]+)[{_CLOSERS}]*(?:[ \u00a0\u202f][\u00bb\u203a])?")
_CLAUSE = re.compile("[,;:\u060c\u061b\u3001\uff0c\uff1b\uff1a][\"'\u00bb\u201d\u2019\u300d\u300f]*\\s*")
_ABBREVIATIONS = frozenset("mme mlle mr mrs ms dr st sr sra srta hr fr nr etc usw bzw vs ca av bd z".split())
_LAST_WORD = re.compile(r"(\w+)\.$")


def _abbreviation(before: str) -> bool:
    """A full stop that ends no sentence: "M. Dupont", "J. R. R. Tolkien", "Mme. Bovary", "am 3. Mai"."""
    m = _LAST_WORD.search(before)
    w = m.group(1) if m else ""
    return (len(w) == 1 and w.isupper()) or w.lower() in _ABBREVIATIONS or (w.isdigit() and len(w) <= 2)


def _quoted(text: str) -> list[tuple[int, int]]:
    """The spans (opening mark, closing mark inclusive) of the quoted speech in a paragraph."""
    spans, i = [], 0
    while i < len(text):
        closers = _QUOTES.get(text[i])
        if closers is None:
            i += 1
            continue
        depth, j = 0, i + 1
        while j < len(text) and j - i <= MAX_QUOTE_CHARS:
            if text[j] in closers and depth == 0:
                break
            if text[j] == text[i] and text[i] not in closers:
                depth += 1  # the same opening mark nested (「…「…」…」)
            elif text[j] in closers:
                depth -= 1
            j += 1
        if j < len(text) and j - i <= MAX_QUOTE_CHARS:
            spans.append((i, j))
            i = j + 1
        else:
            i += 1  # never closed: not a quote
    return spans


def _sentence_ends(text: str) -> list[int]:
    """Where the sentences of a paragraph end, by punctuation: after 。！？ (and their closing quotes), after . ! ?
    … ؟ ۔ followed by a space (not after an initial, "M." or "3." before a capital, nor before a lowercase letter);
    never inside quoted speech unless the quote ends with the sentence."""
    quotes = _quoted(text)
    ends = []
    for m in _END_RUN.finditer(text):
        s, e = m.start(), m.end()
        if any(a < s < b and e <= b for a, b in quotes):
            continue  # quoted speech goes on after this sentence: the quote is kept whole
        after = text[e:].lstrip()
        wide = text[s] in _WIDE_ENDS
        if not wide:
            if e < len(text) and not text[e].isspace() and not _IDEOGRAPHS.match(text[e]):
                continue  # "3.14", "a.m.", "...?!x"
            if after[:1].islower():
                continue  # "etc. and", « Bonjour », dit-il
            if text[s] == "." and _abbreviation(text[max(0, s - 12) : s + 1]):
                continue
        if after:
            ends.append(e)
    return ends


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A sentence too long for one scene, cut at its commas (or spaces, or characters) into pieces of about
    MAX_SENTENCE_SECONDS / 2."""
    if speech_seconds(text[start:end]) <= MAX_SENTENCE_SECONDS:
        return [(start, end)]
    target = MAX_SENTENCE_SECONDS / 2
    cuts = [m.end() for m in _CLAUSE.finditer(text, start, end) if start < m.end() < end]
    if not cuts:
        cuts = [m.end() for m in re.finditer(r"\s+", text[start:end])]
        cuts = [start + c for c in cuts if 0 < c < end - start]
    if not cuts:
        cuts = list(range(start + 1, end))
    pieces, last = [], start
    for c in cuts:
        if speech_seconds(text[last:c]) >= target and speech_seconds(text[c:end]) >= MIN_SCENE_SECONDS:
            pieces.append((last, c))
            last = c
    pieces.append((last, end))
    return pieces


def _pieces(story: Story, cuts: list[list[int]],
            split: bool = False) -> list[tuple[int, int, str | None, str | None]]:  # fmt: skip
    """Units from each block's cut points (absolute offsets), trimmed; stray punctuation (a closing quote) goes
    with the sentence before; ``split`` cuts a sentence too long for one scene at its commas."""
    units: list[tuple[int, int, str | None, str | None]] = []
    for cut in cuts:
        for s, e in zip(cut, cut[1:], strict=False):
            piece = story.text[s:e]
            s2 = s + len(piece) - len(piece.lstrip())
            e2 = s + len(piece.rstrip())
            if e2 <= s2:
                continue
            if not any(ch.isalnum() for ch in story.text[s2:e2]) and units:
                prev = units[-1]
                units[-1] = (prev[0], e2, prev[2], prev[3])
                continue
            if split:
                units.extend((a, b, None, None) for a, b in _clauses(story.text, s2, e2))
            else:
                units.append((s2, e2, None, None))
    return units


def _units(story: Story, doc: Any | None,
           language: str | None = None) -> list[tuple[int, int, str | None, str | None]]:  # fmt: skip
    """Sentence-sized units: (start, end, visual, speaker). English prose is cut by spaCy's sentences, other
    languages by their punctuation (``language`` None: told from the text)."""
    if story.form == "script":
        return [(b.start, b.end, b.visual, b.speaker) for b in story.blocks]
    from .story import narrated_text

    if language is None:
        language = detect_language(narrated_text(story))
    if language != "en":
        ends = [[b.start, *(b.start + i for i in _sentence_ends(story.text[b.start : b.end])), b.end]
                for b in story.blocks]
        return _pieces(story, ends, split=True)
    if doc is None:
        from ..nlp import parse

        doc = parse(narrated_text(story))
    starts = [sent.start_char for sent in doc.sents]
    return _pieces(story, [[b.start, *(s for s in starts if b.start < s < b.end), b.end] for b in story.blocks])


def _merge_short(units: list[tuple[int, int, str | None, str | None]], text: str) -> list[list[int]]:
    """Group unit indexes so that each group has at least MIN_SCENE_SECONDS of speech."""
    groups: list[list[int]] = []
    for i in range(len(units)):
        if groups and speech_seconds(_group_text(groups[-1], units, text)) < MIN_SCENE_SECONDS:
            groups[-1].append(i)
        else:
            groups.append([i])
    if len(groups) > 1 and speech_seconds(_group_text(groups[-1], units, text)) < MIN_SCENE_SECONDS:
        groups[-2].extend(groups.pop())
    return groups


def _group_text(group: list[int], units: list, text: str) -> str:
    return text[units[group[0]][0] : units[group[-1]][1]]


def _partition(units: list, n: int) -> list[list[int]]:
    """Exactly n contiguous groups of about equal length (cut at the unit ends nearest to equal shares)."""
    sizes = [max(1, e - s) for s, e, *_ in units]
    total = sum(sizes)
    bounds, acc, k = [], 0, 1
    cum = []
    for sz in sizes:
        acc += sz
        cum.append(acc)
    last = 0
    for k in range(1, n):
        target = total * k / n
        # the cut must leave at least one unit per remaining group
        lo, hi = last + 1, len(units) - (n - k)
        best = min(range(lo, hi + 1), key=lambda j: abs(cum[j - 1] - target))
        bounds.append(best)
        last = best
    edges = [0, *bounds, len(units)]
    return [list(range(a, b)) for a, b in zip(edges, edges[1:], strict=False)]


def anchor(text: str) -> str:
    """How a scene break is remembered: the start of the sentence after it, so the break stays where it was
    when the story around it is edited."""
    return " ".join(text.split()).lower()[:48]


def anchors(texts: list[str]) -> list[str]:
    """Each sentence's anchor; a sentence that begins like an earlier one is told apart by its number."""
    seen: dict[str, int] = {}
    out = []
    for t in texts:
        a = anchor(t)
        n = seen[a] = seen.get(a, -1) + 1
        out.append(f"{a} #{n + 1}" if n else a)
    return out


def sentences(story: Story, doc: Any | None = None, language: str | None = None) -> list[tuple[int, int]]:
    """The story's narrated sentences (script lines), as (start, end): where a scene can be cut."""
    return [(s, e) for s, e, *_ in _units(story, doc, language)]


def _apply_breaks(groups: list[list[int]], units: list, text: str, breaks: dict[str, str]) -> list[list[int]]:
    """The user's cuts (a scene starts at this sentence) and joins (this sentence's scene goes on the previous)."""
    names = anchors([text[u[0] : u[1]] for u in units])

    def kind(i: int) -> str | None:
        return breaks.get(names[i])

    cut: list[list[int]] = []
    for g in groups:
        cut.append([g[0]])
        for i in g[1:]:
            if kind(i) == "cut":
                cut.append([i])
            else:
                cut[-1].append(i)
    joined: list[list[int]] = []
    for g in cut:
        if joined and kind(g[0]) == "join":
            joined[-1].extend(g)
        else:
            joined.append(g)
    return joined


def split_scenes(story: Story, doc: Any | None = None, scenes: int | None = None,
                 breaks: dict[str, str] | None = None, language: str | None = None) -> list[Scene]:  # fmt: skip
    """Cut the story into scenes: a sentence each (short ones merged), a script line each, or exactly ``scenes``;
    then the user's ``breaks`` ({anchor of a sentence: "cut" | "join"}) cut or join scenes at those sentences.
    ``language`` (ISO 639-1; None: told from the text) says how sentences end."""
    units = _units(story, doc, language)
    if not units:
        raise StoryError("the story has no sentences to narrate: write some prose or script lines")
    if scenes is not None:
        if scenes < 1:
            raise InputError(f"--scenes must be at least 1, not {scenes}")
        if scenes > len(units):
            raise StoryError(
                f"the story has {len(units)} sentences, too few for {scenes} scenes: ask for at most {len(units)}"
            )
        groups = _partition(units, scenes)
    elif story.form == "script":
        groups = [[i] for i in range(len(units))]
    else:
        groups = _merge_short(units, story.text)
    if breaks:
        groups = _apply_breaks(groups, units, story.text, breaks)

    from .story import spoken_text

    out = []
    for idx, group in enumerate(groups):
        start, end = units[group[0]][0], units[group[-1]][1]
        narration = spoken_text(story, start, end)  # what is spoken and captioned: no markup, no URLs
        visuals = [units[i][2] for i in group if units[i][2]]
        speakers = [units[i][3] for i in group if units[i][3]]
        out.append(
            Scene(
                index=idx,
                start=start,
                end=end,
                text=narration,
                visual="; ".join(visuals) if visuals else narration,
                speaker=speakers[0] if speakers else None,
            )
        )
    return out
