"""One submitted request: its status events (stream or polling), its result, its cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import math
import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..errors import (
    APIError,
    ModerationError,
    Problem,
    ProtocolError,
    RejectedInput,
    RequestCancelled,
    RequestFailed,
    StartTimeout,
    WaitTimeout,
    redact,
)
from ..keys import scrub
from ..schema import DEFAULT_ENDPOINT, VideoOutput
from ._network import LONG_LIVED
from ._status import Completed, ResultDetails, Status, _Logs, parse_status
from ._transport import Transport, _api_error, _detail, _origin_text, _redact_json, logger


@dataclass(frozen=True)
class RequestHandle:
    """One submitted request: its id and the URLs the server returned (journal them; resume uses them).

    Made by :meth:`AsyncClient.submit` or :meth:`AsyncClient.handle`.

    Args:
        client: the client that follows it.
        request_id: fal's request id.
        endpoint: the endpoint it was submitted to.
        status_url: the ``status_url`` submit returned.
        response_url: the ``response_url`` submit returned.
        cancel_url: the ``cancel_url`` submit returned.
    """

    client: Transport = field(repr=False)
    request_id: str
    endpoint: str = DEFAULT_ENDPOINT
    status_url: str = ""
    response_url: str = ""
    cancel_url: str = ""

    def urls(self) -> dict[str, str]:
        """The request's URLs, as submit returned them (what the journal keeps)."""
        return {"status_url": self.status_url, "response_url": self.response_url, "cancel_url": self.cancel_url}

    async def status(self, logs: bool = False) -> Status:
        """The request's status now (one poll).

        Args:
            logs: include the log entries so far.
        """
        return parse_status(await self._status_json(logs))

    async def _status_json(self, logs: bool) -> Any:
        """One read of the status URL, as JSON (a reply that is not JSON is a :class:`ProtocolError`)."""
        response = await self.client.request(
            "GET",
            self.status_url,
            params={"logs": "1" if logs else "0"},
            request_id=self.request_id,
            status_read=True,
        )
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"status of {self.request_id} was not JSON: {response.text[:200]!r}") from exc

    async def events(self, logs: bool = True) -> AsyncGenerator[Status, None]:
        """Every status change until COMPLETED: the SSE stream, or polling when it is unavailable or stalls.

        Args:
            logs: include log entries (each entry is reported once).
        """
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
            data = await self._status_json(logs)
            event = parse_status(data, seen.add(data.get("logs")) if isinstance(data, Mapping) else ())
            if event != last:
                last = event
                yield event
            if isinstance(event, Completed):
                return
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))
            interval = min(interval * 1.5, self.client.max_poll_interval)

    async def _stream(self, logs: bool, seen: _Logs) -> AsyncGenerator[Status, None]:
        client = self.client
        url = self.status_url.rstrip("/") + "/stream"
        headers = {"Accept": "text/event-stream", **client.auth_headers(url)}
        limit = client.limits.max_event_bytes
        async with client.http.stream(
            "GET",
            url,
            params={"logs": "1" if logs else "0"},
            headers=headers,
            # A stream that sends nothing, not even a keep-alive, for this long has stalled: poll instead.
            timeout=httpx.Timeout(client.timeout, read=client.limits.stall_seconds),
            extensions={LONG_LIVED: True},  # its own pool: open for the whole generation (_network.SplitTransport)
        ) as response:
            if response.status_code != 200:
                await response.aread()
                raise _api_error(response, self.request_id, client.api_key())
            data_lines: list[str] = []
            async for line in _bounded_lines(response, limit, self.request_id):
                if line.startswith("data:"):
                    data_lines.append(line[5:].lstrip())
                    if sum(len(part) for part in data_lines) > limit:
                        raise ProtocolError(f"an event on the status stream of {self.request_id} is over {limit} bytes")
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
        return (await self.result_details()).output

    async def result_details(self) -> ResultDetails:
        """:meth:`result` with what fal said about its cost: ``x-fal-billable-units``."""
        key = self.client.api_key()
        response = await self.client.request(
            "GET", self.response_url, request_id=self.request_id, after_completed=True, raise_for_status=False
        )
        if response.status_code == 200:
            try:
                # Server text: a key echoed in it (a file_name, a field) never reaches the journal or the cache.
                output = VideoOutput.from_json(scrub(response.json()))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ProtocolError(
                    f"result of {self.request_id} was not JSON: {redact(response.text[:200], key)!r}"
                ) from exc
            return ResultDetails(output, _billable_units(response.headers))
        if response.status_code == 400 and "progress" in response.text.lower():
            raise APIError(
                f"request {self.request_id} has not finished yet", status_code=400, request_id=self.request_id
            )
        if response.status_code in (401, 403, 404, 429):
            raise _api_error(response, self.request_id, key)
        if _is_verdict(response):
            raise _failure(response, self.request_id, key)
        # Not fal's word on the request (a redirect, an empty 5xx, a body that is not fal's error): the request
        # was accepted and may be paid for, so this is never a failure that a retry would pay for again.
        if response.status_code >= 400:
            raise _api_error(response, self.request_id, key)
        where = response.headers.get("location")
        to = f" to {_origin_text(where)}" if where else ""
        raise ProtocolError(
            f"the result of request {self.request_id} answered {response.status_code}{to}, which is not a result "
            "fal sends (not followed)"
        )

    async def cancel(self) -> bool:
        """Ask fal to cancel. True when fal will cancel it (``OK`` / ``CANCELLATION_REQUESTED``), False when
        it had already completed (or is unknown to fal: ``NOT_FOUND``). Reads the body's ``status`` first, as
        fal's current reference answers; the HTTP code decides only when there is no body status."""
        response = await self.client.request("PUT", self.cancel_url, request_id=self.request_id, raise_for_status=False)
        status = cancel_status(response)
        if status in ("OK", "CANCELLATION_REQUESTED"):
            return True
        if status in ("ALREADY_COMPLETED", "NOT_FOUND"):
            return False
        raise _api_error(response, self.request_id, self.client.api_key())

    async def wait(self, timeout: float | None = None, on_update: Callable[[Status], Any] | None = None) -> VideoOutput:
        """Follow the request to the end and return its output.

        On a local ``timeout``, a KeyboardInterrupt or task cancellation, the
        remote request is cancelled too, so it stops costing money.

        Args:
            timeout: seconds to wait (None: as long as it takes).
            on_update: called (or awaited) with every status change.

        Raises:
            WaitTimeout: ``timeout`` passed (the request was cancelled on fal).
            RequestFailed: the request failed on fal.
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
            logger.warning("could not cancel %s: %s", self.request_id, redact(str(exc), self.client.api_key()))


def _billable_units(headers: httpx.Headers) -> float | None:
    value = headers.get("x-fal-billable-units")
    try:
        units = float(value) if value is not None else None
    except ValueError:
        return None
    return units if units is not None and math.isfinite(units) and units >= 0 else None


def cancel_status(response: httpx.Response) -> str | None:
    """fal's cancel outcome: the body's ``status`` when there is one, else read from the legacy HTTP code
    (202 accepted, 400 already completed, 404 not found). None when neither says."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, Mapping) and isinstance(body.get("status"), str):
        status = str(body["status"]).upper()
        if status in ("OK", "CANCELLATION_REQUESTED", "ALREADY_COMPLETED", "NOT_FOUND"):
            return status
    return {200: "OK", 202: "CANCELLATION_REQUESTED", 400: "ALREADY_COMPLETED", 404: "NOT_FOUND"}.get(
        response.status_code
    )


