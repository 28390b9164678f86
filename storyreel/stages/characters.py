"""Characters: who is in the story, every mention of each, and which scenes they appear in."""

from __future__ import annotations

from typing import Any

from .. import plugins
from ..types import Character, Scene, Story


def find_characters(story: Story, doc: Any | None = None, engine: str = "rules") -> list[Character]:
    """Cluster the mentions of each character in the story with the named coreference engine."""
    from .story import narrated_text

    text = narrated_text(story)
    if doc is None:
        from ..nlp import parse

        doc = parse(text)
    return plugins.create("coref_engine", engine).find_characters(text, doc)


def attribute_scenes(scenes: list[Scene], characters: list[Character]) -> list[Scene]:
    """Set each scene's characters: everyone mentioned in it (pronouns included), in order of first mention.

    A character whose only mentions in a scene are in passing ("the king's daughter") is left out.
    """
    for scene in scenes:
        firsts: list[tuple[int, str]] = []
        for ch in characters:
            hits = [m.start for m in ch.mentions if scene.start <= m.start < scene.end and not m.passing]
            if hits:
                firsts.append((min(hits), ch.id))
        # script visuals are outside the narration span but name who is shown
        scene.characters = [cid for _, cid in sorted(firsts)]
    return scenes
