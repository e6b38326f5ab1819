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
never replaces a function of the package. The one exception is callable itself: ``sd.endpoints()`` is the
module ``seedance_nb.endpoints`` called (the registry as a DataFrame).
"""

import importlib
import typing as _typing
import warnings

__version__ = "0.1.0"

from ._names import PUBLIC as _PUBLIC

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


if _typing.TYPE_CHECKING:  # what a type checker and an IDE see: the same names, as explicit re-exports
    from .adherence import CameraMotion as CameraMotion
    from .adherence import asked_camera_move as asked_camera_move
    from .backends import connect as connect
    from .cassettes import Recorder as Recorder
    from .cassettes import record as record
    from .catalogs import Recovery as Recovery
    from .catalogs import catalog as catalog
    from .catalogs import recover as recover
    from .catalogs import search as search
    from .catalogs import set_budget as set_budget
    from .catalogs import spend as spend
    from .client import AsyncClient as AsyncClient
    from .client import Completed as Completed
    from .client import InProgress as InProgress
    from .client import Limits as Limits
    from .client import LogEntry as LogEntry
    from .client import Queued as Queued
    from .client import RequestHandle as RequestHandle
    from .client import ResultDetails as ResultDetails
    from .display import compare as compare
    from .display import gallery as gallery
    from .display import show as show
    from .duels import AdaptiveRun as AdaptiveRun
    from .duels import Promotion as Promotion
    from .endpoints import CostEstimate as CostEstimate
    from .endpoints import Endpoint as Endpoint
    from .endpoints import EndpointId as EndpointId
    from .endpoints import add_endpoint as add_endpoint
    from .endpoints import endpoints as endpoints
    from .endpoints import estimate_cost as estimate_cost
    from .endpoints import output_size as output_size
    from .errors import AmbiguousSubmit as AmbiguousSubmit
    from .errors import APIError as APIError
    from .errors import AuthenticationError as AuthenticationError
    from .errors import BudgetExceeded as BudgetExceeded
    from .errors import ConfigurationError as ConfigurationError
    from .errors import DownloadError as DownloadError
    from .errors import InputError as InputError
    from .errors import ModerationError as ModerationError
    from .errors import NotFoundError as NotFoundError
    from .errors import Problem as Problem
    from .errors import ProtocolError as ProtocolError
    from .errors import RateLimitError as RateLimitError
    from .errors import RejectedInput as RejectedInput
    from .errors import RequestCancelled as RequestCancelled
    from .errors import RequestFailed as RequestFailed
    from .errors import RunFolderBusy as RunFolderBusy
    from .errors import SeedanceError as SeedanceError
    from .errors import ServerError as ServerError
    from .errors import StartTimeout as StartTimeout
    from .errors import WaitTimeout as WaitTimeout
    from .exports import MissingExtra as MissingExtra
    from .exports import MlflowExport as MlflowExport
    from .exports import to_mlflow as to_mlflow
    from .exports import to_wandb as to_wandb
    from .generation import Result as Result
    from .generation import generate as generate
    from .generation import generate_async as generate_async
    from .grids import Grid as Grid
    from .grids import GridEstimate as GridEstimate
    from .gridvideo import GridVideo as GridVideo
    from .gridvideo import grid_video as grid_video
    from .markup import LargeOutputWarning as LargeOutputWarning
    from .media import DownloadStalled as DownloadStalled
    from .media import VideoInfo as VideoInfo
    from .openapi_schema import SchemaDrift as SchemaDrift
    from .quality import VideoMetrics as VideoMetrics
    from .quality import camera_motion as camera_motion
    from .quality import filmstrip as filmstrip
    from .quality import metrics as metrics
    from .reporting import ReportPath as ReportPath
    from .reporting import bundle_report as bundle_report
    from .reporting import report as report
    from .runs import Job as Job
    from .samples import sample_image as sample_image
    from .schema import DEFAULT_ENDPOINT as DEFAULT_ENDPOINT
    from .schema import File as File
    from .schema import VideoInput as VideoInput
    from .schema import VideoOutput as VideoOutput
    from .stats import CostFrontier as CostFrontier
    from .stats import compare_groups as compare_groups
    from .stats import frontier as frontier
    from .statuses import JobStatus as JobStatus
    from .storyboard import BoardTree as BoardTree
    from .storyboard import Film as Film
    from .storyboard import Storyboard as Storyboard
    from .sweep import Sweep as Sweep
    from .sweep import load_sweep as load_sweep
    from .sweep import run_adaptive as run_adaptive
    from .sweep import run_adaptive_async as run_adaptive_async
    from .sweep import run_sweep as run_sweep
    from .sweep import run_sweep_async as run_sweep_async
    from .sweep import start_sweep as start_sweep
