"""The tutorials a user runs: shipped in the package, copied into a working folder of their own.

::

    seedance-nb tutorials                 # into ./seedance-tutorials, then: jupyter lab seedance-tutorials
    seedance-nb tutorials ~/work/sd       # anywhere; a tutorial you edited there is kept (--force overwrites it)

The one source is the checkout's ``notebooks/`` (the docs link it and the test suite runs it there under
nbval); the wheel ships those files as ``seedance_nb/data/tutorials/`` (pyproject's hatch ``sources``). Running
a tutorial saves its outputs, so working on a copy keeps both the checkout and the installed package clean.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

__all__ = ["TutorialCopy", "copy_tutorials", "tutorial_files"]

#: Where ``seedance-nb tutorials`` copies them when no folder is given.
DEFAULT_DIR = "seedance-tutorials"


def _source_dir() -> Path:
    """The installed package's tutorials, else (a checkout, an editable install) the checkout's notebooks/."""
    packaged = Path(str(files("seedance_nb"))) / "data" / "tutorials"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "notebooks"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"no tutorials shipped with this installation (looked in {packaged} and {checkout})")


def tutorial_files() -> list[Path]:
    """Every tutorial notebook this installation ships, in reading order (``01-quickstart.ipynb`` first)."""
    return sorted(_source_dir().glob("*.ipynb"))


@dataclass
class TutorialCopy:
    """What :func:`copy_tutorials` did: the folder, and each tutorial's name by what happened to it."""

    folder: Path
    copied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        total = len(self.copied) + len(self.unchanged) + len(self.kept)
        lines = [f"{total} tutorial{'s' if total != 1 else ''} in {self.folder}"]
        if self.copied:
            lines.append(f"  copied: {', '.join(self.copied)}")
        if self.kept:
            lines.append(
                f"  kept as you left them (edited or run there): {', '.join(self.kept)}; "
                "--force (force=True) overwrites them with the shipped version"
            )
        lines.append(f"open them: {_jupyter()} lab {_shell_word(self.folder)}")
        return "\n".join(lines)


def _jupyter() -> str:
    """``jupyter`` when it is on PATH, else the one next to this Python (``.venv/bin/jupyter``), as typed."""
    beside = Path(sys.executable).parent / "jupyter"
    if shutil.which("jupyter") is not None or not beside.exists():
        return "jupyter"
    try:
        return _shell_word(Path(os.path.relpath(beside)))
    except ValueError:  # another drive (Windows)
        return _shell_word(beside)


def _shell_word(path: Path) -> str:
    text = str(path)
    return text if text and all(c.isalnum() or c in "/._-~+" for c in text) else "'" + text.replace("'", "'\\''") + "'"


def copy_tutorials(folder: str | Path = DEFAULT_DIR, *, force: bool = False) -> TutorialCopy:
    """Copy the shipped tutorials into ``folder`` (made if missing) to run them there.

    A tutorial already in ``folder`` with the same content is left as it is; one that differs (you edited it,
    or ran it and saved its outputs) is kept unless ``force``. Nothing else in the folder is touched.

    Args:
        folder: where to put them (default ``seedance-tutorials`` in the working directory).
        force: overwrite tutorials that differ from the shipped ones.

    Returns:
        What was copied, left unchanged and kept; ``str()`` of it says how to open them.
    """
    target = Path(folder).expanduser()
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{folder} is a file: give a folder for the tutorials")
    target.mkdir(parents=True, exist_ok=True)
    done = TutorialCopy(target)
    for source in tutorial_files():
        dest = target / source.name
        if dest.exists() and dest.read_bytes() == source.read_bytes():
            done.unchanged.append(source.name)
        elif dest.exists() and not force:
            done.kept.append(source.name)
        else:
            shutil.copyfile(source, dest)
            done.copied.append(source.name)
    return done


# --------------------------------------------------------------------------- the command (seedance_nb.cli)


def add_subcommand(sub: Any) -> None:
    """Register ``seedance-nb tutorials [DIR] [--force]`` on the CLI's subparsers.

    Args:
        sub: the ``add_subparsers()`` object of :mod:`seedance_nb.cli`'s parser.
    """
    tut = sub.add_parser("tutorials", help="copy the tutorial notebooks into a folder of your own to run them")
    tut.add_argument("dir", nargs="?", default=DEFAULT_DIR, help=f"the folder (default ./{DEFAULT_DIR})")
    tut.add_argument("--force", action="store_true", help="overwrite tutorials you edited or ran there")


def run(args: argparse.Namespace) -> int:
    """Run ``seedance-nb tutorials``: copy, then say what happened and the ``jupyter lab`` line.

    Args:
        args: the parsed command line (``dir``, ``force``).
    """
    try:
        done = copy_tutorials(args.dir, force=args.force)
    except (FileExistsError, PermissionError) as exc:
        print(f"seedance-nb: error: {exc}", file=sys.stderr)
        return 2
    print(done)
    if shutil.which("jupyter") is None and not (Path(sys.executable).parent / "jupyter").exists():
        print('(JupyterLab is not installed here: pip install "seedance-nb[notebooks]")')
    return 0
