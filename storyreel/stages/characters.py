"""Characters: who is in the story, every mention of each, and which scenes they appear in."""

from __future__ import annotations

import copy
import re
from typing import Any

from .. import plugins
from ..types import Character, Mention, Scene, Story
from .language import is_ideographic


def find_characters(story: Story, doc: Any | None = None, engine: str = "rules", minor: bool = False,
                    options: dict[str, str] | None = None, log: Any = None) -> list[Character]:  # fmt: skip
    """Cluster the mentions of each character in the story with the named coreference engine (``doc``: the parse of
    ``parse_narration``). ``minor``: also the clusters that are not characters to draw, flagged ``minor``.
    ``options``: the engine's (the llm engine's server and model); ``log`` is told the engine's note, if any."""
    from ..nlp import text_of
    from .story import parse_narration, script_lines

    if doc is None:
        doc = parse_narration(story)
    finder = plugins.create("coref_engine", engine, **(options or {}))
    found = finder.find_characters(text_of(doc), doc, script_lines(story))
    if log is not None and getattr(finder, "note", ""):
        log(finder.note)
    return found if minor else [c for c in found if not c.minor]


def english_only_note(language: str) -> str:
    """What to tell the user of a story the character finder cannot read (it knows English only: in another
    language it would take verbs and function words for characters)."""
    from .language import language_name

    return (f"characters are found in English stories only, and this one is in {language_name(language)}: "
            "add its characters by hand (the studio's Characters page, Add a character by hand)")  # fmt: skip


def attribute_scenes(scenes: list[Scene], characters: list[Character]) -> list[Scene]:
    """Set each scene's characters: everyone mentioned in it (pronouns included), in order of first mention.

    A character whose only mentions in a scene are in passing ("the king's daughter") is left out; so are minor
    clusters. A script's what-to-draw, after a line's speech and before the next scene, is part of its scene.
    """
    for scene, after in zip(scenes, scenes[1:] + [None], strict=True):
        end = max(scene.end, after.start) if after is not None else None
        firsts: list[tuple[int, str]] = []
        for ch in characters:
            if ch.minor:
                continue
            hits = [m.start for m in ch.mentions
                    if scene.start <= m.start and (end is None or m.start < end) and not m.passing]  # fmt: skip
            if hits:
                firsts.append((min(hits), ch.id))
        scene.characters = [cid for _, cid in sorted(firsts)]
    return scenes


# the user's edits of what the finder found ------------------------------------------------------------------------
# Each edit is (op, args), kept in the project and applied again, in order, whenever the story is analysed anew:
#   merge  {"source": id, "into": id}                    one character's mentions go to another
#   move   {"mention": [start, end, text], "to": id|None} a mention goes to another character, or to nobody
#   reject {"id": id}                                     "not a character": the cluster is dropped
#   add    {"id": id, "name": name, "aliases": [...]}     a character by hand; every occurrence of an alias is its
#   split  {"source": id, "id": id, "name": name, "mentions": [[start, end, text], ...]}


def new_character_id(name: str, taken: set[str]) -> str:
    base = re.sub(r"[\W_]+", "-", name.lower()).strip("-") or "character"
    cid, n = base, 2
    while cid in taken:
        cid, n = f"{base}-{n}", n + 1
    return cid


def _whole(words: str) -> str:
    """A pattern for ``words`` standing as whole words, never inside a longer word (Chinese and Japanese, written
    without spaces, have no word edges to look for)."""
    head, tail = words[:1], words[-1:]
    return ((r"(?<!\w)" if head.isalnum() and not is_ideographic(head) else "") + re.escape(words)
            + (r"(?!\w)" if tail.isalnum() and not is_ideographic(tail) else ""))  # fmt: skip


def _locate(text: str, start: int, end: int, words: str) -> tuple[int, int] | None:
    """Where a mention recorded at (start, end) is in ``text`` now: the same place, or the nearest place with the
    same words (the story was edited around it), or nowhere."""
    if text[start:end] == words:
        return start, end
    hits = [m.start() for m in re.finditer(_whole(words), text)] if words else []
    if not hits:
        return None
    best = min(hits, key=lambda h: abs(h - start))
    return best, best + len(words)


def _take(chars: list[Character], span: tuple[int, int]) -> Mention | None:
    """Remove the mention at ``span`` from whoever has it, and return it."""
    for ch in chars:
        for m in ch.mentions:
            if (m.start, m.end) == span:
                ch.mentions.remove(m)
                return m
    return None


def _alias_mentions(text: str, aliases: list[str]) -> list[Mention]:
    out: dict[tuple[int, int], Mention] = {}
    for alias in (a.strip() for a in aliases):
        if not alias:
            continue
        flags = 0 if any(ch.isupper() for ch in alias) else re.IGNORECASE
        for m in re.finditer(_whole(alias), text, flags):
            out.setdefault((m.start(), m.end()), Mention(m.start(), m.end(), m.group(), "name"))
    return [out[k] for k in sorted(out)]


def apply_edit(characters: list[Character], op: str, args: dict[str, Any], text: str) -> list[Character]:
    """One user edit applied to characters (copied, never changed in place). An edit that no longer applies
    (its character or mention is gone from the story) changes nothing."""
    chars = copy.deepcopy(characters)
    by_id = {c.id: c for c in chars}
    if op == "merge":
        src, dst = by_id.get(args["source"]), by_id.get(args["into"])
        if src is None or dst is None or src is dst:
            return chars
        dst.mentions = sorted(dst.mentions + src.mentions, key=lambda m: m.start)
        if src.edited and not dst.edited:  # the words the user wrote win over the finder's
            dst.prompt, dst.negative, dst.edited = src.prompt, src.negative, True
        else:
            dst.prompt = dst.prompt or src.prompt
            dst.negative = dst.negative or src.negative
        dst.reference = dst.reference or src.reference  # its chosen picture and portrait seed go with it
        dst.seed = dst.seed if dst.seed is not None else src.seed
        chars.remove(src)
    elif op == "move":
        start, end, words = args["mention"]
        span = _locate(text, start, end, words)
        dst = by_id.get(args["to"]) if args.get("to") else None
        if span is None or (args.get("to") and dst is None):
            return chars
        m = _take(chars, span) or Mention(span[0], span[1], text[span[0] : span[1]], "name")
        if dst is not None:
            dst.mentions = sorted([*dst.mentions, m], key=lambda x: x.start)
    elif op == "reject":
        chars = [c for c in chars if c.id != args["id"]]
    elif op in ("add", "split"):
        ch = by_id.get(args["id"])
        if ch is None:
            ch = Character(id=args["id"], name=args["name"], edited=True)  # the user's: kept when not in the text
            chars.append(ch)
        if op == "add":
            found = _alias_mentions(text, list(args.get("aliases", [])))
        else:
            spans = [_locate(text, s, e, w) for s, e, w in args["mentions"]]
            found = [Mention(s, e, text[s:e], "name") for s, e in (x for x in spans if x is not None)]
        for m in found:
            taken = _take(chars, (m.start, m.end))
            ch.mentions.append(taken or m)
        ch.mentions.sort(key=lambda m: m.start)
    else:
        raise ValueError(f"unknown character edit {op!r}")
    return [c for c in chars if c.mentions or c.edited or c.id == args.get("id")]


def apply_edits(characters: list[Character], edits: list[tuple[str, dict[str, Any]]], text: str) -> list[Character]:
    for op, args in edits:
        characters = apply_edit(characters, op, args, text)
    return characters
