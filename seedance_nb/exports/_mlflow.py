"""A sweep into MLflow: one parent run per sweep, one nested run per take.

Why nested runs: MLflow's run list folds a sweep's takes under one row, its compare view then compares the
takes of that sweep, and the sweep's own record (what the grid held fixed, the report, the totals) has a run of
its own to live on. The grid's axes are each take's params, every number in ``sweep.df`` a metric (cost, timings,
rating, Bradley–Terry score, camera adherence, the quality metrics), every other cell a tag; the video, its
poster and its filmstrip are artefacts, the report an HTML artefact on the parent.

Idempotent: the runs carry the sweep's key and the take's number as tags, found again with
``MlflowClient.search_runs``; a second export updates those runs (changed metrics, tags, missing or changed
artefacts) and creates none. The MLflow client library does the talking to any store (SQLite, a ``file:``
folder, a tracking server, Databricks) and its REST protocol, which no code of ours should copy.

Content types: a tracking server serves an artefact with the type Python's ``mimetypes`` gives its extension, so
videos keep ``.mp4`` (``video/mp4``), posters and filmstrips ``.jpg`` and the report ``.html``. MLflow's UI
before the fix of mlflow#22307 listed ``.mp4`` as audio and failed to preview it; the videos are therefore
logged under ``video/`` and each take's tag ``sd.video_artifact`` names the file, so a team on an older server
can still fetch it (the UI bundled with MLflow 3.17 previews ``.mp4`` as video).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from ..keys import scrub_text
from . import _rows as r

#: The experiment a sweep goes to when none is named.
DEFAULT_EXPERIMENT = "seedance-nb"
#: The tag that marks a sweep's parent run.
ROLE_TAG = "seedance_nb.role"
_PARENT = "mlflow.parentRunId"
_MAX_PAGES = 1000  # bound on search_runs pages (1000 runs a page)


def default_tracking_uri(sweep: Any) -> str:
    """``$MLFLOW_TRACKING_URI``, else a SQLite store beside the run folder (``<sweeps>/mlflow.db``), MLflow 3's
    preferred local store, shared by every sweep under the same folder.

    Args:
        sweep: the sweep.
    """
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    root = Path(sweep.run_dir).resolve().parent
    return f"sqlite:///{root / 'mlflow.db'}"


def _experiment_id(client: Any, name: str, tracking_uri: str) -> str:
    """The experiment's id, created when missing (a local store keeps its artefacts beside the database)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = (Path(tracking_uri[len("sqlite:///") :]).parent / "mlartifacts").resolve().as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def _existing(client: Any, experiment_id: str, key: str) -> dict[str, Any]:
    """The runs already exported for this sweep: ``"sweep"`` for the parent, the job number for each take."""
    found: dict[str, Any] = {}
    token = None
    for _ in range(_MAX_PAGES):
        page = client.search_runs(
            [experiment_id], filter_string=f"tags.`{r.SWEEP_TAG}` = '{key}'", max_results=1000, page_token=token
        )
        for run in page:
            job = run.data.tags.get(r.JOB_TAG)
            found.setdefault("sweep" if job is None else job, run)
        token = page.token
        if not token:
            break
    return found


def _log(client: Any, run: Any, params: dict[str, str], metrics: dict[str, float], tags: dict[str, str]) -> None:
    """Log what changed: params not yet there (MLflow's params are write-once), metrics whose value changed, and
    the tags."""
    from mlflow.entities import Metric, Param, RunTag

    have_params = run.data.params
    have_metrics = run.data.metrics
    now = int(time.time() * 1000)
    new_params = [Param(k[:250], v) for k, v in params.items() if k[:250] not in have_params]
    new_metrics = [Metric(k[:250], v, now, 0) for k, v in metrics.items() if have_metrics.get(k[:250]) != v]
    new_tags = [RunTag(k[:250], v[:8000]) for k, v in tags.items()]
    for start in range(0, max(len(new_params), len(new_metrics), len(new_tags)), 100):
        client.log_batch(
            run.info.run_id,
            metrics=new_metrics[start : start + 100],
            params=new_params[start : start + 100],
            tags=new_tags[start : start + 100],
        )


def _artefact(client: Any, run_id: str, path: Path, folder: str) -> None:
    """Upload ``path`` into ``folder`` unless a file of that name and size is already there."""
    listed = {Path(f.path).name: f.file_size for f in client.list_artifacts(run_id, folder)}
    if listed.get(path.name) == path.stat().st_size:
        return
    client.log_artifact(run_id, str(path), folder)


def _run(client: Any, experiment_id: str, found: Any, name: str, tags: dict[str, str]) -> Any:
    """The run to update (``found``) or a new one with ``tags``."""
    if found is not None:
        return client.get_run(found.info.run_id)
    return client.create_run(experiment_id, run_name=name, tags=tags)


