"""The queue's status answers: ``Queued`` / ``InProgress`` / ``Completed``, their log entries, and the one parser."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Union

from ..errors import ProtocolError
from ..schema import VideoOutput


@dataclass(frozen=True)
class LogEntry:
    message: str
    level: str = "INFO"
    timestamp: str = ""

    @classmethod
    def from_json(cls, data: Any) -> LogEntry:
        """One entry of a status's ``logs`` list.

        Args:
            data: fal's log object (``message``, ``level``, ``timestamp``); anything else becomes the message.
        """
        if not isinstance(data, Mapping):
            return cls(message=str(data))
        return cls(str(data.get("message", "")), str(data.get("level") or "INFO"), str(data.get("timestamp") or ""))


@dataclass(frozen=True)
class Queued:
    """Waiting in fal's queue; ``position`` requests are ahead."""

    position: int
    logs: tuple[LogEntry, ...] = ()


@dataclass(frozen=True)
class InProgress:
    """A runner is generating the video."""

    logs: tuple[LogEntry, ...] = ()


@dataclass(frozen=True)
class Completed:
    """Finished: with a video, or with ``error`` / ``error_type`` (the result endpoint says more)."""

    logs: tuple[LogEntry, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


Status = Union[Queued, InProgress, Completed]  # noqa: UP007 (a runtime alias)


def parse_status(data: Any, logs: tuple[LogEntry, ...] | None = None) -> Status:
    """Read one status body (poll or stream event). The only place status JSON is parsed."""
    if not isinstance(data, Mapping) or "status" not in data:
        raise ProtocolError(f"expected a status object, got {str(data)[:200]!r}")
    if logs is None:
        raw = data.get("logs") or []
        logs = tuple(LogEntry.from_json(item) for item in raw) if isinstance(raw, list) else ()
    state = data["status"]
    if state == "IN_QUEUE":
        position = data.get("queue_position", 0)
        if isinstance(position, bool) or not isinstance(position, int):
            raise ProtocolError(f"queue_position must be an integer, got {position!r}")
        return Queued(position, logs)
    if state == "IN_PROGRESS":
        return InProgress(logs)
    if state == "COMPLETED":
        metrics = data.get("metrics")
        return Completed(
            logs, dict(metrics) if isinstance(metrics, Mapping) else {}, data.get("error"), data.get("error_type")
        )
    raise ProtocolError(f"unknown request status {state!r} (expected IN_QUEUE, IN_PROGRESS or COMPLETED)")


class _Logs:
    """Accumulates log entries, dropping ones seen before (polls return a moving window)."""

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []
        self._seen: set[LogEntry] = set()

    def add(self, raw: Any) -> tuple[LogEntry, ...]:
        if isinstance(raw, list):
            for item in raw:
                entry = LogEntry.from_json(item)
                if entry not in self._seen:
                    self._seen.add(entry)
                    self.entries.append(entry)
        return tuple(self.entries)


# --------------------------------------------------------------------------- bounds


def parse_time(value: Any) -> float | None:
    """A Unix time from a number or an ISO 8601 string (``Z`` or an offset; naive means UTC), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


@dataclass(frozen=True)
class ResultDetails:
    """A request's output and what fal billed for it (``x-fal-billable-units``; None when not sent)."""

    output: VideoOutput
    billable_units: float | None = None


Callback = Callable[[Status], Union[Any, Awaitable[Any]]]  # noqa: UP007
