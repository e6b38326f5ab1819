"""Benchmark: what ``import seedance_nb`` costs, and what the first use of a name adds (issue 14, part 8).

Run on demand from the project root: ``.venv/bin/python -m tests.benchmarks.import_time``. Each figure is the
median of fresh interpreters (``python -X importtime`` reports the import's own cumulative microseconds, so
interpreter start-up is excluded); the ratios compare figures measured in this one run. Prints a Markdown table
to paste into RESULTS.md ("Import time" section).
"""

from __future__ import annotations

import statistics
import subprocess
import sys

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
    print(f"Median of {RUNS} fresh interpreters each; Python {sys.version.split()[0]}.\n")
    print("| measurement | figure | target | met |\n| --- | --- | --- | --- |")
    for label, figure, target, met in rows:
        print(f"| {label} | {figure} | {target} | {'' if met is None else 'yes' if met else '**NO**'} |")


if __name__ == "__main__":
    main()
