"""The package's public names and where each lives: the ground floor every module may import.

Each submodule with public names ends with ``set_public_module(__name__)``, so its public classes and functions
report ``__module__ == "seedance_nb"``; the package face (``seedance_nb/__init__.py``) loads each name lazily
from the table below. Both read one table, kept here so that no module imports the face to name itself.
"""

from __future__ import annotations

import sys

__all__ = ["PUBLIC", "set_public_module"]

#: Where each public name lives: name -> submodule (relative to this package).
PUBLIC: dict[str, str] = {
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
    "CostEstimate": "endpoints",
    "EndpointId": "endpoints",
    "add_endpoint": "endpoints",
    "Endpoint": "endpoints",
    "endpoints": "endpoints",
    "File": "schema",
    "VideoInput": "schema",
    "VideoOutput": "schema",
    "estimate_cost": "endpoints",
    "output_size": "endpoints",
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
    "JobStatus": "statuses",
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
    "GridVideo": "gridvideo",
    "grid_video": "gridvideo",
    "ReportPath": "reporting",
    "report": "reporting",
    "bundle_report": "reporting",
    # ranking takes
    "VideoMetrics": "quality",
    "camera_motion": "quality",
    "CameraMotion": "adherence",
    "asked_camera_move": "adherence",
    "CostFrontier": "stats",
    "compare_groups": "stats",
    "frontier": "stats",
    # where the team looks: MLflow, Weights & Biases
    "MissingExtra": "exports",
    "MlflowExport": "exports",
    "to_mlflow": "exports",
    "to_wandb": "exports",
    "filmstrip": "quality",
    "metrics": "quality",
    "AdaptiveRun": "duels",
    "Promotion": "duels",
    "run_adaptive": "sweep",
    "run_adaptive_async": "sweep",
    # sequences of shots
    "Storyboard": "storyboard",
    "Film": "storyboard",
    "BoardTree": "storyboard",
    # history and spend
    "Recovery": "catalogs",
    "catalog": "catalogs",
    "recover": "catalogs",
    "record": "cassettes",
    "Recorder": "cassettes",
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


def set_public_module(module_name: str) -> None:
    """Give the public names defined under ``module_name`` ``__module__ == "seedance_nb"``.

    Each submodule with public names calls this as its last line, so the names read as ``seedance_nb.X``
    wherever they show (reprs, tracebacks, pickles, the API reference) whether or not the package attribute
    was read first. ``pickle`` finds them again through the package's ``__getattr__``.
    """
    module = sys.modules[module_name]
    short = module_name.removeprefix("seedance_nb.")
    for name, where in PUBLIC.items():
        if short != where and not short.startswith(f"{where}."):  # a package's private submodule counts
            continue
        obj = vars(module).get(name)  # not getattr: a lazy name of a subpackage stays unloaded
        owner = getattr(obj, "__module__", None) or ""
        if (isinstance(obj, type) or callable(obj)) and (owner == module_name or owner.startswith(f"{module_name}.")):
            try:
                obj.__module__ = "seedance_nb"
            except (AttributeError, TypeError):  # a builtin or a frozen type: leave it
                pass
