"""Scenes: the story cut into pieces of one picture and one narrated line each."""

from __future__ import annotations

import re
from typing import Any

from ..errors import InputError, StoryError
from ..types import Scene, Story

# A scene should carry about two seconds of speech; espeak and most voices speak ~2.7 words a second.
MIN_SCENE_SECONDS = 2.0
WORDS_PER_SECOND = 2.7

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)


def speech_seconds(text: str) -> float:
    words = len(_WORD.findall(text))
    return words / WORDS_PER_SECOND


def _units(story: Story, doc: Any | None) -> list[tuple[int, int, str | None, str | None]]:
    """Sentence-sized units: (start, end, visual, speaker)."""
    if story.form == "script":
        return [(b.start, b.end, b.visual, b.speaker) for b in story.blocks]
    if doc is None:
        from ..nlp import parse
        from .story import narrated_text

        doc = parse(narrated_text(story))
    units: list[tuple[int, int, str | None, str | None]] = []
    for block in story.blocks:
        cut = [block.start]
        for sent in doc.sents:
            s = sent.start_char
            if block.start < s < block.end:
                cut.append(s)
        cut.append(block.end)
        for s, e in zip(cut, cut[1:], strict=False):
            piece = story.text[s:e]
            s2 = s + len(piece) - len(piece.lstrip())
            e2 = s + len(piece.rstrip())
            if e2 <= s2:
                continue
            if not any(ch.isalnum() for ch in story.text[s2:e2]) and units:
                # stray punctuation (a closing quote): it belongs to the sentence before
                prev = units[-1]
                units[-1] = (prev[0], e2, prev[2], prev[3])
                continue
            units.append((s2, e2, None, None))
    return units


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


def sentences(story: Story, doc: Any | None = None) -> list[tuple[int, int]]:
    """The story's narrated sentences (script lines), as (start, end): where a scene can be cut."""
    return [(s, e) for s, e, *_ in _units(story, doc)]


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
                 breaks: dict[str, str] | None = None) -> list[Scene]:  # fmt: skip
    """Cut the story into scenes: a sentence each (short ones merged), a script line each, or exactly ``scenes``;
    then the user's ``breaks`` ({anchor of a sentence: "cut" | "join"}) cut or join scenes at those sentences."""
    units = _units(story, doc)
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

    out = []
    for idx, group in enumerate(groups):
        start, end = units[group[0]][0], units[group[-1]][1]
        narration = _WS.sub(" ", story.text[start:end]).strip()
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
