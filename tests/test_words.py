"""One owner per word (issue 25): the status vocabulary and its named sets live in seedance_nb.statuses, the rating
scale in seedance_nb.ratings, the column lists in seedance_nb.columns, and every reader gives one answer."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import seedance_nb as sd
from seedance_nb import columns, ratings, statuses
from seedance_nb.errors import InputError
from seedance_nb.statuses import JobStatus

PACKAGE = Path(sd.__file__).parent
STATUS_VALUES = frozenset(s.value for s in JobStatus)

#: Modules the literal check skips, with why.
SKIPPED = {
    "statuses.py": "the one module that defines the status words",
}

#: (module, the flagged expression as ast.unparse writes it) -> why a status-looking literal there is not a status.
ALLOWED = {
    ("duels/_adaptive.py", "status"): "AdaptiveRun's own state (planned/running/waiting/budget/done), not a job's",
    ("duels/_adaptive.py", "self.status"): "AdaptiveRun's own state (planned/running/waiting/budget/done), not a job's",
    ("catalogs/_claims.py", "('completed', 'unknown')"): "states of a team-cache claim, not job statuses",
}


# --------------------------------------------------------------------------- the literal check


def _status_like(node: ast.AST) -> bool:
    """Does ``node`` name a status: ``status``, ``job.status``, ``row["status"]``, ``row.get("status")``...?"""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and "status" in sub.id.lower() and sub.id != "JobStatus":
            return True
        if isinstance(sub, ast.Attribute) and "status" in sub.attr.lower():
            return True
        if isinstance(sub, ast.Constant) and sub.value == "status":
            return True
    return False


def _literal(node: ast.AST) -> bool:
    """Does ``node`` hold a string constant spelled like a status?"""
    return any(isinstance(sub, ast.Constant) and sub.value in STATUS_VALUES for sub in ast.walk(node))


def _status_set(node: ast.AST) -> bool:
    """Is ``node`` a literal collection of two or more status words (a status set defined in the wrong place)?"""
    if not isinstance(node, ast.Set | ast.Tuple | ast.List) or len(node.elts) < 2:
        return False
    return all(isinstance(e, ast.Constant) and e.value in STATUS_VALUES for e in node.elts)


def _targets(node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> list[tuple[ast.AST, ast.AST]]:
    """(target, value) pairs of an assignment, element by element for ``a, b = x, y``."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    pairs: list[tuple[ast.AST, ast.AST]] = []
    for target in targets:
        if node.value is None:
            continue
        same = isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
        if same and len(target.elts) == len(node.value.elts):  # type: ignore[union-attr]
            pairs += zip(target.elts, node.value.elts, strict=True)  # type: ignore[union-attr]
        else:
            pairs.append((target, node.value))
    return pairs


def _call_findings(node: ast.Call) -> list[tuple[ast.AST, ast.AST]]:
    found: list[tuple[ast.AST, ast.AST]] = []
    args = [*node.args, *(k.value for k in node.keywords)]
    on_status = isinstance(node.func, ast.Attribute) and _status_like(node.func.value)
    keyed = any(isinstance(a, ast.Constant) and a.value == "status" for a in node.args)
    if (on_status or keyed) and any(_literal(a) for a in args):  # df["status"].isin([...]), r.get("status", "x")
        found.append((node.func, node))
    found += [(k, k.value) for k in node.keywords if k.arg and "status" in k.arg.lower() and _literal(k.value)]
    return found


