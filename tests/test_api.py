"""The public surface is deliberate: pinned here, sorted, and importable without side effects."""

from __future__ import annotations

import subprocess
import sys

import seedance_nb

PUBLIC = [
    "APIError", "AdaptiveRun", "AmbiguousSubmit", "AsyncClient", "AuthenticationError", "BoardTree",
    "BudgetExceeded", "CameraMotion", "Completed", "ConfigurationError", "CostEstimate", "CostFrontier",
    "DEFAULT_ENDPOINT", "DownloadError", "DownloadStalled", "Endpoint", "EndpointId", "File", "Film", "Grid",
    "GridEstimate", "GridVideo", "InProgress", "InputError", "Job", "JobStatus", "LargeOutputWarning", "Limits",
    "LogEntry", "MissingExtra", "MlflowExport", "ModerationError", "NotFoundError", "Problem", "Promotion",
    "ProtocolError", "Queued", "RateLimitError", "Recorder", "Recovery", "RejectedInput", "ReportPath",
    "RequestCancelled", "RequestFailed", "RequestHandle", "Result", "ResultDetails", "RunFolderBusy", "SchemaDrift",
    "SeedanceError", "ServerError", "StartTimeout", "Storyboard", "Sweep", "VideoInfo", "VideoInput",
    "VideoMetrics", "VideoOutput", "WaitTimeout", "__version__", "add_endpoint", "asked_camera_move",
    "bundle_report", "camera_motion", "catalog", "compare", "compare_groups", "connect", "endpoints",
    "estimate_cost", "filmstrip", "frontier", "gallery", "generate", "generate_async", "grid_video", "load_sweep",
    "metrics", "output_size", "record", "recover", "report", "run_adaptive", "run_adaptive_async", "run_sweep",
    "run_sweep_async", "sample_image", "search", "set_budget", "show", "spend", "start_sweep", "to_mlflow",
    "to_wandb",
]  # fmt: skip


def test_all_is_pinned_and_sorted():
    assert seedance_nb.__all__ == PUBLIC
    assert seedance_nb.__all__ == sorted(seedance_nb.__all__)
    for name in PUBLIC:
        assert hasattr(seedance_nb, name), name


def test_every_error_is_a_seedance_error():
    for name in PUBLIC:
        obj = getattr(seedance_nb, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning):
            assert issubclass(obj, seedance_nb.SeedanceError), name


def test_import_reads_no_configuration_and_starts_nothing():
    code = (
        "import os, threading; os.environ.pop('FAL_KEY', None); import seedance_nb, sys; "
        "os.environ['FAL_KEY'] = 'late-id:late-secret'; "
        "from seedance_nb.client import AsyncClient; c = AsyncClient(); "
        "assert c.api_key() == 'late-id:late-secret'; "
        "assert threading.active_count() == 1, threading.enumerate(); "
        "assert 'av' not in sys.modules and 'uvicorn' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_connect_picks_the_backend_and_says_so(monkeypatch, capsys):
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("FAL_KEY_ID", raising=False)
    client = seedance_nb.connect()
    assert client.backend == "emulator" and client.emulator is not None
    assert "emulator" in capsys.readouterr().err
    import pytest

    with pytest.raises(seedance_nb.ConfigurationError, match="FAL_KEY"):
        seedance_nb.connect("fal")
    monkeypatch.setenv("FAL_KEY", "sk-FAKE-1234abcd:secret-5678efgh")
    fal = seedance_nb.connect()
    banner = capsys.readouterr().err
    assert fal.backend == "fal" and "fal" in banner and "FAKE" not in banner and "secret" not in banner


def test_public_surface_is_what_vars_holds_once_everything_is_loaded():
    """``__all__`` is exactly the public, non-module names the package holds after every name is read."""
    import types

    for name in seedance_nb.__all__:
        getattr(seedance_nb, name)
    held = {
        name
        for name, value in vars(seedance_nb).items()
        if not name.startswith("_") and (not isinstance(value, types.ModuleType) or callable(value))
    }
    assert held == set(seedance_nb.__all__) - {"__version__"}
    # no submodule shares a name with a public function or class (importing it would replace the function)
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(seedance_nb.__path__)}
    # ... save one that is the callable itself: sd.endpoints() is the module seedance_nb.endpoints, called
    shared = submodules & set(seedance_nb.__all__)
    assert shared == {"endpoints"} and callable(seedance_nb.endpoints)
    __import__("seedance_nb.endpoints.registry")
    assert list(seedance_nb.endpoints().columns)[:3] == ["id", "model", "family"]
    lowered = [n.lower() for n in seedance_nb.__all__]
    assert len(lowered) == len(set(lowered)), "two public names differ only by case"
    for name in ("reporting", "quality", "catalogs", "generation", "grids"):
        __import__(f"seedance_nb.{name}")
    assert callable(seedance_nb.report) and callable(seedance_nb.metrics) and callable(seedance_nb.gallery)
    assert callable(seedance_nb.catalog) and callable(seedance_nb.generate)


