"""nbval runs each tutorial here (pyproject's testpaths): a cell that writes to stderr fails, whatever its tags.

A newcomer's first view of a tutorial must not be a pink box they did not cause (a warning, a log line, a
progress bar drawn as text): nbval only compares the outputs of cells tagged ``nbval-check-output``, so this
hook checks every cell's fresh outputs for a ``stderr`` stream. Not shipped: the wheel takes ``*.ipynb`` only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator
from typing import Any

import pytest

# `pytest notebooks` alone (without tests/, whose conftest does the same) must not read or write the user's own
# cache and catalog: a fresh per-user home for the kernels, which inherit it.
os.environ.setdefault("SEEDANCE_HOME", tempfile.mkdtemp(prefix="seedance-nbval-home-"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    result = yield
    outputs = getattr(item, "test_outputs", None) or []
    streams = [o for o in outputs if o.get("output_type") == "stream"]
    stderr = "".join(o.get("text", "") for o in streams if o.get("name") == "stderr")
    if stderr:
        pytest.fail(f"{item.name} wrote to stderr (a pink box in JupyterLab):\n{stderr[:2000]}", pytrace=False)
    return result