def _is_verdict(response: httpx.Response) -> bool:
    """Whether a result answer other than 200 is fal's own word that the request failed (not billed): a 422
    (validation, content policy), a 499 (cancelled), or a 4xx/5xx carrying fal's error body. Anything else
    (a redirect, a bare 5xx, an HTML page) says nothing about the request, which may be paid for."""
    code = response.status_code
    return code in (422, 499) or (400 <= code <= 599 and _is_failure(response))


def _is_failure(response: httpx.Response) -> bool:
    """An error answer from the result endpoint that describes the request's own failure (JSON with a detail)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(body, Mapping) and ("detail" in body or "error_type" in body)


async def _bounded_lines(response: httpx.Response, limit: int, request_id: str) -> AsyncIterator[str]:
    """The lines of a text stream, refusing any line longer than ``limit`` bytes (never buffering more)."""
    buffer = b""
    async for chunk in response.aiter_bytes():
        buffer += chunk
        while True:
            cut = buffer.find(b"\n")
            if cut < 0:
                break
            line, buffer = buffer[:cut], buffer[cut + 1 :]
            yield line.rstrip(b"\r").decode("utf-8", errors="replace")
        if len(buffer) > limit:
            raise ProtocolError(f"a line of the status stream of {request_id} is over the {limit}-byte limit")
    if buffer:
        yield buffer.rstrip(b"\r").decode("utf-8", errors="replace")


def _failure(response: httpx.Response, request_id: str, key: str | None) -> RequestFailed | RequestCancelled:
    """The error a failed request's result endpoint describes (server text redacted of the key)."""
    detail, error_type = _detail(response)
    detail = _redact_json(detail, key)
    error_type = redact(error_type, key) if error_type else error_type
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


async def _call(callback: Callable[..., Any], *args: Any) -> None:
    result = callback(*args)
    if inspect.isawaitable(result):
        await result
