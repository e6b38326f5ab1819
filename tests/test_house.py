"""The house rules, enforced: imports only go down the floors (no circles), rooms sized to be read, and a map.

(a) The import graph of ``seedance_nb/`` is read from the source (every ``import``, lazy ones inside functions
and ``TYPE_CHECKING`` ones included; ``from . import x`` where ``x`` is a submodule imports ``x``). Each room (a
top-level module, or a package as a whole) sits on one floor of :data:`FLOORS`; an import may go to its own
floor or one below, never above, and no two rooms (or modules) may import each other round a circle. A module
missing from :data:`FLOORS` fails: a new room must say where it stands.
(b) No module over 800 lines, no function over 60 lines, no function over radon cyclomatic complexity 20.
(c) docs/architecture.md names every module and says where each common change goes.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "seedance_nb"
DOC = ROOT / "docs" / "architecture.md"

#: The floors, lowest first. A room may import rooms on its own floor or lower ones. Names not (yet) in the
#: package are allowed here, so that a branch adding one merges without editing this table.
FLOORS: list[tuple[str, set[str]]] = [
    # ground: no knowledge of anything above; the HTML kit is pure (escaping, cells, styles)
    (
        "ground",
        {
            "_names",
            "errors",
            "settings",
            "_sqlite",
            "keys",
            "statuses",
            "ratings",
            "columns",
            "retry",
            "_sync",
            "samples",
            "hooks",
            "markup",
            "_text",
        },
    ),
    # the model's contract: snapshots of fal's schemas, prices and sizes, validation, the input types
    ("schema", {"openapi_schema", "endpoints", "validation", "references", "schema", "lineup"}),
    # moving bytes: video files, the queue and storage client, image inputs
    ("transport", {"media", "client", "files", "cassette_format"}),
    # where requests go: the emulator (a server of its own) and the choice of backend
    ("backends", {"emulator", "backends"}),
    # the record of truth: the journal, the cache, the run folder, and how a job's failure is read
    ("journal", {"runs", "outcomes"}),
    ("grids", {"grids"}),
    # the runner: takes a run folder's jobs to their end; names no wing (wings plug in through hooks)
    ("runner", {"runner"}),
    # wings, first floor: they stand on the core and plug into the runner through seedance_nb.hooks
    ("wings", {"adherence", "quality", "catalogs", "forms", "webhooks", "drift", "cassettes"}),
    # wings that show: pictures of a sweep, notebook display
    ("views", {"figures", "display", "gridvideo"}),
    # wings that decide: votes, the leaderboard, promotion, the duel widget
    ("choices", {"duels", "duel_widget", "stats"}),
    # the report gathers every wing's section
    ("reports", {"reporting"}),
    # exports: the sweep handed to MLflow and W&B (optional libraries, imported when called)
    ("exports", {"exports"}),
    # the face: what users call; composes the core and the wings (the user-facing Sweep, one video, widgets)
    ("face", {"sweep", "generation", "widgets", "cli", "cli_confirm", "tutorials", "storyboard", "__init__"}),
]

MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 60
MAX_COMPLEXITY = 20


# --------------------------------------------------------------------------- the import graph


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules ``name`` imports anywhere in its source (lazy and TYPE_CHECKING ones too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "seedance_nb")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "seedance_nb":
                continue
            submodules = {f"{target}.{alias.name}" for alias in node.names} & known
            # `from . import x` / `from .pkg import x`: x may be a submodule, which is then what is imported
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(target)
    # A module's own packages are imported before it, whatever it says: an import of them is no arrow.
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    return {target for target in found if target in known and target != name and target not in ancestors}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _room_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    rooms: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        rooms[_room(module)]
        for target in targets:
            if _room(target) != _room(module):
                rooms[_room(module)].add(_room(target))
    return rooms


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def _floor_of() -> dict[str, int]:
    return {room: level for level, (_name, rooms) in enumerate(FLOORS) for room in rooms}


def test_every_room_is_on_a_floor():
    floors = _floor_of()
    rooms = {_room(module) for module in _modules()}
    missing = sorted(rooms - set(floors))
    assert not missing, f"rooms on no floor (add each to FLOORS in tests/test_house.py): {missing}"
    twice = [room for room in floors if sum(room in rooms for _n, rooms in FLOORS) > 1]
    assert not twice, f"rooms on two floors: {twice}"


def test_imports_only_go_down():
    floors = _floor_of()
    names = [name for name, _rooms in FLOORS]
    upward = [
        f"{room} ({names[floors[room]]}) imports {target} ({names[floors[target]]})"
        for room, targets in sorted(_room_graph(_graph()).items())
        for target in sorted(targets)
        if room in floors and target in floors and floors[target] > floors[room]
    ]
    assert not upward, "imports against the floors:\n" + "\n".join(upward)


def test_no_import_circles():
    graph = _graph()
    circles = _cycles(_room_graph(graph)) + _cycles(graph)
    assert not circles, f"import circles (counting lazy and TYPE_CHECKING imports): {circles}"


def test_the_graph_sees_lazy_type_checking_and_submodule_imports():
    # The reader itself: a test that cannot fail is a defect, so check that it sees each kind of import.
    graph = _graph()
    assert "seedance_nb.runner" in graph["seedance_nb.sweep"]  # top-level
    assert "seedance_nb.display" in graph["seedance_nb.sweep"]  # lazy, inside _repr_html_
    assert "seedance_nb.runner" in graph["seedance_nb.duels._promotion"]  # TYPE_CHECKING only
    assert "seedance_nb.runner._entry" in graph["seedance_nb.sweep"]  # `from .runner import _entry`
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# --------------------------------------------------------------------------- sizes


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.AST]]:
    out: list[tuple[str, ast.AST]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef):
            out += _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out.append((f"{prefix}{node.name}", node))
            out += _functions(node, f"{prefix}{node.name}.")
    return out


def _oversized_functions() -> list[tuple[str, str, int, int]]:
    """(module, qualified name, lines, complexity) of every function over a limit."""
    from radon.complexity import cc_visit

    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        source = path.read_text(encoding="utf-8")
        complexity = {}
        for block in cc_visit(source):
            complexity[block.fullname] = block.complexity
            for closure in getattr(block, "closures", []):
                complexity[f"{block.fullname}.{closure.name}"] = closure.complexity
        for name, node in _functions(ast.parse(source)):
            length = node.end_lineno - node.lineno + 1  # type: ignore[attr-defined]
            cc = complexity.get(name, 0)
            if length > MAX_FUNCTION_LINES or cc > MAX_COMPLEXITY:
                out.append((rel, name, length, cc))
    return out


def test_no_module_over_800_lines():
    over = [
        f"{path.relative_to(PACKAGE).as_posix()}: {_lines(path)}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if _lines(path) > MAX_MODULE_LINES
    ]
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"


def test_no_function_over_60_lines_or_complexity_20():
    over = [f"{rel}:{name} ({lines} lines, CC {cc})" for rel, name, lines, cc in _oversized_functions()]
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines or CC {MAX_COMPLEXITY}: {over}"


def test_the_size_check_sees_a_long_complex_function(tmp_path):
    from radon.complexity import cc_visit

    body = "\n".join(f"    if x == {i}:\n        y = {i}\n        return y" for i in range(25))
    source = f"def f(x):\n{body}\n    return -1\n"
    ((name, node),) = _functions(ast.parse(source))
    assert node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES  # type: ignore[attr-defined]
    assert cc_visit(source)[0].complexity > MAX_COMPLEXITY


# --------------------------------------------------------------------------- the map

#: The common changes a newcomer makes; docs/architecture.md's "Where do I change X" points each to one file.
CHANGES = ["a new endpoint", "a metric", "a report section", "a widget field", "a catalog backend"]


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_map_names_every_module():
    text = _doc()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        named = rel.removesuffix("__init__.py") if rel.endswith("/__init__.py") else rel
        if rel == "__init__.py":
            named = "__init__.py"
        if f"`{named}`" not in text:
            missing.append(named)
    assert not missing, f"docs/architecture.md does not name (in backticks) these modules: {missing}"


def test_where_do_i_change_x_points_to_one_file_each():
    text = _doc()
    match = re.search(r"^#+ Where do I change X\s*$(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, 'docs/architecture.md has no "Where do I change X" section'
    section = match.group(1)
    for change in CHANGES:
        lines = [line for line in section.splitlines() if change in line.lower()]
        assert len(lines) == 1, f"{change!r}: one line of the section, found {len(lines)}"
        files = [f for f in re.findall(r"`([\w/.]+\.py)`", lines[0])]
        assert len(files) == 1, f"{change!r} must point to exactly one file, got {files}"
        assert (ROOT / files[0]).is_file() or (PACKAGE / files[0]).is_file(), f"{change!r}: no file {files[0]}"


def test_tests_import_their_helpers_by_a_name_no_other_conftest_takes():
    """`from conftest import ...` reads whichever conftest pytest loaded last (notebooks/ has one too): a full run
    would fail to collect. Tests import tests/conftest.py's helpers as `seedance_testconf`."""
    tests = Path(__file__).resolve().parent
    offenders = [
        str(path.relative_to(tests))
        for path in tests.rglob("*.py")
        if re.search(r"^\s*(from conftest import|import conftest\b)", path.read_text(encoding="utf-8"), re.M)
    ]
    assert offenders == []
