"""``--coref llm``: the characters of a short story as the user's own language model reads them (an OpenAI-compatible
server, see assist/llm.py). The model names each character, its look, and every mention in the order they come;
each mention is found in the text (at the offset the model gives when it is right, else the next free place the
words stand after that character's previous mention), so nothing the text does not say is kept. A story too long
for it, or an answer that cannot be used, falls back to the rules engine, with a note (``note``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from ..errors import BackendError
from ..types import Character, Line, Mention
from .base import CorefEngine

LIMIT = 12_000  # characters of narrated text: longer stories are the rules engine's
PRONOUNS = set("i me my mine myself you your yours yourself he him his himself she her hers herself it its itself "
               "we us our ours ourselves they them their theirs themselves".split())  # fmt: skip


class LlmMention(BaseModel):
    text: str = Field(min_length=1, description="the words exactly as they stand in the story")
    start: int | None = Field(default=None, description="their character offset in the story, if known")


class LlmCharacter(BaseModel):
    name: str = Field(min_length=1, description="the character's name, or its shortest description")
    words: str = Field(default="", description="a few comma-separated words for the picture: looks, clothes")
    mentions: list[LlmMention] = Field(min_length=1, description="every mention, pronouns too, in story order")


class LlmCharacters(BaseModel):
    characters: list[LlmCharacter]


INSTRUCTIONS = ("You find the characters of a story for a picture book: every person, creature or personified "
                "thing that acts or speaks. For each: its name (or its shortest description), a few words on how "
                "it looks, and EVERY mention of it in the story, in order: its names, the descriptions that mean it "
                "('the old man', 'his mother'), and the pronouns that refer to it ('he', 'her', 'I' in its own "
                "speech), each exactly as written, with its character offset. In a script line 'Speaker: words | "
                "picture', the speaker is the line's 'I'; a 'Narrator' is nobody.")  # fmt: skip


class LlmEngine(CorefEngine):
    name = "llm"

    def __init__(self, url: str | None = None, model: str | None = None, **_: object) -> None:
        from ..assist.llm import Assistant

        self.assistant = Assistant(url, model)  # no server or model: said now, before any reading
        self.note = ""

    def find_characters(self, text: str, doc: Any, lines: Sequence[Line] = ()) -> list[Character]:
        from .rules import RulesEngine

        self.note = ""
        if len(text.strip()) > LIMIT:
            self.note = (f"the story is longer than {LIMIT:,} characters: its characters were found by the rules "
                         "engine, not the language model")  # fmt: skip
            return RulesEngine().find_characters(text, doc, lines)
        try:
            answer = self.assistant.ask(LlmCharacters, INSTRUCTIONS, text, temperature=0.0)  # the same story, the same cast
        except BackendError as err:
            self.note = f"the language model could not be used ({err}); the rules engine found the characters"
            return RulesEngine().find_characters(text, doc, lines)
        found = self.placed(text, answer)
        if not found:
            self.note = "the language model named no character the story has; the rules engine found them"
            return RulesEngine().find_characters(text, doc, lines)
        return found

    @staticmethod
    def placed(text: str, answer: LlmCharacters) -> list[Character]:
        """The model's characters with each mention found in the text; a mention that is not there is dropped, and
        no words are two characters' mentions."""
        from ..stages.characters import new_character_id

        taken: set[tuple[int, int]] = set()
        used: set[str] = set()
        out = []
        for c in answer.characters:
            mentions, after = [], 0
            for m in c.mentions:
                span = _find(text, m.text.strip(), m.start, after, taken)
                if span is None:
                    continue
                taken.add(span)
                after = span[1]
                words = text[span[0] : span[1]]
                kind = "pronoun" if words.lower() in PRONOUNS else "name" if words[:1].isupper() and words.lower(
                ).split()[0] not in ("the", "a", "an", "his", "her", "their", "my") else "description"  # fmt: skip
                mentions.append(Mention(span[0], span[1], words, kind))
            if not mentions:
                continue
            mentions.sort(key=lambda x: x.start)
            out.append(Character(new_character_id(c.name, used), " ".join(c.name.split()), mentions,
                                 prompt=", ".join(w.strip() for w in c.words.split(",") if w.strip())))  # fmt: skip
            used.add(out[-1].id)
        return out


def _find(text: str, words: str, start: int | None, after: int, taken: set[tuple[int, int]]) -> tuple[int, int] | None:
    """Where ``words`` stand: at ``start`` when the model's offset is right, else their first free place at or after
    ``after`` (whole words only), else their first free place at all."""
    if not words:
        return None
    if start is not None and text[start : start + len(words)] == words and (start, start + len(words)) not in taken:
        return start, start + len(words)
    pattern = re.compile(rf"(?<!\w){re.escape(words)}(?!\w)")
    for lo in (after, 0):
        for hit in pattern.finditer(text, lo):
            if hit.span() not in taken:
                return hit.span()
    return None
