"""The report you send: one zip with the report, its videos, posters and the run's journal.

``report.html`` alone references its videos next to it (a mailed copy shows posters and no videos) and
``embed=True`` makes one large file; a bundle is the run as a colleague needs it: unzip anywhere, open
``<run>/report.html``, every video plays from ``videos/`` beside it (relative links only, nothing absolute,
nothing on the network). Built in a staging folder, the zip is written atomically; MP4s are stored (they are
compressed already), text is deflated.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .. import markup as m

logger = logging.getLogger("seedance_nb.reporting")

#: The run folder's record that travels with the report (what exists of it).
_RECORD = ("journal.jsonl", "sweep.json", "round.json", "votes.jsonl")
_STORED = {".mp4", ".webm", ".mov", ".jpg", ".jpeg", ".png", ".webp", ".gif", ".zip"}

_README = """{name}: a seedance-nb sweep

Open report.html in a browser (Chrome, Edge, Firefox, Safari): the grid, the table, the timeline and the
ratings are there, and every video plays from videos/ beside it. Keep the folder together.

journal.jsonl is the run's record (every request, its inputs, timings and result); sweep.json describes the
sweep. With seedance-nb installed, `seedance_nb.load_sweep("{name}")` reads them back.
"""


def _copy_media(df: pd.DataFrame, column: str, into: Path) -> None:
    """Copy each row's local file of ``column`` into ``into`` and point the row at the copy."""
    if column not in df.columns:
        return
    into.mkdir(parents=True, exist_ok=True)
    copies: list[Any] = []
    for pos, value in enumerate(df[column]):
        local = Path(str(value)) if not m.is_missing(value) and str(value) and "://" not in str(value) else None
        if local is None or not local.is_file():
            copies.append(None if local is not None else value)
            continue
        dest = into / local.name
        if dest.exists() and not os.path.samefile(dest, local) and dest.read_bytes() != local.read_bytes():
            dest = into / f"job-{df['job'].iloc[pos] if 'job' in df.columns else pos}-{local.name}"
        if not dest.exists():
            shutil.copy2(local, dest)
        copies.append(str(dest))
    df[column] = copies


def _zip_folder(folder: Path, target: Path) -> None:
    part = target.with_name(target.name + ".part")
    with zipfile.ZipFile(part, "w") as zf:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            kind = zipfile.ZIP_STORED if file.suffix.lower() in _STORED else zipfile.ZIP_DEFLATED
            zf.write(file, file.relative_to(folder.parent).as_posix(), compress_type=kind)
    os.replace(part, target)


def bundle_report(
    sweep_or_df: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    rows: str | Sequence[str] | None = None,
    cols: str | Sequence[str] | None = None,
    metric: str = "motion",
) -> Path:
    """Write the sweep's report with its videos, posters and journal into one zip to send, and return its path.

    The zip holds one folder named after the run: ``report.html`` (links relative to it), ``videos/``,
    ``posters/``, ``journal.jsonl`` and ``sweep.json``, and a ``README.txt``. Unzipped anywhere, the report
    plays every video without seedance-nb, Jupyter or the network.

    Args:
        sweep_or_df: a sweep, or its DataFrame (``df.attrs["run_dir"]`` names the run folder).
        path: the zip to write (default ``<run_dir>/<run name>-report.zip``), or a folder to write it in.
        title: the report's title (default: the run folder's name).
        rows: the grid's row column(s) (default: chosen from what varies).
        cols: the grid's column column(s).
        metric: the metric plotted per parameter value in the metrics section.
    """
    from . import report

    run_dir = m.run_dir_of(sweep_or_df)
    if run_dir is None:
        raise ValueError("this sweep has no run folder: a bundle carries its journal, so give a sweep with one")
    name = run_dir.resolve().name
    target = Path(path) if path is not None else run_dir / f"{name}-report.zip"
    if target.is_dir():
        target = target / f"{name}-report.zip"
    df = m.frame_of(sweep_or_df).copy()
    df.attrs["run_dir"] = str(run_dir)
    if m.backend_of(sweep_or_df):
        df.attrs["backend"] = m.backend_of(sweep_or_df)
    with tempfile.TemporaryDirectory(prefix="seedance-bundle-") as staging:
        root = Path(staging) / name
        root.mkdir()
        _copy_media(df, "path", root / "videos")
        _copy_media(df, "poster", root / "posters")
        for record in _RECORD:
            if (run_dir / record).is_file():
                shutil.copy2(run_dir / record, root / record)
        (root / "README.txt").write_text(_README.format(name=name), encoding="utf-8")
        report(df, root / "report.html", title=title or f"Seedance sweep · {name}", rows=rows, cols=cols, metric=metric)
        target.parent.mkdir(parents=True, exist_ok=True)
        _zip_folder(root, target)
    logger.info("wrote the bundle %s (%.1f MB)", target, target.stat().st_size / 1e6)
    return target


def send_text(zip_path: Path) -> str:
    """What to tell the user about a bundle: the one file to send and what the recipient does with it.

    Args:
        zip_path: the bundle :func:`bundle_report` wrote.
    """
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
    videos = sum(1 for n in names if "/videos/" in n)
    report_name = next((n for n in names if n.endswith("/report.html")), "report.html")
    size = zip_path.stat().st_size / 1e6
    plural = "video" if videos == 1 else "videos"
    return (
        f"send this one file: {zip_path} ({size:.1f} MB, the report with {videos} {plural}, posters and the "
        f"journal)\nthe recipient unzips it anywhere and opens {report_name} in a browser: the videos play there"
    )
