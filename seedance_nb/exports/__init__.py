"""Hand a sweep to where the team already looks: MLflow and Weights & Biases.

::

    sweep.to_mlflow(experiment="harbour")        # a parent run, a nested run per take; again: updates, no copies
    sd.to_mlflow(sweep, tracking_uri="http://mlflow.internal:5000")
    sweep.to_wandb(project="harbour")            # a wandb.Table with the original videos and every column

Each exporter's library is an optional extra (``pip install 'seedance-nb[mlflow]'``, ``[wandb]``), imported
only when called; a missing one raises :class:`MissingExtra` naming the extra. The viewing stays local and
full-bitrate (``sweep.gallery()``, the report); the trackers get the record. The parts: ``_rows`` (what every
target gets, the same for each), ``_mlflow``, ``_wandb``. A wing: it imports the core and the report, and the
core never imports it; :class:`ExportsMixin` is mixed into :class:`~seedance_nb.sweep.Sweep` on the face floor.
"""

from __future__ import annotations

from typing import Any

from .._names import set_public_module
from ._mlflow import MlflowExport, to_mlflow
from ._rows import MissingExtra
from ._wandb import to_wandb

__all__ = ["ExportsMixin", "MissingExtra", "MlflowExport", "to_mlflow", "to_wandb"]


class ExportsMixin:
    """What a :class:`~seedance_nb.sweep.Sweep` gains: :meth:`to_mlflow`, :meth:`to_wandb` (thin forwards to this
    package).
    Mixed in on the top floor only."""

    def to_mlflow(self, experiment: str | None = None, tracking_uri: str | None = None, **kwargs: Any) -> MlflowExport:
        """Export this sweep to MLflow (see :func:`to_mlflow`).

        Args:
            experiment: the experiment's name (default ``"seedance-nb"``).
            tracking_uri: the store or server (default ``$MLFLOW_TRACKING_URI``, else SQLite beside the sweeps).
            **kwargs: ``artifacts``, ``report``, ``embed_report``.
        """
        return to_mlflow(self, experiment, tracking_uri, **kwargs)

    def to_wandb(self, project: str | None = None, **kwargs: Any) -> Any:
        """Export this sweep to Weights & Biases (see :func:`to_wandb`).

        Args:
            project: the W&B project (default ``"seedance-nb"``).
            **kwargs: ``entity`` and more ``wandb.init`` arguments (``mode="offline"``, ``dir``, ``tags``, ...).
        """
        return to_wandb(self, project, **kwargs)


set_public_module(__name__)
