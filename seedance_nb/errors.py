"""The exceptions seedance-nb raises, under one base class.

Every error says what happened, to which field or request, and what to do next.
The API key never appears in any message (see :func:`redact`).

::

    SeedanceError
    ├── InputError (also ValueError)       an input the model would reject, caught locally
    │                                       or reported by fal as a 422; ``.problems`` names each field
    ├── ConfigurationError                  a missing FAL_KEY, an unknown backend, a bad option
    ├── APIError                            an HTTP error from fal's queue, storage or CDN
    │   ├── AuthenticationError             401 / 403: the key is wrong, missing or out of balance
    │   ├── NotFoundError                   404: unknown endpoint or request id
    │   ├── RateLimitError                  429 still answered after every retry
    │   ├── ServerError                     5xx still answered after every retry
    │   └── AmbiguousSubmit                 a submit that may or may not have been queued (its answer
    │                                       was lost, or a 5xx): never sent again blindly; settled
    │                                       through fal's request history
    ├── RequestFailed                       the request COMPLETED with an error (the result endpoint said why)
    │   ├── RejectedInput (also InputError) 422: fal refused an input field
    │   ├── ModerationError                 422 content_policy_violation
    │   └── StartTimeout                    504 request_timeout: the job never left the queue in time
    ├── RequestCancelled                    the request was cancelled (by us or on fal)
    ├── WaitTimeout (also TimeoutError)     a local wait ran out; the remote request was cancelled
    ├── ProtocolError                       the server sent something malformed
    ├── DownloadError                       a video could not be downloaded or verified
    ├── BudgetExceeded                      a sweep's estimate is over its budget; nothing was sent
    └── RunFolderBusy                       another process (or sweep) holds the run folder's lock
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._names import set_public_module

__all__ = [
    "APIError",
    "AmbiguousSubmit",
    "AuthenticationError",
    "BudgetExceeded",
    "ConfigurationError",
    "DownloadError",
    "InputError",
    "ModerationError",
    "NotFoundError",
    "Problem",
    "ProtocolError",
    "RateLimitError",
    "RejectedInput",
    "RequestCancelled",
    "RequestFailed",
    "RunFolderBusy",
    "SeedanceError",
    "ServerError",
    "StartTimeout",
    "WaitTimeout",
    "redact",
]


class SeedanceError(Exception):
    """Base class of every error seedance-nb raises.

    Every one pickles whole (message and attributes), so an error raised in a worker process or thread pool
    reaches the notebook as it was raised.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (type(self), self.args, dict(vars(self))))


def _rebuild_error(cls: type[SeedanceError], args: tuple[Any, ...], state: dict[str, Any]) -> SeedanceError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    vars(error).update(state)
    return error


@dataclass(frozen=True)
class Problem:
    """One bad input field: what it is, what was given, and what is allowed."""

    field: str
    message: str
    value: Any = None
    allowed: str | None = None
    type: str = "value_error"

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}"
        if self.value is not None:
            text += f" (got {_short_repr(self.value)})"
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        return text

    def to_fal_detail(self) -> dict[str, Any]:
        """This problem in fal's 422 ``detail`` item shape (pydantic style)."""
        item: dict[str, Any] = {
            "loc": ["body", *self.field.split(".")],
            "msg": self.message,
            "type": self.type,
        }
        if self.value is not None:
            item["input"] = (
                _short_repr(self.value) if isinstance(self.value, str | bytes) and len(self.value) > 200 else self.value
            )
        if self.allowed:
            item["ctx"] = {"expected": self.allowed}
        return item

    @classmethod
    def from_fal_detail(cls, item: Any) -> Problem:
        """Read one item of a fal 422 ``detail`` list (tolerant of odd shapes).

        Args:
            item: ``{"loc": ["body", "duration"], "msg": ..., "type": ..., "ctx": {...}}`` or anything else.
        """
        if not isinstance(item, dict):
            return cls(field="input", message=str(item))
        loc = [str(part) for part in item.get("loc", []) if part != "body"]
        ctx = item.get("ctx") if isinstance(item.get("ctx"), dict) else {}
        expected = ctx.get("expected") if ctx else None
        return cls(
            field=".".join(loc) or "input",
            message=str(item.get("msg", "rejected")),
            value=item.get("input"),
            allowed=str(expected) if expected is not None else None,
            type=str(item.get("type", "value_error")),
        )


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 12] + f"...<{len(text)} chars>"


