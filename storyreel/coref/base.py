"""The CorefEngine interface: text (and its spaCy parse) in, characters with their mentions out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from ..types import Character, Line


class CorefEngine(ABC):
    name: str = ""

    @abstractmethod
    def find_characters(self, text: str, doc: Any, lines: Sequence[Line] = ()) -> list[Character]:
        """Cluster the character mentions of ``text``; offsets are Python string offsets into it.

        Every cluster is returned; those that are not characters to draw (known by pronouns only, or only said
        to be something) have ``minor`` set. ``lines`` are a script's lines: the speaker is who "I" is on a line,
        and a description in what to draw is a mention of a character of that line, or of nobody."""
