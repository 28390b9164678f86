"""The CorefEngine interface: text (and its spaCy parse) in, characters with their mentions out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..types import Character, Mention


class CorefEngine(ABC):
    name: str = ""

    @abstractmethod
    def find_characters(self, text: str, doc: Any) -> list[Character]:
        """Cluster the character mentions of ``text``; offsets are Python string offsets into it."""

    def clusters(self, text: str, doc: Any) -> list[list[Mention]]:
        """Every predicted cluster of person mentions, singletons and pronoun-only ones included (for scoring).

        The default gives the characters' mentions; engines that know more say more."""
        return [c.mentions for c in self.find_characters(text, doc)]
