"""Run every benchmark module (`bench/*_bench.py`), or those whose name contains an argument."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def discover() -> list[str]:
    """Return the names of the benchmark modules, sorted."""
    here = Path(__file__).resolve().parent
    return sorted(
        info.name for info in pkgutil.iter_modules([str(here)]) if info.name.endswith("_bench")
    )


def main(argv: list[str]) -> int:
    """Run the selected benchmarks in turn and print their figures."""
    names = [n for n in discover() if not argv or any(arg in n for arg in argv)]
    if not names:
        print(f"no benchmark matches {' '.join(argv)!r}; have: {', '.join(discover())}")
        return 2
    started = time.perf_counter()
    for name in names:
        print(f"== {name} ==", flush=True)
        began = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        module.main()
        print(f"({name}: {time.perf_counter() - began:.1f} s)\n", flush=True)
    print(f"all benchmarks: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
