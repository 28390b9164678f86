"""The CorefEngine interface: text (and its spaCy parse) in, characters with their mentions out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..types import Character


class CorefEngine(ABC):
    name: str = ""

    @abstractmethod
    def find_characters(self, text: str, doc: Any) -> list[Character]:
        """Cluster the character mentions of ``text``; offsets are Python string offsets into it."""
