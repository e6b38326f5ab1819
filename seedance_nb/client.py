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
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import os
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import httpx

from .errors import (
    APIError,
    AuthenticationError,
    ModerationError,
    NotFoundError,
    Problem,
    ProtocolError,
    RateLimitError,
    RejectedInput,
    RequestCancelled,
    RequestFailed,
    ServerError,
    StartTimeout,
    WaitTimeout,
    redact,
)
from .retry import RetryPolicy, backoff_seconds, retry_after_seconds, should_retry
from .schema import DEFAULT_ENDPOINT, EndpointId, VideoInput, VideoOutput

__all__ = [
    "FAL_CDN_URL",
    "FAL_QUEUE_URL",
    "FAL_REST_URL",
    "AsyncClient",
    "Completed",
    "InProgress",
    "LogEntry",
    "Queued",
    "RequestHandle",
    "Status",
    "parse_status",
    "resolve_key",
]

logger = logging.getLogger("seedance_nb.client")

FAL_QUEUE_URL = "https://queue.fal.run"
FAL_REST_URL = "https://rest.fal.ai"
FAL_CDN_URL = "https://v3.fal.media"
USER_AGENT = "seedance-nb/0.1 (python)"


# --------------------------------------------------------------------------- status events


@dataclass(frozen=True)
class LogEntry:
    message: str
    level: str = "INFO"
    timestamp: str = ""

    @classmethod
    def from_json(cls, data: Any) -> LogEntry:
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
        metrics = data.get("metrics") if isinstance(data.get("metrics"), Mapping) else {}
        return Completed(logs, dict(metrics), data.get("error"), data.get("error_type"))
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


# --------------------------------------------------------------------------- key


def resolve_key(key: str | None = None) -> str | None:
    """The API key: the argument, else ``FAL_KEY``, else ``FAL_KEY_ID`` + ``FAL_KEY_SECRET``."""
    if key:
        return key
    if os.environ.get("FAL_KEY"):
        return os.environ["FAL_KEY"]
    key_id, secret = os.environ.get("FAL_KEY_ID"), os.environ.get("FAL_KEY_SECRET")
    if key_id and secret:
        return f"{key_id}:{secret}"
    return None


# --------------------------------------------------------------------------- errors


def _detail(response: httpx.Response) -> tuple[Any, str | None]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:500], response.headers.get("x-fal-error-type")
    if isinstance(body, Mapping):
        return body.get("detail", body), body.get("error_type") or response.headers.get("x-fal-error-type")
    return body, response.headers.get("x-fal-error-type")


def _api_error(response: httpx.Response, request_id: str | None, key: str | None) -> APIError:
    detail, error_type = _detail(response)
    code = response.status_code
    text = redact(detail if isinstance(detail, str) else json.dumps(detail)[:500], key)
    where = f" for request {request_id}" if request_id else ""
    kwargs = dict(
        status_code=code,
        detail=detail,
        error_type=error_type,
        request_id=request_id,
        url=redact(str(response.request.url), key),
    )
    if code in (401, 403):
        return AuthenticationError(
            f"fal refused the API key ({code}: {text}). Set FAL_KEY to the 'key_id:key_secret' "
            "shown at fal.ai/dashboard/keys (or check the account's balance).",
            **kwargs,
        )
    if code == 404:
        return NotFoundError(f"not found{where} ({text}); results expire after about an hour", **kwargs)
    if code == 429:
        return RateLimitError(f"fal is rate limiting{where} (429: {text}); try fewer concurrent jobs", **kwargs)
    if code >= 500:
        return ServerError(f"fal answered {code}{where}: {text}", **kwargs)
    return APIError(f"fal answered {code}{where}: {text}", **kwargs)


def _failure(response: httpx.Response, request_id: str) -> RequestFailed | RequestCancelled:
    """The error a failed request's result endpoint describes."""
    detail, error_type = _detail(response)
    code = response.status_code
    retryable_header = response.headers.get("x-fal-retryable")
    retryable = None if retryable_header is None else retryable_header.lower() == "true"
    kwargs = dict(request_id=request_id, status_code=code, detail=detail, error_type=error_type, retryable=retryable)
    if error_type == "client_cancelled" or code == 499:
        return RequestCancelled(f"request {request_id} was cancelled", request_id=request_id)
    if error_type == "request_timeout" and code == 504:
        return StartTimeout(f"request {request_id} did not start before its start_timeout", **kwargs)
    if code == 422:
        items = detail if isinstance(detail, list) else [{"loc": ["input"], "msg": str(detail)}]
        problems = [Problem.from_fal_detail(item) for item in items]
        types = {p.type for p in problems}
        kwargs["error_type"] = error_type or (problems[0].type if problems else None)
        text = "; ".join(str(p) for p in problems)
        if "content_policy_violation" in types:
            kwargs["error_type"] = "content_policy_violation"
            return ModerationError(f"request {request_id} was refused by content moderation: {text}", **kwargs)
        return RejectedInput(f"request {request_id}: fal rejected the input: {text}", problems=problems, **kwargs)
    text = detail if isinstance(detail, str) else json.dumps(detail)[:300]
    return RequestFailed(
        f"request {request_id} failed ({code} {error_type or ''}): {text}".replace("  ", " "), **kwargs
    )


