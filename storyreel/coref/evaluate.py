"""Measure a character finder on LitBank: PER mentions, singletons included, exact spans, micro-averaged.

LitBank's coreference layer (``<id>_brat.txt``: one sentence per line, tokens split by single spaces;
``<id>_brat.ann``: MENTION and COREF lines) is read into texts and gold clusters of character spans; the engine
runs on each text; MUC, B-cubed and CEAF-e come from the ``scorch`` package, and CoNLL F1 is their mean.
Micro-averaging: the documents' clusters are scored together, with mentions keyed by (document, span).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError


@dataclass
class Document:
    name: str
    text: str
    clusters: list[set[tuple[int, int]]]  # gold PER clusters of (start, end) character spans
    words: int


def read_litbank(folder: str | Path) -> list[Document]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder: give the folder holding LitBank's *_brat.txt and *_brat.ann")
    docs = []
    for txt in sorted(folder.glob("*_brat.txt")):
        ann = txt.with_suffix(".ann")
        if not ann.exists():
            continue
        lines = txt.read_text(encoding="utf-8").split("\n")
        offsets: list[list[tuple[int, int]]] = []
        pos = 0
        for line in lines:
            toks, col = [], pos
            for tok in line.split(" "):
                toks.append((col, col + len(tok)))
                col += len(tok) + 1
            offsets.append(toks)
            pos += len(line) + 1
        mentions: dict[str, tuple[int, int]] = {}
        chains: dict[str, str] = {}
        for row in ann.read_text(encoding="utf-8").splitlines():
            parts = row.split("\t")
            if parts[0] == "MENTION" and len(parts) >= 9 and parts[7] == "PER":
                tid, s_sent, s_tok, e_sent, e_tok = parts[1], *map(int, parts[2:6])
                mentions[tid] = (offsets[s_sent][s_tok][0], offsets[e_sent][e_tok][1])
            elif parts[0] == "COREF" and len(parts) >= 3:
                chains[parts[1]] = parts[2]
        groups: dict[str, set[tuple[int, int]]] = {}
        for tid, span in mentions.items():
            groups.setdefault(chains.get(tid, "single-" + tid), set()).add(span)
        text = "\n".join(lines)
        docs.append(Document(txt.name.removesuffix("_brat.txt"), text, list(groups.values()), len(text.split())))
    if not docs:
        raise InputError(f"no LitBank documents (*_brat.txt with *_brat.ann) in {folder}")
    return docs


@dataclass
class Scores:
    muc: tuple[float, float, float]  # recall, precision, F1
    b3: tuple[float, float, float]
    ceafe: tuple[float, float, float]
    mention_precision: float
    mention_recall: float
    words: int
    seconds: float  # the engine's own time, spaCy's parse excluded
    parse_seconds: float
    per_document: list[tuple[str, float]] = field(default_factory=list)

    @property
    def conll_f1(self) -> float:
        return (self.muc[2] + self.b3[2] + self.ceafe[2]) / 3

    @property
    def words_per_second(self) -> float:
        return self.words / self.seconds if self.seconds else float("inf")


def score(docs: list[Document], engine: str = "rules") -> Scores:
    """Score the clusters ``storyreel characters --json`` gives for each document (every cluster, minor ones
    included) against the gold clusters. The story is read and parsed as the product reads it; that time is the
    parse's, the character finder's is the engine's."""
    try:
        from scorch import scores as sc
    except ImportError:
        raise InputError("scoring needs the scorch package: run `pip install 'storyreel[eval]'`") from None
    from .. import plugins
    from ..nlp import load_nlp
    from ..stages.characters import find_characters
    from ..stages.story import parse_narration, parse_story

    plugins.create("coref_engine", engine)  # a missing engine is said before the documents are read
    load_nlp()("warm up")  # the model is loaded outside the timings
    key: list[set] = []
    response: list[set] = []
    gold_m = pred_m = hit = 0
    engine_s = parse_s = 0.0
    per_doc = []
    for d in docs:
        t0 = time.perf_counter()
        story = parse_story(d.text)
        parsed = parse_narration(story)
        t1 = time.perf_counter()
        found = find_characters(story, parsed, engine, minor=True)
        predicted = [{(m.start, m.end) for m in c.mentions} for c in found if c.mentions]
        engine_s += time.perf_counter() - t1
        parse_s += t1 - t0
        gold = [{(d.name, s) for s in c} for c in d.clusters]
        pred = [{(d.name, s) for s in c} for c in predicted]
        key += gold
        response += pred
        g_spans = {s for c in d.clusters for s in c}
        p_spans = {s for c in predicted for s in c}
        gold_m += len(g_spans)
        pred_m += len(p_spans)
        hit += len(g_spans & p_spans)
        if gold and pred:
            per_doc.append((d.name, sc.conll2012(gold, pred)))
    return Scores(
        muc=sc.muc(key, response),
        b3=sc.b_cubed(key, response),
        ceafe=sc.ceaf_e(key, response),
        mention_precision=hit / pred_m if pred_m else 0.0,
        mention_recall=hit / gold_m if gold_m else 0.0,
        words=sum(d.words for d in docs),
        seconds=engine_s,
        parse_seconds=parse_s,
        per_document=per_doc,
    )
