"""Character finder benchmark: the engine's speed on LitBank, and a story at the length limit end to end.

    python bench/characters.py [--runs 5] [--litbank ../shared/data/litbank-dev]

1. The LitBank development documents are read and parsed as the product reads them (spaCy's parse timed apart),
   then the rules engine runs over all of them ``--runs`` times: its words per second (best and median run; target:
   at least 50,000 on one core) against, in the same run, spaCy's own parse of the same text: the part of
   `storyreel characters` no character finder built on spaCy can avoid.
2. A story of 99,500 characters (LitBank paragraphs up to the 100,000-character limit) through
   `storyreel characters --json`, a new process as a user runs it (target: under 20 s), against `python -c "import
   spacy; nlp(text)"` on the same text in the same run.
The CoNLL F1 of the same clusters is printed too: a faster engine must find the same characters.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIMIT = 100_000


def engine_speed(folder: Path, runs: int) -> None:
    from storyreel.coref.evaluate import read_litbank, score
    from storyreel.nlp import load_nlp
    from storyreel.stages.characters import find_characters
    from storyreel.stages.story import parse_narration, parse_story

    docs = read_litbank(folder)
    words = sum(d.words for d in docs)
    result = score(docs, "rules")  # also warms the engine up: lexicons, the model, the plugin
    load_nlp()
    stories = [parse_story(d.text) for d in docs]
    t0 = time.perf_counter()
    parsed = [parse_narration(s) for s in stories]
    parse_s = time.perf_counter() - t0
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for story, doc in zip(stories, parsed, strict=True):
            find_characters(story, doc, "rules", minor=True)
        rates.append(words / (time.perf_counter() - t0))
    print(f"LitBank dev: {len(docs)} documents, {words:,} words; CoNLL F1 {result.conll_f1:.4f}")
    print(f"  rules engine   best {max(rates):>9,.0f} words/s   median {statistics.median(rates):>9,.0f} words/s"
          f"   ({runs} runs; target >= 50,000)")
    print(f"  spaCy's parse       {words / parse_s:>9,.0f} words/s   (baseline: the parse every engine needs)")
    print(f"  engine / parse: {statistics.median(rates) / (words / parse_s):.1f}x faster than the parse it reads")


def long_story(folder: Path, path: Path) -> None:
    text, parts = "", []
    for ann in sorted(folder.glob("*_brat.txt")):
        for para in ann.read_text(encoding="utf-8").split("\n"):
            para = " ".join(para.split())
            if para and len(text) + len(para) + 2 <= LIMIT - 500:
                parts.append(para)
                text = "\n\n".join(parts)
    path.write_text(text + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "storyreel.cli", "characters", str(path), "--json"],
                         capture_output=True, text=True)  # fmt: skip
    ours = time.perf_counter() - t0
    if run.returncode != 0:
        sys.exit(f"storyreel characters failed: {run.stderr.strip()}")
    t0 = time.perf_counter()
    code = ("import sys; from storyreel.nlp import load_nlp; "
            "load_nlp()(open(sys.argv[1], encoding='utf-8').read())")  # fmt: skip
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, cwd=ROOT)
    plain = time.perf_counter() - t0
    print(f"A {len(text):,}-character story ({len(text.split()):,} words):")
    print(f"  storyreel characters --json   {ours:5.1f} s   (target < 20 s)")
    print(f"  spaCy load + parse, alone     {plain:5.1f} s   (baseline)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--litbank", type=Path, default=ROOT.parent / "shared" / "data" / "litbank-dev")
    args = ap.parse_args()
    if not args.litbank.is_dir():
        sys.exit(f"error: no LitBank documents at {args.litbank}: give their folder with --litbank")
    engine_speed(args.litbank, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        long_story(args.litbank, Path(tmp) / "long.txt")


if __name__ == "__main__":
    main()
