"""The mutation score of `make mutate`, per file: how many of mutmut's mutants the tests caught, and the ones they
did not (``mutmut show NAME`` prints a mutant's change). Reads mutmut's results in ``mutants/``."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3}  # a test failed (3: pytest's internal error, as mutmut counts it)
STATUS = {0: "survived", 5: "no tests", 33: "no tests", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", None: "not checked"}  # fmt: skip


def main() -> int:
    metas = sorted(Path("mutants").rglob("*.py.meta"))
    if not metas:
        print("no mutation results: run `make mutate` first", file=sys.stderr)
        return 1
    total: Counter = Counter()
    survivors: list[str] = []
    print(f"{'file':40} {'mutants':>7} {'caught':>7} {'survived':>8} {'no tests':>8} {'timeout':>7} {'unchecked':>9}")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
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
    checked = total["caught"] + total["survived"] + total["timeout"]
    print(f"{'all':40} {sum(total.values()):7} {total['caught']:7} {total['survived']:8} {total['no tests']:8} "
          f"{total['timeout']:7} {total['not checked']:9}")  # fmt: skip
    if checked:
        print(f"score: {total['caught'] + total['timeout']} of {checked} checked mutants caught "
              f"({100 * (total['caught'] + total['timeout']) / checked:.1f}%); a timeout counts as caught")
    if survivors:
        print("survived:")
        for name in sorted(survivors):
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
