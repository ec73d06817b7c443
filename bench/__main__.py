"""`python -m bench [SUITE ...] [OPTIONS]`: run the named suites (all of them when none is named).

Leading words that name a suite select it; everything after them is handed to each selected suite's
`main(argv)`, so `python -m bench core --quick` runs the core suite on 1,000 participants only and
`python -m bench --quick` runs every suite in its quick form. `python -m bench --list` lists the suites.
"""

import importlib
import io
import pkgutil
import re
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

Suite = Callable[[list[str]], int]
# A target's verdict ends its line: "…: met", "…: MISSED", or a table's last cell ("pass", "FAIL (indicative only)").
VERDICT = re.compile(r"\b(met|missed|pass|fail)\b(?: \([^)]*\))?[ |]*$", re.IGNORECASE)


class Verdicts(io.TextIOBase):
    """Passes a suite's output through to stdout, counting the targets it reports met and missed."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.met, self.missed, self._line = out, 0, 0, ""

    def write(self, text: str) -> int:
        self.out.write(text)
        *lines, self._line = (self._line + text).split("\n")
        for line in lines:
            if found := VERDICT.search(line):
                if found.group(1).lower() in ("met", "pass"):
                    self.met += 1
                else:
                    self.missed += 1
        return len(text)

    def flush(self) -> None:
        self.out.flush()


def suites() -> list[str]:
    """The suite modules next to this file, in name order (`_private` helpers and this file excluded)."""
    here = str(Path(__file__).resolve().parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_") and not m.ispkg)


def load(name: str) -> Suite:
    module = importlib.import_module(f"bench.{name}")
    entry: Suite | None = getattr(module, "main", None)
    if not callable(entry):
        raise SystemExit(f"bench.{name} has no main(argv) function")
    return entry


def main(argv: list[str]) -> int:
    available = suites()
    if argv[:1] in (["--list"], ["-l"]):
        print("\n".join(available))
        return 0
    if argv[:1] in (["--help"], ["-h"]) and len(argv) == 1:
        print(__doc__.strip())
        print("\nSuites: " + ", ".join(available) + ". `python -m bench SUITE --help` shows a suite's options.")
        return 0
    chosen: list[str] = []
    while argv and not argv[0].startswith("-"):
        if argv[0] not in available:
            print(f"unknown benchmark suite {argv[0]!r}; available: {', '.join(available)}", file=sys.stderr)
            return 2
        chosen.append(argv.pop(0))
    status, summary, began = 0, [], time.perf_counter()
    for name in chosen or available:
        started = time.perf_counter()
        print(f"== bench {name} {' '.join(argv)}".rstrip(), flush=True)
        stdout = sys.stdout
        counted = Verdicts(stdout)
        sys.stdout = counted
        try:
            code = load(name)(list(argv))
        except SystemExit as exc:  # argparse's errors and --help end a suite this way
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout = stdout
        took = time.perf_counter() - started
        print(f"== bench {name}: exit {code} after {took:.0f} s", flush=True)
        summary.append(f"{name} {counted.met} met, {counted.missed} missed ({took:.0f} s)")
        status = status or code
    if len(summary) > 1:
        print(f"== bench summary, {time.perf_counter() - began:.0f} s: " + "; ".join(summary), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