def test_public_names_read_as_seedance_nb_and_pickle_back():
    import pickle

    for name in seedance_nb.__all__:
        obj = getattr(seedance_nb, name)
        if isinstance(obj, type) or callable(obj):
            assert obj.__module__ == "seedance_nb", (name, obj.__module__)
    assert repr(seedance_nb.Grid) == "<class 'seedance_nb.Grid'>"
    err = seedance_nb.InputError([seedance_nb.Problem("duration", "must be 4-15", "3", "duration=5")])
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is seedance_nb.InputError and str(again) == str(err)
    assert pickle.loads(pickle.dumps(seedance_nb.JobStatus.COMPLETED)) is seedance_nb.JobStatus.COMPLETED


def test_every_type_a_public_function_returns_is_exported():
    """A user who gets a GridEstimate, a Job or a VideoInfo back can name its type from the package."""
    import inspect
    import typing

    exported = {getattr(seedance_nb, n) for n in seedance_nb.__all__}
    missing: set[str] = set()

    def check(fn, where):
        try:  # names imported for type checking only resolve against the package's own
            hints = typing.get_type_hints(fn, localns={n: getattr(seedance_nb, n) for n in seedance_nb.__all__})
        except Exception as exc:  # an unresolvable annotation is a defect too
            raise AssertionError(f"{where}: {exc}") from exc
        ret = hints.get("return")
        stack = [ret]
        while stack:
            t = stack.pop()
            stack.extend(typing.get_args(t))
            if isinstance(t, type) and t.__module__ == "seedance_nb" and t not in exported:
                missing.add(f"{where} -> {t.__qualname__}")
            if isinstance(t, type) and (t.__module__ or "").startswith("seedance_nb.") and t.__name__[0] != "_":
                missing.add(f"{where} -> {t.__module__}.{t.__qualname__}")

    for name in seedance_nb.__all__:
        obj = getattr(seedance_nb, name)
        if inspect.isfunction(obj):
            check(obj, name)
        elif isinstance(obj, type) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not inspect.isfunction(member):
                    continue
                check(member, f"{name}.{attr}")
    assert not missing, sorted(missing)


def test_the_old_grid_name_still_works_and_says_what_to_use():
    import pytest

    with pytest.warns(DeprecationWarning, match="seedance_nb.gallery"):
        old = seedance_nb.grid
    assert old is seedance_nb.gallery
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        seedance_nb.nonesuch  # noqa: B018


def test_what_type_checkers_see_is_what_the_package_loads():
    """The TYPE_CHECKING re-exports (IDEs, mypy) name the same objects, from the same modules, as the lazy table."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(seedance_nb))
    block = next(n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))
    seen = {a.asname or a.name: f"{n.module}" for n in block.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert seen == {name: where for name, where in seedance_nb._PUBLIC.items()}