def _findings_in(node: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """(the status-like side, the literal side) of each status literal compared with or given to a status."""
    if isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
        return [(a, b) for a in sides for b in sides if a is not b and _status_like(a) and _literal(b)][:1]
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        return [(t, v) for t, v in _targets(node) if _status_like(t) and _literal(v)]
    if isinstance(node, ast.Call):
        return _call_findings(node)
    if isinstance(node, ast.Dict):
        return [
            (k, v)
            for k, v in zip(node.keys, node.values, strict=True)
            if isinstance(k, ast.Constant) and isinstance(k.value, str) and "status" in k.value and _literal(v)
        ]
    if _status_set(node):
        return [(node, node)]
    return []


def scan(source: str, name: str = "<source>") -> list[tuple[str, int, str]]:
    """Every status string literal in ``source`` compared with, assigned or passed to a status, or gathered into a
    status set: (module, line, the flagged expression)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        out += [(name, getattr(node, "lineno", 0), ast.unparse(where)) for where, _ in _findings_in(node)]
    return sorted(set(out))


def status_literals(source: str, name: str = "<source>") -> list[tuple[str, int, str]]:
    """:func:`scan`'s findings less the :data:`ALLOWED` ones."""
    return [(n, line, key) for n, line, key in scan(source, name) if (n, key) not in ALLOWED]


def test_no_status_literals_outside_the_statuses_module() -> None:
    """``"cached"`` and its kin are written once, in seedance_nb/statuses.py; everywhere else says JobStatus.X or
    a named set (journal event names, fal's upper-case queue statuses and CSS classes are not statuses)."""
    every = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name not in SKIPPED:
            every += scan(path.read_text(encoding="utf-8"), name)
    found = [(n, line, key) for n, line, key in every if (n, key) not in ALLOWED]
    assert not found, "status literals outside statuses.py (use JobStatus.X or a set of seedance_nb.statuses):\n" + (
        "\n".join(f"  {n}:{line}: {key}" for n, line, key in found)
    )
    stale = set(ALLOWED) - {(n, key) for n, _, key in every}
    assert not stale, f"ALLOWED entries that match nothing now (remove them): {sorted(stale)}"


@pytest.mark.parametrize(
    "line",
    [
        'if job.status == "cached": pass',
        'if str(row.get("status") or "") != "failed": pass',
        'row["status"] = "failed"',
        'self.status, self.request_id = "submitted", rid',
        'job.status = "cached" if hit else "completed"',
        'df[df["status"].isin(["completed", "cached"])]',
        'df["status"].fillna("unknown")',
        'x = dict(status="running")',
        'r = {"status": "planned"}',
        'WITH_VIDEO = frozenset({"completed", "cached"})',
        's = r.get("status", "unknown")',
    ],
)
def test_the_literal_check_catches_a_status_written_by_hand(line: str) -> None:
    assert status_literals(line), line


@pytest.mark.parametrize(
    "line",
    [
        'journal.write({"event": "submitted", "job": 1})',
        'if event.get("event") == "cached": pass',
        'if response.status == "COMPLETED": pass',
        "html = f'<figure data-status=\"failed\">'",
        "if job.status == JobStatus.CACHED: pass",
        "if row.get('status') in HAS_VIDEO: pass",
        'stats["completed"] += 1',
        'claim = {"state": "completed"}',
        'totals = {"cached": 2}',
    ],
)
def test_the_literal_check_leaves_event_names_and_other_words_alone(line: str) -> None:
    assert not status_literals(line), line


# --------------------------------------------------------------------------- the named sets


def test_each_status_set_is_the_statuses_module_s_own() -> None:
    from seedance_nb import markup, runs

    assert markup.HAS_VIDEO is statuses.HAS_VIDEO and markup.ESTIMATED is statuses.ESTIMATED
    assert markup.STATUS_ORDER is statuses.STATUS_ORDER and markup.PAID is statuses.PAID
    assert runs.TERMINAL is statuses.TERMINAL and runs.PENDING is statuses.PENDING
    assert runs.JobStatus is statuses.JobStatus is sd.JobStatus and sd.JobStatus.__module__ == "seedance_nb"


def test_the_money_sets_say_what_fal_bills() -> None:
    S = JobStatus
    assert statuses.PAID == {S.COMPLETED, S.DOWNLOADING}  # cached: paid by the earlier job, not now
    assert statuses.MAY_STILL_BE_PAID == {S.SUBMITTING, S.SUBMITTED, S.RUNNING, S.INTERRUPTED, S.UNKNOWN}
    assert statuses.ESTIMATED == statuses.MAY_STILL_BE_PAID | {S.PLANNED}
    assert statuses.NO_CHARGE == {S.CACHED, S.FAILED, S.CANCELLED}
    assert statuses.HAS_VIDEO == {S.COMPLETED, S.CACHED}
    # A result journalled before an interruption was paid; an interruption before any result may still be.
    assert statuses.is_paid("interrupted", "https://v3.fal.media/x.mp4") and not statuses.is_paid("interrupted")
    assert statuses.is_paid("completed") and not statuses.is_paid("cached", "https://v3.fal.media/x.mp4")
    assert not statuses.is_paid("failed", "https://v3.fal.media/x.mp4")


# --------------------------------------------------------------------------- the column lists


def _package_imports(path: Path) -> set[str]:
    """The package modules ``path`` imports (relative imports resolved to their first part under the package)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            out.add((node.module or "").split(".")[0] or "<package>")
    return out


def test_the_word_modules_stand_on_the_ground_floor() -> None:
    assert _package_imports(PACKAGE / "statuses.py") <= {"_names"}
    assert _package_imports(PACKAGE / "columns.py") == set()
    assert _package_imports(PACKAGE / "ratings.py") <= {"errors"}
    assert _package_imports(PACKAGE / "markup" / "_status.py") <= {"columns", "statuses"}


def test_the_column_lists_have_one_owner() -> None:
    import display_fixtures

    from seedance_nb import markup, quality, runs
    from seedance_nb.catalogs import COLUMNS as CATALOG_COLUMNS

    assert runs.COLUMNS is columns.COLUMNS and runs.INPUT_COLUMNS is columns.INPUT_COLUMNS
    assert runs.OUTCOME_COLUMNS is markup.OUTCOME_COLUMNS is columns.OUTCOME_COLUMNS
    assert quality.METRIC_COLUMNS is columns.METRIC_COLUMNS
    fields = [f for f in quality.VideoMetrics.__dataclass_fields__ if f != "has_audio"]
    assert list(columns.METRIC_COLUMNS) == [*fields, "flags"]
    assert display_fixtures.COLUMNS == columns.COLUMNS  # the test fixture derives from the code's list
    assert set(columns.RECORD_COLUMNS) <= set(CATALOG_COLUMNS)


# --------------------------------------------------------------------------- one rating scale

#: Each input, and its one answer.
SCALE = [
    (7, None),
    (0, None),
    ("3", 3),
    ("yes", 5),
    ("no", 1),
    ("up", 5),
    (True, 5),
    ("down", 1),
    (False, 1),
    (4.0, 4),
    (3.5, None),
    ("👍", 5),
    ("x", None),
    (None, None),
]


@pytest.mark.parametrize(("given", "expected"), SCALE)
def test_one_rating_scale(given: object, expected: int | None) -> None:
    from seedance_nb import markup

    assert ratings.stars(given) == markup.rating_stars(given) == expected
    if expected is None:
        with pytest.raises(InputError, match="rating"):
            ratings.normalize_rating(given)
    else:
        assert ratings.normalize_rating(given) == expected


@pytest.fixture
def rated_run(tmp_path, png_path, emu, client):
    """A real three-job run whose (old-style) journal rated its videos 7, "3" and "yes"."""
    emu.configure(render="tiny")
    root = tmp_path / "sweeps"
    grid = sd.Grid(image=png_path, prompt=["one", "two", "three"], seed=1, resolution="480p", duration=4)
    sweep = sd.run_sweep(grid, client=client, run_dir=root / "old", progress=False)
    journal = sweep.run_dir / "journal.jsonl"
    with journal.open("a", encoding="utf-8") as fh:
        for job, rating in enumerate((7, "3", "yes")):
            fh.write(json.dumps({"event": "rated", "at": 1.0, "job": job, "rating": rating}) + "\n")
    return root, sweep.run_dir


def _by_job(df: pd.DataFrame) -> dict[int, int | None]:
    return {int(j): None if pd.isna(r) else int(r) for j, r in zip(df["job"], df["rating"], strict=True)}


def test_an_old_journal_reads_the_same_in_every_reader(rated_run) -> None:
    """7 is no rating, "3" is 3 and "yes" is 5: in the sweep, the report, the catalog, its search, the duels'
    ranking and the rating widget alike."""
    from seedance_nb.duels import score_values
    from seedance_nb.reporting import report_html
    from seedance_nb.widgets import ResultBrowser

    root, run_dir = rated_run
    expected = {0: None, 1: 3, 2: 5}
    sweep = sd.load_sweep(run_dir)
    assert _by_job(sweep.df) == expected

    html = report_html(sweep.df)
    shown = re.findall(r'href="#sd-job-(\d)">#\d</a> <span class="sd-cap">.*?aria-label="(\d) of 5 stars"', html)
    assert {int(job): int(n) for job, n in shown} == {1: 3, 2: 5}
    assert "7/5" not in html and ">7<" not in html

    assert _by_job(sd.catalog(root=root)) == expected
    assert sorted(sd.search(rating_min=3, root=root)["job"]) == [1, 2]
    assert sorted(sd.search(rating_min=5, root=root)["job"]) == [2]

    ranked = score_values(sweep, by="prompt", score="rating")
    assert ranked.dropna().to_dict() == {"three": 5.0, "two": 3.0} and list(ranked.index) == ["three", "two", "one"]

    browser = ResultBrowser(sweep)
    seen = {}
    for job in expected:
        browser.job.value = job
        seen[job] = browser.rating.value
    assert seen == expected


def test_a_catalog_indexed_by_the_old_rules_reads_its_journals_again(rated_run, tmp_path) -> None:
    """A catalog built before the one scale stored the old journal's 7 as 5 stars: opened now, it indexes the
    unchanged journal again, and reads no rating there, as the report does."""
    import sqlalchemy as sa

    from seedance_nb.catalogs import Catalog, _store

    root, _ = rated_run
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    with Catalog(url, root=root) as cat:
        assert _by_job(cat.frame()) == {0: None, 1: 3, 2: 5}
    with sa.create_engine(url).begin() as conn:  # what the old rules left: a 5 for the 7, and no index_rules
        conn.execute(sa.update(_store.jobs).where(_store.jobs.c.job == 0).values(rating=5))
        conn.execute(sa.delete(_store.meta).where(_store.meta.c.key == "index_rules"))
    with Catalog(url, root=root) as cat:
        assert _by_job(cat.frame()) == {0: None, 1: 3, 2: 5}
        assert sorted(cat.search(rating_min=4)["job"]) == [2]