# --------------------------------------------------------------------------- client


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), built once per process:
    loading the CA bundle costs ~50 ms of CPU, which every new client would otherwise pay again."""
    return httpx.create_ssl_context()


class AsyncClient:
    """fal's queue over one ``httpx.AsyncClient`` per event loop. Use as an async context manager.

    ``backend`` is ``"fal"`` or ``"emulator"`` (set by :func:`seedance_nb.connect`).
    """

    def __init__(
        self,
        key: str | None = None,
        *,
        queue_url: str | None = None,
        rest_url: str | None = None,
        cdn_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        poll_interval: float = 0.5,
        max_poll_interval: float = 5.0,
        backend: str | None = None,
        emulator: Any = None,
    ) -> None:
        self._explicit_key = key
        self.queue_url = (queue_url or os.environ.get("SEEDANCE_QUEUE_URL") or FAL_QUEUE_URL).rstrip("/")
        self.rest_url = (rest_url or os.environ.get("SEEDANCE_REST_URL") or FAL_REST_URL).rstrip("/")
        self.cdn_url = (cdn_url or os.environ.get("SEEDANCE_CDN_URL") or FAL_CDN_URL).rstrip("/")
        self.transport = transport
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.backend = backend or ("fal" if self.queue_url == FAL_QUEUE_URL else "emulator")
        self.emulator = emulator
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._cdn_token: tuple[str, str] | None = None

    def __repr__(self) -> str:
        key = "set" if self._key() else "none"
        return f"<AsyncClient backend={self.backend} queue_url={self.queue_url!r} key={key}>"

    def _key(self) -> str | None:
        return resolve_key(self._explicit_key)

    @property
    def http(self) -> httpx.AsyncClient:
        """The httpx client of the running loop (one per loop, created lazily)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            for other in [lp for lp in self._clients if lp.is_closed()]:
                self._clients.pop(other, None)
            headers = {"User-Agent": USER_AGENT}
            key = self._key()
            if key:
                headers["Authorization"] = f"Key {key}"
            client = httpx.AsyncClient(
                verify=_ssl_context(),
                headers=headers,
                timeout=httpx.Timeout(self.timeout, connect=min(30.0, self.timeout)),
                transport=self.transport,
                follow_redirects=True,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the httpx client of the running loop."""
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ transport with retries

    async def request(
        self,
        method: str,
        url: str,
        *,
        request_id: str | None = None,
        is_submit: bool = False,
        after_completed: bool = False,
        ok: tuple[int, ...] = (200, 201, 202, 204),
        raise_for_status: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request, retrying only what :func:`seedance_nb.retry.should_retry` allows."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if attempt < self.retry.max_attempts and should_retry(method, error=exc, is_submit=is_submit):
                    delay = backoff_seconds(attempt, self.retry)
                    logger.debug("%s %s: %s; retry %d in %.2fs", method, _path(url), type(exc).__name__, attempt, delay)
                    await asyncio.sleep(delay)
                    continue
                what = f" request {request_id}" if request_id else ""
                hint = (
                    " The submit may or may not have reached fal, so it was not repeated (that could pay twice)."
                    if is_submit and not isinstance(exc, httpx.ConnectError)
                    else ""
                )
                raise APIError(
                    f"network error on {method} {_path(url)}{what}: {type(exc).__name__}: "
                    f"{redact(str(exc), self._key())}.{hint}",
                    request_id=request_id,
                    url=url,
                ) from exc
            if response.status_code in ok:
                return response
            if attempt < self.retry.max_attempts and should_retry(
                method, response=response, is_submit=is_submit, after_completed=after_completed
            ):
                delay = backoff_seconds(attempt, self.retry, retry_after_seconds(response.headers))
                logger.debug(
                    "%s %s answered %d; retry %d in %.2fs", method, _path(url), response.status_code, attempt, delay
                )
                await asyncio.sleep(delay)
                continue
            if not raise_for_status:
                return response
            raise _api_error(response, request_id, self._key())

    # ------------------------------------------------------------------ queue

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
    ) -> RequestHandle:
        """Validate ``input`` locally (nothing is sent if it is invalid), queue it, return its handle."""
        payload = _payload(input, endpoint)
        if priority is not None and priority not in ("normal", "low"):
            raise ValueError(f"priority must be 'normal' or 'low', got {priority!r}")
        if start_timeout is not None and start_timeout <= 1:
            raise ValueError(f"start_timeout must be more than 1 second, got {start_timeout!r}")
        ep = EndpointId.parse(endpoint)
        extra: dict[str, str] = dict(headers or {})
        if priority:
            extra["X-Fal-Queue-Priority"] = priority
        if start_timeout is not None:
            extra["X-Fal-Request-Timeout"] = str(float(start_timeout))
        if hint:
            extra["X-Fal-Runner-Hint"] = hint
        params = {"fal_webhook": webhook_url} if webhook_url else None
        response = await self.request(
            "POST", ep.submit_url(self.queue_url), json=payload, headers=extra, params=params, is_submit=True
        )
        try:
            data = response.json()
            request_id = data["request_id"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ProtocolError(f"submit answered without a request_id: {response.text[:200]!r}") from exc
        logger.info("submitted %s to %s", request_id, endpoint)
        return RequestHandle(
            self,
            request_id,
            endpoint,
            status_url=data.get("status_url") or ep.status_url(self.queue_url, request_id),
            response_url=data.get("response_url") or ep.request_url(self.queue_url, request_id),
            cancel_url=data.get("cancel_url") or ep.cancel_url(self.queue_url, request_id),
        )

    def handle(self, request_id: str, *, endpoint: str = DEFAULT_ENDPOINT) -> RequestHandle:
        """Re-attach to a request submitted earlier (by another process, before a crash)."""
        ep = EndpointId.parse(endpoint)
        return RequestHandle(
            self,
            request_id,
            endpoint,
            status_url=ep.status_url(self.queue_url, request_id),
            response_url=ep.request_url(self.queue_url, request_id),
            cancel_url=ep.cancel_url(self.queue_url, request_id),
        )

    async def subscribe(
        self,
        input: VideoInput | Mapping[str, Any],  # noqa: A002
        *,
        on_enqueue: Callable[[str], Any] | None = None,
        on_update: Callable[[Status], Any] | None = None,
        timeout: float | None = None,
        **submit_kwargs: Any,
    ) -> VideoOutput:
        """Submit, report progress, and return the output. ``on_enqueue(request_id)`` runs before any wait."""
        handle = await self.submit(input, **submit_kwargs)
        if on_enqueue is not None:
            await _call(on_enqueue, handle.request_id)
        return await handle.wait(timeout=timeout, on_update=on_update)

    # ------------------------------------------------------------------ storage

    async def upload(self, data: bytes, content_type: str, file_name: str | None = None) -> str:
        """Store bytes on fal's CDN (token, then one POST) and return their URL."""
        if self._cdn_token is None:
            response = await self.request(
                "POST", f"{self.rest_url}/storage/auth/token", params={"storage_type": "fal-cdn-v3"}, json={}
            )
            token = response.json()
            self._cdn_token = (f"{token['token_type']} {token['token']}", token.get("base_url") or self.cdn_url)
        auth, _base = self._cdn_token
        headers = {"Content-Type": content_type, "Authorization": auth}
        if file_name:
            headers["X-Fal-File-Name"] = file_name
        response = await self.request("POST", f"{self.cdn_url}/files/upload", content=data, headers=headers)
        try:
            return response.json()["access_url"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ProtocolError(f"upload answered without an access_url: {response.text[:200]!r}") from exc

    async def download(self, url: str, dest: str | Path, *, expected_size: int | None = None) -> Path:
        """Stream a file to ``dest`` atomically (see :func:`seedance_nb.media.download`)."""
        from .media import download

        return await download(self.http, url, dest, expected_size=expected_size)


def _path(url: str) -> str:
    return httpx.URL(url).path


def _payload(input: VideoInput | Mapping[str, Any], endpoint: str) -> dict[str, Any]:  # noqa: A002
    if isinstance(input, VideoInput):
        return input.to_payload()
    if not isinstance(input, Mapping):
        raise TypeError(f"input must be a VideoInput or a mapping, got {type(input).__name__}")
    if endpoint == DEFAULT_ENDPOINT:
        return VideoInput.from_payload(input).to_payload()
    return dict(input)


async def _call(callback: Callable[..., Any], *args: Any) -> None:
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


# --------------------------------------------------------------------------- handle


@dataclass(frozen=True)
class RequestHandle:
    """One submitted request: its id and the URLs the server returned."""

    client: AsyncClient = field(repr=False)
    request_id: str
    endpoint: str = DEFAULT_ENDPOINT
    status_url: str = ""
    response_url: str = ""
    cancel_url: str = ""

    async def status(self, logs: bool = False) -> Status:
        response = await self.client.request(
            "GET", self.status_url, params={"logs": "1" if logs else "0"}, request_id=self.request_id
        )
        try:
            return parse_status(response.json())
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"status of {self.request_id} was not JSON: {response.text[:200]!r}") from exc

    async def events(self, logs: bool = True) -> AsyncIterator[Status]:
        """Every status change until COMPLETED: the SSE stream, or polling when it is unavailable."""
        seen = _Logs()
        last: Status | None = None
        try:
            async with contextlib.aclosing(self._stream(logs, seen)) as stream:
                async for event in stream:
                    last = event
                    yield event
                    if isinstance(event, Completed):
                        return
        except (httpx.HTTPError, APIError, ProtocolError) as exc:
            logger.debug("status stream of %s unavailable (%s); polling", self.request_id, type(exc).__name__)
        interval = self.client.poll_interval
        while True:
            response = await self.client.request(
                "GET", self.status_url, params={"logs": "1" if logs else "0"}, request_id=self.request_id
            )
            try:
                data = response.json()
            except json.JSONDecodeError as exc:
                raise ProtocolError(f"status of {self.request_id} was not JSON: {response.text[:200]!r}") from exc
            event = parse_status(data, seen.add(data.get("logs")) if isinstance(data, Mapping) else ())
            if event != last:
                last = event
                yield event
            if isinstance(event, Completed):
                return
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))
            interval = min(interval * 1.5, self.client.max_poll_interval)

    async def _stream(self, logs: bool, seen: _Logs) -> AsyncIterator[Status]:
        url = self.status_url.rstrip("/") + "/stream"
        async with self.client.http.stream(
            "GET",
            url,
            params={"logs": "1" if logs else "0"},
            headers={"Accept": "text/event-stream"},
            timeout=httpx.Timeout(self.client.timeout, read=60.0),
        ) as response:
            if response.status_code != 200:
                await response.aread()
                raise _api_error(response, self.request_id, self.client._key())
            data_lines: list[str] = []
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    data_lines.append(line[5:].lstrip())
                elif line == "" and data_lines:
                    try:
                        data = json.loads("\n".join(data_lines))
                    except json.JSONDecodeError as exc:
                        raise ProtocolError(f"bad event on the status stream of {self.request_id}") from exc
                    data_lines = []
                    yield parse_status(data, seen.add(data.get("logs")) if isinstance(data, Mapping) else ())
        raise ProtocolError(f"status stream of {self.request_id} closed before COMPLETED")

    async def result(self) -> VideoOutput:
        """The output, or the error the result endpoint gives (a ``RequestFailed`` subclass)."""
        response = await self.client.request(
            "GET", self.response_url, request_id=self.request_id, after_completed=True, raise_for_status=False
        )
        if response.status_code == 200:
            try:
                return VideoOutput.from_json(response.json())
            except json.JSONDecodeError as exc:
                raise ProtocolError(f"result of {self.request_id} was not JSON: {response.text[:200]!r}") from exc
        if response.status_code == 400 and "progress" in response.text.lower():
            raise APIError(
                f"request {self.request_id} has not finished yet", status_code=400, request_id=self.request_id
            )
        if response.status_code in (401, 403, 404, 429):
            raise _api_error(response, self.request_id, self.client._key())
        raise _failure(response, self.request_id)

    async def cancel(self) -> bool:
        """Ask fal to cancel; True when accepted, False when it had already completed."""
        response = await self.client.request("PUT", self.cancel_url, request_id=self.request_id, raise_for_status=False)
        if response.status_code in (200, 202):
            return True
        if response.status_code == 400:
            return False
        raise _api_error(response, self.request_id, self.client._key())

    async def wait(self, timeout: float | None = None, on_update: Callable[[Status], Any] | None = None) -> VideoOutput:
        """Follow the request to the end and return its output.

        On a local ``timeout``, a KeyboardInterrupt or task cancellation, the
        remote request is cancelled too, so it stops costing money.
        """

        async def follow() -> VideoOutput:
            async for event in self.events():
                if on_update is not None:
                    await _call(on_update, event)
            return await self.result()

        try:
            if timeout is None:
                return await follow()
            return await asyncio.wait_for(follow(), timeout)
        except asyncio.TimeoutError as exc:
            await self._cancel_quietly()
            raise WaitTimeout(
                f"request {self.request_id} did not finish within {timeout} s; it was cancelled on the server",
                request_id=self.request_id,
                timeout=timeout,
            ) from exc
        except (asyncio.CancelledError, KeyboardInterrupt):
            await asyncio.shield(self._cancel_quietly())
            raise

    async def _cancel_quietly(self) -> None:
        try:
            await self.cancel()
        except Exception as exc:  # best effort: the original error matters more
            logger.warning("could not cancel %s: %s", self.request_id, redact(str(exc), self.client._key()))


Callback = Callable[[Status], Union[Any, Awaitable[Any]]]  # noqa: UP007