class InputError(SeedanceError, ValueError):
    """An input the model would reject. ``problems`` lists every bad field at once."""

    def __init__(self, problems: Iterable[Problem], *, context: str = "") -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.context = context
        super().__init__(self._message())

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p.field for p in self.problems)

    def _message(self) -> str:
        context = self.context or "invalid input"
        if len(self.problems) == 1:
            return f"{context}: {self.problems[0]}."
        lines = "\n".join(f"  - {p}." for p in self.problems)
        return f"{context}: {len(self.problems)} problems:\n{lines}"


class ConfigurationError(SeedanceError):
    """A setting is missing or wrong (for example no ``FAL_KEY`` for the fal backend)."""


class APIError(SeedanceError):
    """An HTTP error answered by fal (or the emulator)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: Any = None,
        error_type: str | None = None,
        request_id: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.detail = detail
        self.error_type = error_type
        self.request_id = request_id
        self.url = url
        super().__init__(message)


class AuthenticationError(APIError):
    """401 or 403: fal did not accept the key (wrong, missing, or out of balance)."""


class NotFoundError(APIError):
    """404: the endpoint or the request id is unknown (results expire after a while)."""


class RateLimitError(APIError):
    """429 answered even after every retry."""


class ServerError(APIError):
    """A 5xx answered even after every retry."""


class AmbiguousSubmit(APIError):
    """A submit whose answer never arrived (a dropped connection, a 5xx, a garbled body): fal may have queued
    it, and fal has no idempotency key, so sending it again could pay twice. A sweep journals the job as
    ``unknown`` and settles it through fal's request history before anything is sent again."""


class RequestFailed(SeedanceError):
    """The request finished (fal says COMPLETED) but with an error instead of a video.

    ``detail`` is what the result endpoint said; ``error_type`` is fal's type
    (for example ``content_policy_violation`` or ``request_timeout``).
    """

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        status_code: int | None = None,
        detail: Any = None,
        error_type: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.request_id = request_id
        self.status_code = status_code
        self.detail = detail
        self.error_type = error_type
        self.retryable = retryable
        # Not super(): in RejectedInput the next class in the MRO is InputError, which takes problems.
        SeedanceError.__init__(self, message)


class RejectedInput(RequestFailed, InputError):
    """fal refused an input (422). ``problems`` names the fields fal named."""

    def __init__(self, message: str, *, problems: Sequence[Problem] = (), **kwargs: Any) -> None:
        RequestFailed.__init__(self, message, **kwargs)
        self.problems = tuple(problems)
        self.context = message


class ModerationError(RequestFailed):
    """fal's content checks refused the input or the output (``content_policy_violation``).

    Output moderation is partly random: one retry, or ``generate_audio=False``,
    often passes. Input refusals (such as realistic faces) are deterministic.
    """


class StartTimeout(RequestFailed):
    """The job did not leave fal's queue before ``start_timeout`` (504 ``request_timeout``)."""


class RequestCancelled(SeedanceError):
    """The request was cancelled before it produced a video."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        self.request_id = request_id
        super().__init__(message)


class WaitTimeout(SeedanceError, TimeoutError):
    """A local wait ran out. The remote request was cancelled so it stops costing money."""

    def __init__(self, message: str, *, request_id: str | None = None, timeout: float | None = None) -> None:
        self.request_id = request_id
        self.timeout = timeout
        super().__init__(message)


class ProtocolError(SeedanceError):
    """The server sent something this client cannot understand (malformed JSON, unknown status)."""


class DownloadError(SeedanceError):
    """A video could not be downloaded, or the file did not match what the server promised."""


class BudgetExceeded(SeedanceError):
    """A sweep's estimated cost is above its budget. Nothing was sent."""

    def __init__(self, message: str, *, estimate_usd: float, budget_usd: float) -> None:
        self.estimate_usd = estimate_usd
        self.budget_usd = budget_usd
        super().__init__(message)


class RunFolderBusy(SeedanceError):
    """Another process (another kernel, a widget's run, a script) is submitting from this run folder.

    Two submitters on one folder would pay twice for the same jobs, so only one may hold it. Reading
    (``load_sweep``, ``df``, reports, display) needs no lock.
    """

    def __init__(self, message: str, *, holder: dict[str, Any] | None = None) -> None:
        self.holder = dict(holder or {})
        super().__init__(message)


_KEYLIKE = re.compile(r"\b([0-9a-fA-F-]{8,}):([0-9a-fA-F]{8,})\b")


def redact(text: str, *secrets: str | None) -> str:
    """Remove every given secret (and anything shaped like a fal key) from ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            for part in secret.split(":"):
                if len(part) >= 8:
                    text = text.replace(part, "***")
    return _KEYLIKE.sub("***", text)


set_public_module(__name__)
