"""The mutation score of `make mutate`, per file: how many of mutmut's mutants the tests caught, and the ones they
did not (``mutmut show NAME`` prints a mutant's change). Reads mutmut's results in ``mutants/``.

``--pick N``: print N mutants drawn at random (seeded) from the whole scope, and keep the draw in
``mutants/picked.txt``; ``--picked``: the score over that draw only, with its 95% interval (`make mutate SAMPLE=N`:
the whole scope takes hours on two cores, a draw of a hundred or so about half an hour)."""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3}  # a test failed (3: pytest's internal error, as mutmut counts it)
STATUS = {0: "survived", 5: "no tests", 33: "no tests", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", None: "not checked"}  # fmt: skip


PICKED = Path("mutants/picked.txt")


def _results() -> dict[Path, dict[str, int | None]]:
    return {m: json.loads(m.read_text())["exit_code_by_key"] for m in sorted(Path("mutants").rglob("*.py.meta"))}


def pick(n: int, seed: int) -> int:
    if not _results():  # mutmut makes its mutants (and learns which tests reach what) on its first run
        first = "storyreel.stages.narration.x_narration_key__mutmut_1"
        subprocess.run([str(Path(sys.executable).with_name("mutmut")), "run", first], check=False,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    names = sorted(name for codes in _results().values() for name in codes)
    if not names:
        print("mutmut made no mutants: see `mutmut run`", file=sys.stderr)
        return 1
    drawn = sorted(random.Random(seed).sample(names, min(n, len(names))))
    PICKED.write_text("\n".join(drawn) + "\n")
    print(" ".join(drawn))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pick", type=int, help="draw this many mutants and print their names")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--picked", action="store_true", help="the score over the last draw only")
    args = ap.parse_args()
    if args.pick:
        return pick(args.pick, args.seed)
    results = _results()
    if not results:
        print("no mutation results: run `make mutate` first", file=sys.stderr)
        return 1
    if args.picked:
        keep = set(PICKED.read_text().split()) if PICKED.exists() else set()
        results = {m: {k: v for k, v in codes.items() if k in keep} for m, codes in results.items()}
    total: Counter = Counter()
    survivors: list[str] = []
    print(f"{'file':40} {'mutants':>7} {'caught':>7} {'survived':>8} {'no tests':>8} {'timeout':>7} {'unchecked':>9}")
    for meta, codes in results.items():
        if not codes:
            continue
        n: Counter = Counter()
        for name, code in codes.items():
            status = "caught" if code in KILLED else STATUS.get(code, "other")
            n[status] += 1
            if status == "survived":
                survivors.append(name)
        total += n
        name = str(meta.relative_to("mutants"))[: -len(".meta")]
        print(f"{name:40} {len(codes):7} {n['caught']:7} {n['survived']:8} {n['no tests']:8} {n['timeout']:7} "
              f"{n['not checked']:9}")  # fmt: skip
    checked = total["caught"] + total["survived"] + total["timeout"] + total["no tests"]  # none reached: not caught
    print(f"{'all':40} {sum(total.values()):7} {total['caught']:7} {total['survived']:8} {total['no tests']:8} "
          f"{total['timeout']:7} {total['not checked']:9}")  # fmt: skip
    if checked:
        caught = total["caught"] + total["timeout"]
        p, z = caught / checked, 1.96  # Wilson's interval: the score of the whole scope, from a draw
        mid, half = (p + z * z / (2 * checked)), z * math.sqrt(p * (1 - p) / checked + z * z / (4 * checked**2))
        low, high = (mid - half) / (1 + z * z / checked), (mid + half) / (1 + z * z / checked)
        print(f"score: {caught} of {checked} checked mutants caught ({100 * p:.1f}%, 95% interval "
              f"{100 * low:.0f}-{100 * high:.0f}%); a timeout counts as caught, a mutant no test reaches as not")
    if survivors:
        print("survived:")
        for name in sorted(survivors):
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
