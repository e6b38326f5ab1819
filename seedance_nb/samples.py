"""A sample input image shipped with the package, so every example runs as pasted::

    import seedance_nb as sd
    sweep = sd.run_sweep(sd.Grid(image=sd.sample_image(), prompt="the sun sinks slowly behind the hills"))

``seedance_nb/data/sample.png`` is a 768×432 (16:9) landscape drawn for this project (hills, a lake, a low sun),
in the public domain: use it freely.
"""

from __future__ import annotations

from pathlib import Path

from ._names import set_public_module

__all__ = ["sample_image"]

_SAMPLE = Path(__file__).with_name("data") / "sample.png"


def sample_image() -> Path:
    """The path of the bundled sample image (a 768×432 PNG landscape); pass it as ``image=``."""
    if not _SAMPLE.is_file():  # pragma: no cover - only if the package was installed without its data
        raise FileNotFoundError(f"the sample image is missing from the installed package ({_SAMPLE}); reinstall it")
    return _SAMPLE


set_public_module(__name__)
