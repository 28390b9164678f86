"""An optional neural engine: the ``fastcoref`` package (F-Coref), when it and its weights are installed.

Its clusters cover every entity type; we keep those that hold a person pronoun or a person name, and name each
character as the rules engine does (a proper name if any, else the longest description).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..errors import InputError, ModelNotFoundError
from ..types import Character, Mention
from . import lexicon as lx
from .base import CorefEngine, Line

DEFAULT_MODEL = "biu-nlp/f-coref"


class FastcorefEngine(CorefEngine):
    name = "fastcoref"

    def __init__(self, model: str | None = None, device: str | None = None, **_: object) -> None:
        try:
            from fastcoref import FCoref  # type: ignore[import-not-found]
        except ImportError:
            raise InputError(
                "the fastcoref engine is not installed: run `pip install fastcoref` (it also needs its model "
                "weights), or use --coref rules"
            ) from None
        path = model or os.environ.get("STORYREEL_FASTCOREF_MODEL") or DEFAULT_MODEL
        try:
            self._model = FCoref(model_name_or_path=path, device=device or "cpu")
        except OSError:
            raise ModelNotFoundError(
                f"fastcoref weights {path} are not here: download them while online, set "
                "STORYREEL_FASTCOREF_MODEL to their folder, or use --coref rules"
            ) from None

    def _spans(self, text: str) -> list[list[tuple[int, int]]]:
        result = self._model.predict(texts=[text])[0]
        return [list(c) for c in result.get_clusters(as_strings=False)]

    def _clusters(self, text: str, doc: Any) -> list[list[Mention]]:
        out = []
        for spans in self._spans(text):
            words = [text[s:e] for s, e in spans]
            person = any(w.lower() in lx.PRONOUNS and lx.PRONOUNS[w.lower()][0] != "n" for w in words) or any(
                w.lower() in lx.SECOND_PERSON for w in words
            )
            if not person:
                ents = {e.label_ for e in doc.ents if any(e.start_char == s for s, _ in spans)}
                person = "PERSON" in ents
            if person:
                out.append([Mention(s, e, text[s:e], self._type(text[s:e])) for s, e in sorted(spans)])
        return out

    @staticmethod
    def _type(words: str) -> str:
        if words.lower() in lx.PRONOUNS or words.lower() in lx.SECOND_PERSON:
            return "pronoun"
        return "name" if words[:1].isupper() and not words.lower().startswith(("the ", "a ", "an ")) else "description"

    def find_characters(self, text: str, doc: Any, lines: Sequence[Line] = ()) -> list[Character]:
        import re

        chars, used = [], set()
        for mentions in self._clusters(text, doc):
            names = [m.text for m in mentions if m.type == "name"]
            name = max(names, key=len) if names else max((m.text for m in mentions), key=len)
            base = re.sub(r"[\W_]+", "-", name.lower()).strip("-") or "character"
            cid, n = base, 2
            while cid in used:
                cid, n = f"{base}-{n}", n + 1
            used.add(cid)
            chars.append(Character(id=cid, name=name, mentions=mentions,
                                   minor=all(m.type == "pronoun" for m in mentions)))
        return chars
