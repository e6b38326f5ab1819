"""seedance-nb: sweep, watch and compare Seedance 2.0 fast image-to-video runs from Jupyter.

::

    import seedance_nb as sd
    client = sd.connect()          # fal when FAL_KEY is set, else the built-in emulator
    sweep = sd.run_sweep(sd.Grid(image=sd.sample_image(), prompt=["a slow push-in", "a whip pan"], seed=[1, 2]))
    sweep.df                       # one row per video; `sweep` alone shows the grid

See README.md for the tour and ``docs/contracts.md`` for how the layers fit.
"""

from .catalog import catalog, recover, search, set_budget, spend
from .client import AsyncClient, Completed, InProgress, Queued, RequestHandle
from .connect import connect
from .display import LargeOutputWarning, compare, grid, show
from .duels import AdaptiveRun, run_adaptive, run_adaptive_async
from .errors import (
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
    SeedanceError,
    ServerError,
    StartTimeout,
    WaitTimeout,
)
from .generate import Result, generate, generate_async
from .metrics import VideoMetrics, filmstrip, metrics
from .report import report
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
from .sweep import Grid, Sweep, load_sweep, run_sweep, run_sweep_async, start_sweep

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AdaptiveRun",
    "AsyncClient",
    "AuthenticationError",
    "BudgetExceeded",
    "Completed",
    "ConfigurationError",
    "CostEstimate",
    "DEFAULT_ENDPOINT",
    "DownloadError",
    "EndpointId",
    "File",
    "Grid",
    "InProgress",
    "InputError",
    "LargeOutputWarning",
    "ModerationError",
    "NotFoundError",
    "Problem",
    "ProtocolError",
    "Queued",
    "RateLimitError",
    "RejectedInput",
    "RequestCancelled",
    "RequestFailed",
    "RequestHandle",
    "Result",
    "SeedanceError",
    "ServerError",
    "StartTimeout",
    "Sweep",
    "VideoInput",
    "VideoMetrics",
    "VideoOutput",
    "WaitTimeout",
    "__version__",
    "catalog",
    "compare",
    "connect",
    "estimate_cost",
    "filmstrip",
    "generate",
    "generate_async",
    "grid",
    "load_sweep",
    "metrics",
    "output_size",
    "recover",
    "report",
    "run_adaptive",
    "run_adaptive_async",
    "run_sweep",
    "run_sweep_async",
    "sample_image",
    "search",
    "set_budget",
    "show",
    "spend",
    "start_sweep",
]
