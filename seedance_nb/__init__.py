"""seedance-nb: sweep, watch and compare Seedance 2.0 fast image-to-video runs from Jupyter.

::

    import seedance_nb as sd
    client = sd.connect()          # fal when FAL_KEY is set, else the built-in emulator
    sweep = sd.run_sweep(sd.Grid(image="cat.png", prompt=["a slow push-in", "a whip pan"], seed=[1, 2]))
    sweep.df                       # one row per video; `sweep` alone shows the grid

See README.md for the tour and ``docs/contracts.md`` for how the layers fit.
"""

from .display import LargeOutputWarning, compare, grid, show
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
from .report import report
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

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AuthenticationError",
    "BudgetExceeded",
    "ConfigurationError",
    "CostEstimate",
    "DEFAULT_ENDPOINT",
    "DownloadError",
    "EndpointId",
    "File",
    "InputError",
    "LargeOutputWarning",
    "ModerationError",
    "NotFoundError",
    "Problem",
    "ProtocolError",
    "RateLimitError",
    "RejectedInput",
    "RequestCancelled",
    "RequestFailed",
    "SeedanceError",
    "ServerError",
    "StartTimeout",
    "VideoInput",
    "VideoOutput",
    "WaitTimeout",
    "__version__",
    "compare",
    "estimate_cost",
    "grid",
    "output_size",
    "report",
    "show",
]