def _finish(client: Any, run: Any) -> None:
    """Mark a run finished (once), without the two "View run ... at" lines MLflow prints per run to stdout."""
    if run.info.status == "FINISHED":
        return
    with contextlib.redirect_stdout(io.StringIO()):
        client.set_terminated(run.info.run_id, "FINISHED")


def _report(client: Any, run_id: str, sweep: Any, embed: bool) -> None:
    """The sweep's report, as ``report.html`` on the parent run."""
    from ..reporting import report_html

    with tempfile.TemporaryDirectory(prefix="sd-mlflow-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(scrub_text(report_html(sweep, base_dir=sweep.run_dir, embed=embed)), encoding="utf-8")
        client.log_artifact(run_id, str(page))


def to_mlflow(
    sweep: Any,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    *,
    artifacts: bool = True,
    report: bool = True,
    embed_report: bool = False,
) -> MlflowExport:
    """Export a sweep to MLflow: a parent run for the sweep, a nested run per take; again, it updates them.

    Args:
        sweep: the sweep (``sd.load_sweep(folder)`` for one on disk).
        experiment: the MLflow experiment's name (default ``"seedance-nb"``; created when missing).
        tracking_uri: where to (``http://host:5000``, ``sqlite:///path/mlflow.db``, ``file:///path/mlruns``;
            default ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<the sweeps folder>/mlflow.db``).
        artifacts: upload each take's video, poster and filmstrip.
        report: upload the sweep's report as ``report.html`` on the parent run.
        embed_report: put the videos inside that report (it plays in MLflow's viewer, but is as large as them).

    Raises:
        InputError: ``experiment`` or ``tracking_uri`` is not a non-empty string.
        MissingExtra: MLflow is not installed (``pip install 'seedance-nb[mlflow]'``).
    """
    r.check_name("experiment", experiment, "harbour")
    r.check_name("tracking_uri", tracking_uri, "http://127.0.0.1:5000")
    r.require("mlflow")
    uri = tracking_uri or default_tracking_uri(sweep)
    quiet = logging.getLogger("mlflow")  # its INFO lines ("Creating initial MLflow database tables...") on stderr
    level = quiet.level
    with warnings.catch_warnings():  # MLflow's own deprecation notes (its SQLAlchemy use, the file store) are not
        warnings.simplefilter("ignore", DeprecationWarning)  # the user's to act on
        warnings.simplefilter("ignore", FutureWarning)
        quiet.setLevel(max(level, logging.WARNING))
        try:
            return _export(sweep, experiment, uri, artifacts=artifacts, report=report, embed_report=embed_report)
        finally:
            quiet.setLevel(level)


def _export(
    sweep: Any, experiment: str | None, uri: str, *, artifacts: bool, report: bool, embed_report: bool
) -> MlflowExport:
    """:func:`to_mlflow`'s work, with MLflow imported."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment_id = _experiment_id(client, experiment or DEFAULT_EXPERIMENT, uri)
    key = r.sweep_key(sweep)
    found = _existing(client, experiment_id, key)
    meta = getattr(sweep, "meta", {}) or {}
    parent_tags = {r.SWEEP_TAG: key, ROLE_TAG: "sweep", "endpoint": r.text(meta.get("endpoint"))}
    parent_tags["backend"] = r.text(meta.get("backend"))
    parent = _run(client, experiment_id, found.get("sweep"), r.text(meta.get("name")) or key, parent_tags)
    _log(client, parent, r.sweep_params(sweep), r.summary(sweep), parent_tags)
    children: dict[int, str] = {}
    for take in r.takes(sweep, include_files=artifacts):
        tags = {**take.tags, _PARENT: parent.info.run_id}
        for folder, path in take.files.items():
            tags[f"sd.{folder}_artifact"] = f"{folder}/{path.name}"
        run = _run(client, experiment_id, found.get(str(take.job)), take.name, tags)
        _log(client, run, take.params, take.metrics, tags)
        for folder, path in take.files.items():
            _artefact(client, run.info.run_id, path, folder)
        _finish(client, run)
        children[take.job] = run.info.run_id
    if report:
        _report(client, parent.info.run_id, sweep, embed_report)
    _finish(client, parent)
    return MlflowExport(uri, experiment_id, parent.info.run_id, children)


class MlflowExport:
    """Where an export went: the tracking URI, the experiment, the parent run and each take's run.

    Args:
        tracking_uri: the store or server.
        experiment_id: the experiment's id.
        parent_run_id: the sweep's run.
        runs: each take's run id, by job number.
    """

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str, runs: dict[int, str]) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_id = experiment_id
        self.parent_run_id = parent_run_id
        self.runs = runs

    def __repr__(self) -> str:
        return (
            f"MlflowExport(tracking_uri={self.tracking_uri!r}, experiment_id={self.experiment_id!r}, "
            f"parent_run_id={self.parent_run_id!r}, takes={len(self.runs)})"
        )
