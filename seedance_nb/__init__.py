"""seedance-nb: sweep, watch and compare Seedance 2.0 fast image-to-video runs from Jupyter.

::

    import seedance_nb as sd
    client = sd.connect()          # fal when FAL_KEY is set, else the built-in emulator
    sweep = sd.run_sweep(sd.Grid(image=sd.sample_image(), prompt=["a slow push-in", "a whip pan"], seed=[1, 2]))
    sweep.df                       # one row per video; `sweep` alone shows the grid

See README.md for the tour and ``docs/architecture.md`` for how the layers fit.

The public names are loaded on first use (PEP 562 ``__getattr__``), so ``import seedance_nb`` costs a few
milliseconds, not pandas, PyAV and ipywidgets: each submodule is imported the first time one of its names is
read. Every public class and function reports ``__module__ == "seedance_nb"`` (as NumPy's do), so reprs,
tracebacks and the API reference show the name a user writes (``seedance_nb.Grid``, not
``seedance_nb.grids.Grid``). No submodule shares a name with a public function (``seedance_nb.reporting`` holds
``report``, ``seedance_nb.quality`` holds ``metrics``, ``seedance_nb.catalogs`` holds ``catalog``,
``seedance_nb.generation`` holds ``generate``, ``seedance_nb.grids`` holds ``Grid``), so importing a submodule
never replaces a function of the package.
"""

import importlib
import typing as _typing
import warnings

__version__ = "0.1.0"

#: Where each public name lives: name -> submodule (relative to this package).
_PUBLIC: dict[str, str] = {
    # the client and its answers
    "AsyncClient": "client",
    "Completed": "client",
    "InProgress": "client",
    "Queued": "client",
    "RequestHandle": "client",
    "ResultDetails": "client",
    "LogEntry": "client",
    "Limits": "client",
    "connect": "backends",
    # the model's input, output and price
    "DEFAULT_ENDPOINT": "schema",
    "CostEstimate": "schema",
    "EndpointId": "schema",
    "File": "schema",
    "VideoInput": "schema",
    "VideoOutput": "schema",
    "estimate_cost": "schema",
    "output_size": "schema",
    "SchemaDrift": "openapi_schema",
    # one video
    "Result": "generation",
    "generate": "generation",
    "generate_async": "generation",
    "sample_image": "samples",
    "VideoInfo": "media",
    # sweeps
    "Grid": "grids",
    "GridEstimate": "grids",
    "Job": "runs",
    "JobStatus": "runs",
    "Sweep": "sweep",
    "load_sweep": "sweep",
    "run_sweep": "sweep",
    "run_sweep_async": "sweep",
    "start_sweep": "sweep",
    # looking at videos
    "LargeOutputWarning": "markup",
    "compare": "display",
    "gallery": "display",
    "show": "display",
    "ReportPath": "reporting",
    "report": "reporting",
    # ranking takes
    "VideoMetrics": "quality",
    "filmstrip": "quality",
    "metrics": "quality",
    "AdaptiveRun": "duels",
    "Promotion": "duels",
    "run_adaptive": "duels",
    "run_adaptive_async": "duels",
    # history and spend
    "Recovery": "catalogs",
    "catalog": "catalogs",
    "recover": "catalogs",
    "search": "catalogs",
    "set_budget": "catalogs",
    "spend": "catalogs",
    # errors
    "APIError": "errors",
    "AmbiguousSubmit": "errors",
    "AuthenticationError": "errors",
    "BudgetExceeded": "errors",
    "ConfigurationError": "errors",
    "DownloadError": "errors",
    "InputError": "errors",
    "ModerationError": "errors",
    "NotFoundError": "errors",
    "Problem": "errors",
    "ProtocolError": "errors",
    "RateLimitError": "errors",
    "RejectedInput": "errors",
    "RequestCancelled": "errors",
    "RequestFailed": "errors",
    "RunFolderBusy": "errors",
    "SeedanceError": "errors",
    "ServerError": "errors",
    "StartTimeout": "errors",
    "WaitTimeout": "errors",
    "DownloadStalled": "media",
}

#: Old names that still work for a while, each with a DeprecationWarning naming the new one.
_RENAMED: dict[str, str] = {"grid": "gallery"}

__all__ = sorted([*_PUBLIC, "__version__"])


def _load(name: str) -> _typing.Any:
    module = importlib.import_module(f".{_PUBLIC[name]}", __name__)
    value = getattr(module, name)
    globals()[name] = value  # the next read is a plain attribute
    return value


def __getattr__(name: str) -> _typing.Any:
    if name in _PUBLIC:
        return _load(name)
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(
            f"seedance_nb.{name} is now seedance_nb.{new} (same arguments); the old name goes in 0.3",
            DeprecationWarning,
            stacklevel=2,
        )
        return _load(new)
    raise AttributeError(f"module 'seedance_nb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


def _set_module(module_name: str) -> None:
    """Give the public names defined under ``module_name`` ``__module__ == "seedance_nb"``.

    Each submodule with public names calls this as its last line, so the names read as ``seedance_nb.X``
    wherever they show (reprs, tracebacks, pickles, the API reference) whether or not the package attribute
    was read first. ``pickle`` finds them again through :func:`__getattr__`.
    """
    import sys

    module = sys.modules[module_name]
    short = module_name.removeprefix(f"{__name__}.")
    for name, where in _PUBLIC.items():
        if short != where and not short.startswith(f"{where}."):  # a package's private submodule counts
            continue
        obj = vars(module).get(name)  # not getattr: a lazy name of a subpackage stays unloaded
        owner = getattr(obj, "__module__", None) or ""
        if (isinstance(obj, type) or callable(obj)) and (owner == module_name or owner.startswith(f"{module_name}.")):
            try:
                obj.__module__ = __name__
            except (AttributeError, TypeError):  # a builtin or a frozen type: leave it
                pass


if _typing.TYPE_CHECKING:  # what a type checker and an IDE see: the same names, imported eagerly
    from .backends import connect
    from .catalogs import Recovery, catalog, recover, search, set_budget, spend
    from .client import (
        AsyncClient,
        Completed,
        InProgress,
        Limits,
        LogEntry,
        Queued,
        RequestHandle,
        ResultDetails,
    )
    from .display import compare, gallery, show
    from .duels import AdaptiveRun, Promotion, run_adaptive, run_adaptive_async
    from .errors import (
        AmbiguousSubmit,
        APIError,
        AuthenticationError,
        BudgetExceeded,
        ConfigurationError,
        DownloadError,
        InputError,
        ModerationError,
        NotFoundError,
        Problem,
        ProtocolError,
        RateLimitError,
        RejectedInput,
        RequestCancelled,
        RequestFailed,
        RunFolderBusy,
        SeedanceError,
        ServerError,
        StartTimeout,
        WaitTimeout,
    )
    from .generation import Result, generate, generate_async
    from .grids import Grid, GridEstimate
    from .markup import LargeOutputWarning
    from .media import DownloadStalled, VideoInfo
    from .openapi_schema import SchemaDrift
    from .quality import VideoMetrics, filmstrip, metrics
    from .reporting import ReportPath, report
    from .runs import Job, JobStatus
    from .samples import sample_image
    from .schema import (
        DEFAULT_ENDPOINT,
        CostEstimate,
        EndpointId,
        File,
        VideoInput,
        VideoOutput,
        estimate_cost,
        output_size,
    )
    from .sweep import Sweep, load_sweep, run_sweep, run_sweep_async, start_sweep
