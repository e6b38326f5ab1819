"""Every public name of the package has an anchor in the API reference: ``seedance_nb.__all__`` against the
inventory mkdocs builds (``objects.inv``, Sphinx's format, which mkdocstrings writes).

The docs are built by ``.ci/run`` in a fresh venv with the pinned docs extra; it then runs this file with
``SEEDANCE_DOCS_SITE`` set to the built site, where a missing inventory fails. Locally the test reads
``site/`` when a ``mkdocs build`` left one there, and is skipped otherwise.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest

import seedance_nb
from seedance_nb._names import PUBLIC

ROOT = Path(__file__).resolve().parent.parent


def _inventory() -> dict[str, str]:
    """name -> the page and anchor it links to, from the built site's objects.inv."""
    site = os.environ.get("SEEDANCE_DOCS_SITE")
    path = Path(site) / "objects.inv" if site else ROOT / "site" / "objects.inv"
    if not path.is_file():
        if site:
            pytest.fail(f"SEEDANCE_DOCS_SITE={site} holds no objects.inv: did mkdocs build run?")
        pytest.skip("no built API reference (mkdocs build --strict writes site/objects.inv)")
    header, _, body = path.read_bytes().partition(b"# The remainder of this file is compressed using zlib.\n")
    assert header.startswith(b"# Sphinx inventory version 2"), header[:60]
    entries = {}
    for line in zlib.decompress(body).decode("utf-8").splitlines():
        name, _domain_role, _priority, uri, *_ = line.split(" ", 4)
        entries[name] = uri.replace("$", name) if uri.endswith("$") else uri
    return entries


def _anchor(name: str, entries: dict[str, str]) -> str | None:
    """The entry documenting ``name``: ``seedance_nb.<name>`` or one under the module that defines it."""
    home = f"seedance_nb.{PUBLIC[name]}."
    for key, uri in entries.items():
        if key == f"seedance_nb.{name}" or (key.startswith(home) and key.endswith(f".{name}")):
            return uri
    return None


def test_every_public_name_has_an_api_anchor():
    entries = _inventory()
    assert len(entries) > 100, "an inventory this small is not the package's"
    missing = [n for n in seedance_nb.__all__ if n != "__version__" and _anchor(n, entries) is None]
    assert missing == [], f"public names with no anchor in the API reference (add them to a docs/api page): {missing}"
    for name in ("report", "bundle_report", "catalog", "search", "spend", "set_budget", "recover", "Recovery"):
        assert "#" in _anchor(name, entries) and _anchor(name, entries).startswith("api/"), name
