"""The public surface is deliberate: pinned here, sorted, and importable without side effects."""

from __future__ import annotations

import subprocess
import sys

import seedance_nb

PUBLIC = [
    "APIError", "AdaptiveRun", "AsyncClient", "AuthenticationError", "BudgetExceeded", "Completed",
    "ConfigurationError", "CostEstimate", "DEFAULT_ENDPOINT", "DownloadError", "EndpointId", "File", "Grid",
    "InProgress", "InputError", "LargeOutputWarning", "ModerationError", "NotFoundError", "Problem", "ProtocolError",
    "Queued", "RateLimitError", "RejectedInput", "RequestCancelled", "RequestFailed", "RequestHandle", "Result",
    "SeedanceError", "ServerError", "StartTimeout", "Sweep", "VideoInput", "VideoMetrics", "VideoOutput",
    "WaitTimeout", "__version__", "catalog", "compare", "connect", "estimate_cost", "filmstrip", "generate",
    "generate_async", "grid", "load_sweep", "metrics", "output_size", "recover", "report", "run_adaptive",
    "run_adaptive_async", "run_sweep", "run_sweep_async", "sample_image", "search", "set_budget", "show", "spend",
    "start_sweep",
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
        "assert c._key() == 'late-id:late-secret'; "
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
