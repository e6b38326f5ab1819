"""A thin async client for fal's queue, at least as capable as ``fal_client`` and lighter on the wire.

::

    async with AsyncClient() as client:              # FAL_KEY from the environment, read lazily
        handle = await client.submit(VideoInput(prompt="push in", image_url=url, duration=5))
        async for event in handle.events():          # Queued / InProgress / Completed
            print(event)
        output = await handle.result()               # VideoOutput, or a RequestFailed subclass

One job costs four HTTP requests against the emulator: submit, one status
stream (SSE), result, and the video download. When the stream is unavailable
the handle polls, starting at 0.5 s and backing off to 5 s (not fal_client's
0.1 s). Base URLs are arguments, never import-time constants, and ``transport=``
takes any httpx transport (tests use ``httpx.MockTransport``).

The key goes only to fal's API hosts (the configured queue, rest and api URLs):
it is added per request, never as a client-wide header, so a video download or
a URL a server names on another host never receives it, and an API call to a
foreign host is refused. Everything read from a server is bounded: a status
stream line, a result body, and a status stream that goes silent (see
:class:`Limits`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from .._names import set_public_module
from ..endpoints import find
from ..errors import AmbiguousSubmit, ProtocolError, redact
from ..keys import resolve_key
from ..schema import DEFAULT_ENDPOINT, SNAPSHOT_ENDPOINTS, EndpointId, VideoInput, VideoOutput, validate_payload
from ._handle import RequestHandle, _call, cancel_status
from ._handle import _failure as _failure
from ._status import (
    Callback as Callback,
)
from ._status import (
    Completed,
    InProgress,
    LogEntry,
    Queued,
    ResultDetails,
    Status,
    parse_status,
)
from ._status import (
    _Logs as _Logs,
)
from ._status import (
    parse_time as parse_time,
)
from ._storage import Storage
from ._transport import (
    BACKUP_HOSTS as BACKUP_HOSTS,
)
from ._transport import (
    FAL_API_URL,
    FAL_CDN_URL,
    FAL_QUEUE_URL,
    FAL_REST_URL,
    Limits,
    _bounded_json,
    _origin_text,
)
from ._transport import (
    USER_AGENT as USER_AGENT,
)
from ._transport import (
    Transport as Transport,
)
from ._transport import (
    _api_error as _api_error,
)
from ._transport import (
    _backup_url as _backup_url,
)
from ._transport import (
    _origin as _origin,
)
from ._transport import (
    _ssl_context as _ssl_context,
)

__all__ = [
    "FAL_API_URL",
    "FAL_CDN_URL",
    "FAL_QUEUE_URL",
    "FAL_REST_URL",
    "AsyncClient",
    "Completed",
    "InProgress",
    "Limits",
    "LogEntry",
    "Queued",
    "RequestHandle",
    "ResultDetails",
    "Status",
    "cancel_status",
    "parse_status",
    "resolve_key",
]

logger = logging.getLogger("seedance_nb.client")


class AsyncClient(Storage):
    """fal's queue over one ``httpx.AsyncClient`` per event loop. Use as an async context manager.

    Args:
        key: the API key; default ``FAL_KEY`` (or ``FAL_KEY_ID`` + ``FAL_KEY_SECRET``), read when the first
            request is sent. It is sent only to ``queue_url``, ``rest_url`` and ``api_url``.
        queue_url: fal's queue host; default ``SEEDANCE_QUEUE_URL``, else ``https://queue.fal.run``.
        rest_url: fal's REST host (storage upload tokens); default ``SEEDANCE_REST_URL``, else ``https://rest.fal.ai``.
        cdn_url: fal's CDN host for uploads; default ``SEEDANCE_CDN_URL``, else ``https://v3.fal.media``.
        api_url: fal's platform API host (pricing, request history); default ``SEEDANCE_API_URL``, else
            ``https://api.fal.ai``.
        transport: any httpx transport (tests).
        timeout: seconds for one HTTP exchange.
        retry: the retry policy (:class:`seedance_nb.retry.RetryPolicy`).
        limits: bounds on what a server may send (:class:`Limits`).

    ``backend`` is ``"fal"`` or ``"emulator"`` (set by :func:`seedance_nb.connect`).
    """

    async def submit(
        self,
        input: VideoInput | Mapping[str, Any],  # noqa: A002 (fal's own name)
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        webhook_url: str | None = None,
        priority: str | None = None,
        start_timeout: float | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
        disable_fallbacks: bool = False,
        lifecycle: Mapping[str, Any] | None = None,
        store_io: bool | None = None,
        no_retry: bool = False,
    ) -> RequestHandle:
        """Validate ``input`` locally (nothing is sent if it is invalid), queue it, return its handle.

        fal's data and routing controls, as named options: ``disable_fallbacks`` (``x-fal-disable-fallbacks``:
        fal must not reroute the request to "an equivalent endpoint"; sweeps turn it on so takes stay
        comparable), ``lifecycle`` (``X-Fal-Object-Lifecycle-Preference``, e.g.
        ``{"expiration_duration_seconds": 86400}``), ``store_io`` (``X-Fal-Store-IO``: False asks fal not to
        keep the payloads) and ``no_retry`` (``X-Fal-No-Retry``: fal must not retry the request itself).

        Args:
            input: a :class:`~seedance_nb.schema.VideoInput` or fal's JSON payload.
            endpoint: the fal endpoint id.
            webhook_url: fal POSTs the result there when the request finishes (``fal_webhook``).
            priority: ``"normal"`` or ``"low"`` (``X-Fal-Queue-Priority``).
            start_timeout: seconds fal may wait to start it before giving up (``X-Fal-Request-Timeout``), > 1.
            hint: a routing hint for fal's runners (``X-Fal-Runner-Hint``).
            headers: more headers to send.
            disable_fallbacks: ``x-fal-disable-fallbacks``.
            lifecycle: ``X-Fal-Object-Lifecycle-Preference``.
            store_io: ``X-Fal-Store-IO``.
            no_retry: ``X-Fal-No-Retry``.

        Returns:
            The handle of the queued request (its id and URLs as fal returned them).

        Raises:
            InputError: ``input`` is invalid (nothing was sent).
            AmbiguousSubmit: the POST may have been queued but no answer came back (a dropped connection,
                a 5xx): never sent twice here.
        """
        payload = _payload(input, endpoint)
        extra = _submit_headers(
            headers, priority, start_timeout, hint, disable_fallbacks, lifecycle, store_io, no_retry
        )
        ep = EndpointId.parse(endpoint)
        params = {"fal_webhook": webhook_url} if webhook_url else None
        response = await self.request(
            "POST", ep.submit_url(self.queue_url), json=payload, headers=extra, params=params, is_submit=True
        )
        data, request_id = self._submitted(response)
        logger.info("submitted %s to %s", request_id, endpoint)
        return self._handle(
            request_id, endpoint, data.get("status_url"), data.get("response_url"), data.get("cancel_url")
        )

    def _submitted(self, response: Any) -> tuple[dict[str, Any], str]:
        """The submit answer's JSON and its ``request_id``; without a usable one the submit is ambiguous."""
        try:
            data = response.json()
            request_id = data["request_id"]
            if not isinstance(request_id, str) or not request_id or len(request_id) > 200:
                raise TypeError(f"bad request_id {str(request_id)[:80]!r}")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise AmbiguousSubmit(
                f"submit answered {response.status_code} without a usable request_id "
                f"({redact(response.text[:200], self.api_key())!r}); it may have been queued",
                status_code=response.status_code,
            ) from exc
        return data, request_id

    def _named_url(self, named: Any, built: str) -> str:
        """A URL the server named for this request, when it is on fal's API hosts (else the queue's own)."""
        if isinstance(named, str) and named.startswith(("http://", "https://")) and self.is_api_url(named):
            return named
        if named:
            logger.warning(
                "the server named a request URL on %s, which is not one of fal's API hosts; using %s instead "
                "(the key is never sent to another host)",
                _origin_text(str(named)),
                _origin_text(built),
            )
        return built

    def handle(
        self,
        request_id: str,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        status_url: str | None = None,
        response_url: str | None = None,
        cancel_url: str | None = None,
    ) -> RequestHandle:
        """Re-attach to a request submitted earlier (by another process, before a crash).

        Pass the URLs submit returned when you have them (fal: "do not build these URLs yourself"); they are
        built from the endpoint id only when missing.

        Args:
            request_id: fal's request id.
            endpoint: the endpoint it was submitted to.
            status_url: the ``status_url`` submit returned.
            response_url: the ``response_url`` submit returned.
            cancel_url: the ``cancel_url`` submit returned.
        """
        return self._handle(request_id, endpoint, status_url, response_url, cancel_url)

    def _handle(
        self, request_id: str, endpoint: str, status_url: Any, response_url: Any, cancel_url: Any
    ) -> RequestHandle:
        """The handle of ``request_id``: the URLs the server named when on fal's API hosts, else built."""
        ep = EndpointId.parse(endpoint)
        return RequestHandle(
            self,
            request_id,
            endpoint,
            status_url=self._named_url(status_url, ep.status_url(self.queue_url, request_id)),
            response_url=self._named_url(response_url, ep.request_url(self.queue_url, request_id)),
            cancel_url=self._named_url(cancel_url, ep.cancel_url(self.queue_url, request_id)),
        )

    async def request_history(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        start: datetime | float | None = None,
        end: datetime | float | None = None,
        status: str | None = None,
        request_id: str | None = None,
        payloads: bool = True,
        max_items: int = 5000,
    ) -> list[dict[str, Any]]:
        """This account's requests for ``endpoint`` from fal's request history, newest first.

        ``GET https://api.fal.ai/v1/models/requests/by-endpoint`` (paged by ``cursor``). ``start`` defaults
        to 24 hours ago (fal's default); ``end`` is exclusive. With ``payloads`` every item carries
        ``json_input`` and ``json_output``. At most ``max_items`` items are read.

        Args:
            endpoint: the fal endpoint id.
            start: the earliest time (a datetime or a Unix time; default: 24 hours ago).
            end: the latest time, exclusive.
            status: only requests in this state (fal's words, e.g. ``"success"``, ``"error"``).
            request_id: only this request.
            payloads: include each request's input and output.
            max_items: read at most this many items.
        """
        params: dict[str, Any] = {"endpoint_id": endpoint, "limit": 25 if payloads else 100}
        if start is not None:
            params["start"] = _iso_time(start)
        if end is not None:
            params["end"] = _iso_time(end)
        if status is not None:
            params["status"] = status
        if request_id is not None:
            params["request_id"] = request_id
        if payloads:
            params["expand"] = "payloads"
        items: list[Mapping[str, Any]] = []
        url = f"{self.api_url}/v1/models/requests/by-endpoint"
        for _page in range(max(1, max_items // params["limit"] + 1)):
            response = await self.request("GET", url, params=params, max_bytes=256 << 20)
            body = await _bounded_json(response, 256 << 20, "request history")
            if not isinstance(body, Mapping) or not isinstance(body.get("items"), list):
                raise ProtocolError(f"request history answered without an items list: {str(body)[:200]!r}")
            items.extend(item for item in body["items"] if isinstance(item, Mapping))
            cursor = body.get("next_cursor")
            if not body.get("has_more") or not cursor or len(items) >= max_items:
                break
            params["cursor"] = cursor
        return [dict(item) for item in items[:max_items]]

    async def subscribe(
        self,
        input: VideoInput | Mapping[str, Any],  # noqa: A002
        *,
        on_enqueue: Callable[[str], Any] | None = None,
        on_update: Callable[[Status], Any] | None = None,
        timeout: float | None = None,
        **submit_kwargs: Any,
    ) -> VideoOutput:
        """Submit, report progress, and return the output.

        Args:
            input: a :class:`~seedance_nb.schema.VideoInput` or fal's JSON payload.
            on_enqueue: ``on_enqueue(request_id)``, called (or awaited) before any wait.
            timeout: seconds to wait; then the request is cancelled on fal too (:meth:`RequestHandle.wait`).
            on_update: called (or awaited) with every status change.
            **submit_kwargs: :meth:`submit`'s options.
        """
        handle = await self.submit(input, **submit_kwargs)
        if on_enqueue is not None:
            await _call(on_enqueue, handle.request_id)
        return await handle.wait(timeout=timeout, on_update=on_update)

    # ------------------------------------------------------------------ storage


def _iso_time(value: datetime | float) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        moment = datetime.fromtimestamp(float(value), tz=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _submit_headers(
    headers: Mapping[str, str] | None,
    priority: str | None,
    start_timeout: float | None,
    hint: str | None,
    disable_fallbacks: bool,
    lifecycle: Mapping[str, Any] | None,
    store_io: bool | None,
    no_retry: bool,
) -> dict[str, str]:
    """The headers of a submit: fal's queue, routing and data controls (see :meth:`AsyncClient.submit`)."""
    if priority is not None and priority not in ("normal", "low"):
        raise ValueError(f"priority must be 'normal' or 'low', got {priority!r}")
    if start_timeout is not None and start_timeout <= 1:
        raise ValueError(f"start_timeout must be more than 1 second, got {start_timeout!r}")
    extra: dict[str, str] = dict(headers or {})
    if priority:
        extra["X-Fal-Queue-Priority"] = priority
    if start_timeout is not None:
        extra["X-Fal-Request-Timeout"] = str(float(start_timeout))
    if hint:
        extra["X-Fal-Runner-Hint"] = hint
    if disable_fallbacks:
        extra["x-fal-disable-fallbacks"] = "true"
    if lifecycle is not None:
        extra["X-Fal-Object-Lifecycle-Preference"] = json.dumps(dict(lifecycle))
    if store_io is not None:
        extra["X-Fal-Store-IO"] = "1" if store_io else "0"
    if no_retry:
        extra["X-Fal-No-Retry"] = "1"
    return extra


def _payload(input: VideoInput | Mapping[str, Any], endpoint: str) -> dict[str, Any]:  # noqa: A002
    if isinstance(input, VideoInput):
        return input.to_payload()
    if not isinstance(input, Mapping):
        raise TypeError(f"input must be a VideoInput or a mapping, got {type(input).__name__}")
    if endpoint == DEFAULT_ENDPOINT:
        return VideoInput.from_payload(input).to_payload()
    if endpoint in SNAPSHOT_ENDPOINTS or find(endpoint) is not None:
        return validate_payload(input, endpoint)  # every registered endpoint, by its own schema snapshot
    return dict(input)


set_public_module(__name__)
