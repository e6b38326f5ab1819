"""Benchmark: what ``import seedance_nb`` costs, and what the first use of a name adds (issue 14, part 8).

Run on demand from the project root: ``.venv/bin/python -m tests.benchmarks.import_time``. Each figure is the
median of fresh interpreters (``python -X importtime`` reports the import's own cumulative microseconds, so
interpreter start-up is excluded); the ratios compare figures measured in this one run. Prints a Markdown table
and writes it into ``tests/benchmarks/RESULTS.md`` between the ``import-time`` markers (the other sections are
kept). ``--smoke`` measures each figure once and writes nothing (CI's check that the script runs).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from tests.benchmarks.common import smoke
from tests.benchmarks.results import table, write_section

BEGIN, END = "<!-- import-time:begin -->", "<!-- import-time:end -->"
RUNS = 9
TARGET_S = 0.25


def _import_us(code: str, module: str) -> float:
    """Cumulative microseconds ``-X importtime`` reports for ``module`` when running ``code``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stderr
    for line in out.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return float(parts[1])
    raise RuntimeError(f"{module} not in -X importtime output of {code!r}")


def _wall(code: str) -> float:
    """Seconds a fresh interpreter spends in ``code`` (perf_counter around it, start-up excluded)."""
    timed = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", timed], capture_output=True, text=True, check=True, timeout=120)
    return float(out.stdout.strip())


def main() -> None:
    global RUNS
    quick = smoke()
    if quick:
        RUNS = 1
    rows = []
    package = statistics.median(_import_us("import seedance_nb", "seedance_nb") for _ in range(RUNS)) / 1e6
    pandas = statistics.median(_import_us("import pandas", "pandas") for _ in range(RUNS)) / 1e6
    rows.append(
        ("`import seedance_nb`", f"{package * 1000:.1f} ms", f"<= {TARGET_S * 1000:.0f} ms", package <= TARGET_S)
    )
    rows.append(("`import pandas` alone (what the package used to load eagerly)", f"{pandas * 1000:.0f} ms", "", None))
    rows.append(("ratio package / pandas", f"{package / pandas:.3f}", "", None))
    for label, code in (
        ("first `sd.Grid` (PIL, httpx)", "import seedance_nb as sd; sd.Grid"),
        ("first `sd.connect` (the client)", "import seedance_nb as sd; sd.connect"),
        ("first `sd.Sweep` (pandas)", "import seedance_nb as sd; sd.Sweep"),
        ("first `sd.gallery` (display)", "import seedance_nb as sd; sd.gallery"),
        ("first `sd.report` (reporting, duels, quality)", "import seedance_nb as sd; sd.report"),
    ):
        seconds = statistics.median(_wall(code) for _ in range(RUNS))
        rows.append((label, f"{seconds * 1000:.0f} ms (wall, import included)", "", None))
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, seedance_nb; print(sorted(m for m in ('pandas', 'av', 'ipywidgets', 'sqlalchemy', 'numpy')"
            " if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    rows.append(("heavy modules loaded by `import seedance_nb`", heavy, "[]", heavy == "[]"))
    if heavy != "[]":  # not a timing: a result that is wrong at any speed
        sys.exit(f"`import seedance_nb` loaded heavy modules: {heavy}")
    marked = [
        (label, figure, target, "" if met is None else "yes" if met else "**NO**")
        for label, figure, target, met in rows
    ]
    print(f"Median of {RUNS} fresh interpreters each; Python {sys.version.split()[0]}.\n")
    print("\n".join(table(marked)))
    if quick:
        print("smoke run passed (RESULTS.md not written)")
        return
    facts = [
        f"Command: `.venv/bin/python -m tests.benchmarks.import_time`, {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"`nproc` = {os.cpu_count()}, shared with other work (load average {os.getloadavg()[0]:.1f} at the end: "
        "compare the ratios)",
        f"Median of {RUNS} fresh interpreters each; Python {sys.version.split()[0]}",
    ]
    notes = [
        "Before issue 14, `import seedance_nb` took 0.38-0.44 s (pandas at the top of `display`, loaded by the "
        "package's eager imports).",
        "",
    ]
    write_section(BEGIN, END, "Import time (issue 14)", facts, marked, notes)


if __name__ == "__main__":
    main()
