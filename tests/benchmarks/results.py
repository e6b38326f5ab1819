"""Writing one benchmark's section of RESULTS.md between its markers, leaving every other section as it was."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).parent


def table(rows: Sequence[tuple[str, str, str, str]]) -> list[str]:
    """The Markdown table every benchmark prints: measurement, figure, target, met."""
    return [
        "| measurement | figure | target | met |",
        "| --- | --- | --- | --- |",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]


def write_section(
    begin: str,
    end: str,
    title: str,
    facts: Sequence[str],
    rows: Sequence[tuple[str, str, str, str]],
    notes: Sequence[str] = (),
) -> None:
    """Put a section (title, facts as bullets, the table, notes) between ``begin`` and ``end`` in RESULTS.md
    (appended the first time)."""
    lines = [f"## {title}", "", *(f"- {fact}" for fact in facts), "", *table(rows), "", *notes]
    block = [begin, *lines, end]
    path = HERE / "RESULTS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + "\n".join(block) + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
    path.write_text(text, encoding="utf-8")
