"""The transport under the client: fal's hosts, the key (sent only to them), bounded reads, retries, and the
errors fal's answers map to (server text redacted of the key)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from ..errors import (
    AmbiguousSubmit,
    APIError,
    AuthenticationError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    ServerError,
    redact,
)
from ..keys import remember, resolve_key
from ..retry import RetryPolicy, backoff_seconds, retry_after_seconds, should_retry
from ._network import TappedTransport, pooled_transport

logger = logging.getLogger("seedance_nb.client")
_T = TypeVar("_T", bound="Transport")

FAL_QUEUE_URL = "https://queue.fal.run"
FAL_REST_URL = "https://rest.fal.ai"
FAL_CDN_URL = "https://v3.fal.media"
FAL_API_URL = "https://api.fal.ai"
#: fal-client 1.0.3 falls back to these when it cannot connect to fal's main hosts (REAL_FAL.md).
BACKUP_HOSTS = {"queue.fal.run": "queue.falrun.com", "fal.run": "falrun.com"}
USER_AGENT = "seedance-nb/0.1 (python)"


@dataclass(frozen=True)
class Limits:
    """How much a server may send, and how long it may stay silent, before a wait is given up.

    - ``max_event_bytes``: one line of the status stream (fal's events are a few KB; 1 MiB is generous);
    - ``max_result_bytes``: a result body (fal's is a few hundred bytes: the video is a URL);
    - ``stall_seconds``: a status stream that sends nothing (not even a keep-alive) for this long is dropped
      for polling; a download that receives less than ``min_download_bytes`` in this long is a stall (the
      job is ``interrupted`` and resumable: the video stays on fal).
    """

    max_event_bytes: int = 1 << 20
    max_result_bytes: int = 8 << 20
    stall_seconds: float = 60.0
    min_download_bytes: int = 64 << 10


class _Secret:
    """Holds the key so that no ``repr``, ``vars()`` or traceback local shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value
        remember(value)  # kept out of everything stored, as FAL_KEY is

    def get(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "<secret>" if self._value else "<none>"

    def __bool__(self) -> bool:
        return bool(self._value)


# --------------------------------------------------------------------------- errors


def _detail(response: httpx.Response) -> tuple[Any, str | None]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:500], response.headers.get("x-fal-error-type")
    if isinstance(body, Mapping):
        return body.get("detail", body), body.get("error_type") or response.headers.get("x-fal-error-type")
    return body, response.headers.get("x-fal-error-type")


def _redact_json(value: Any, key: str | None) -> Any:
    """``value`` (server JSON) with the key removed from every string in it."""
    if isinstance(value, str):
        return redact(value, key)
    if isinstance(value, Mapping):
        return {redact(str(k), key): _redact_json(v, key) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_json(v, key) for v in value]
    return value


def _api_error(response: httpx.Response, request_id: str | None, key: str | None) -> APIError:
    detail, error_type = _detail(response)
    detail = _redact_json(detail, key)
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


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), built once per process:
    loading the CA bundle costs ~50 ms of CPU, which every new client would otherwise pay again."""
    return httpx.create_ssl_context()


class Transport:
    """What every call of :class:`~seedance_nb.client.AsyncClient` goes through: fal's hosts, the key, one
    ``httpx.AsyncClient`` per event loop, and :meth:`request` (bounded reads, retries, backup hosts).

    Its constructor is the client's: the arguments (``key``, the four hosts, ``transport``, ``timeout``,
    ``retry``, ``limits``) are documented once, on :class:`~seedance_nb.client.AsyncClient`.
    """

    def __init__(
        self,
        key: str | None = None,
        *,
        queue_url: str | None = None,
        rest_url: str | None = None,
        cdn_url: str | None = None,
        api_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        limits: Limits | None = None,
        poll_interval: float = 0.5,
        max_poll_interval: float = 5.0,
        backend: str | None = None,
        emulator: Any = None,
    ) -> None:
        self._secret = _Secret(key)
        self.queue_url = (queue_url or os.environ.get("SEEDANCE_QUEUE_URL") or FAL_QUEUE_URL).rstrip("/")
        self.rest_url = (rest_url or os.environ.get("SEEDANCE_REST_URL") or FAL_REST_URL).rstrip("/")
        self.cdn_url = (cdn_url or os.environ.get("SEEDANCE_CDN_URL") or FAL_CDN_URL).rstrip("/")
        self.api_url = (api_url or os.environ.get("SEEDANCE_API_URL") or FAL_API_URL).rstrip("/")
        self.transport = transport
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.limits = limits or Limits()
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.backend = backend or ("fal" if self.queue_url == FAL_QUEUE_URL else "emulator")
        self.emulator = emulator
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._origins: tuple[tuple[str, str, str], frozenset[tuple[str, str, int | None]]] | None = None
        #: (Authorization value, base URL, expires at as a Unix time or None) of the CDN upload token.
        self._cdn_token: tuple[str, str, float | None] | None = None

    def __repr__(self) -> str:
        key = "set" if self.api_key() else "none"
        return f"<{type(self).__name__} backend={self.backend} queue_url={self.queue_url!r} key={key}>"

    def api_key(self) -> str | None:
        """The API key this client sends (resolved now, as :func:`resolve_key` does), or None.

        A secret: it is for building the Authorization header and for redacting server text
        (:func:`redact`), never for printing, logging or storing.
        """
        return resolve_key(self._secret.get())

    @property
    def api_origins(self) -> frozenset[tuple[str, str, int | None]]:
        """The (scheme, host, port) of every host that may receive the key: fal's API hosts as configured."""
        hosts = (self.queue_url, self.rest_url, self.api_url)
        if self._origins is None or self._origins[0] != hosts:  # parsed once per set of hosts, not per request
            urls = [*hosts, *(backup for url in hosts if (backup := _backup_url(url)))]
            self._origins = (hosts, frozenset(_origin(url) for url in urls))
        return self._origins[1]

    def is_api_url(self, url: str) -> bool:
        """Whether ``url`` is on one of fal's API hosts (the only places the key is sent).

        Args:
            url: an absolute http(s) URL.
        """
        return _origin(url) in self.api_origins

    def auth_headers(self, url: str) -> dict[str, str]:
        """The Authorization header for ``url``; refuses (sending nothing) when ``url`` is on a foreign host.

        Args:
            url: where the request goes; it must be on one of :attr:`api_origins`.

        Returns:
            ``{"Authorization": "Key ..."}``, or ``{}`` when no key is set.

        Raises:
            ProtocolError: ``url`` is not on one of fal's API hosts (nothing is sent there).
        """
        if not self.is_api_url(url):
            raise ProtocolError(
                f"refusing to send the API key to {_origin_text(url)}: it is not one of fal's API hosts "
                f"({', '.join(sorted(_origin_text(u) for u in (self.queue_url, self.rest_url, self.api_url)))}). "
                "A server named this URL; nothing was sent to it."
            )
        key = self.api_key()
        return {"Authorization": f"Key {key}"} if key else {}

    @property
    def http(self) -> httpx.AsyncClient:
        """The httpx client of the running loop (one per loop, created lazily). It carries no key."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            for other in [lp for lp in self._clients if lp.is_closed()]:
                self._clients.pop(other, None)
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
            client = httpx.AsyncClient(
                verify=_ssl_context(),
                headers={"User-Agent": USER_AGENT},
                timeout=httpx.Timeout(self.timeout, connect=min(30.0, self.timeout)),
                # A transport given is used as it is; else httpx's, with a pool that checks idle connections
                # cheaply (_network: the client's largest CPU cost per job at high concurrency before).
                # Wrapped so that a wing may watch each exchange (_network.TAPS: the cassette recorder).
                transport=TappedTransport(
                    self.transport
                    or pooled_transport(_ssl_context(), limits)
                    or httpx.AsyncHTTPTransport(verify=_ssl_context(), limits=limits, trust_env=True),
                    self,
                ),
                # Redirects are followed by hand for API calls (a redirect could name another host).
                follow_redirects=False,
                limits=limits,
            )
            if isinstance(getattr(client, "_cookies", None), httpx.Cookies):
                client._cookies = _Cookies()  # noqa: SLF001 (httpx's setter would copy it into a plain jar)
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the httpx client of the running loop."""
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    async def __aenter__(self: _T) -> _T:
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
        auth: bool = True,
        max_bytes: int | None = None,
        status_read: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request, retrying only what :func:`seedance_nb.retry.should_retry` allows.

        With ``auth`` (API calls) the key is attached, and ``url`` must be on one of fal's API hosts.
        A submit whose answer is lost or a 5xx raises :class:`~seedance_nb.errors.AmbiguousSubmit`: it may
        have been queued, so it is never sent again here.

        Args:
            method: the HTTP method.
            url: the absolute URL.
            request_id: the request this is about, named in errors.
            is_submit: a submit (a POST that may queue a paid request): never sent twice.
            after_completed: a read after the status said COMPLETED (a 504 is then retried).
            ok: the status codes that are not errors.
            raise_for_status: raise :class:`~seedance_nb.errors.APIError` on any other code.
            auth: attach the key (``url`` must then be on one of fal's API hosts).
            max_bytes: the largest body read (default: ``limits.max_result_bytes``).
            status_read: a status poll (any 5xx is retried: the state is only being read).
            **kwargs: passed to :meth:`httpx.AsyncClient.request` (``json``, ``params``, ``headers``, ...).

        Returns:
            The response, its body read.
        """
        headers = {**(kwargs.pop("headers", None) or {}), **(self.auth_headers(url) if auth else {})}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._send(method, url, headers, max_bytes or self.limits.max_result_bytes, kwargs)
            except ProtocolError as exc:
                if is_submit:
                    raise AmbiguousSubmit(f"{exc}; the submit may have been queued", url=url) from exc
                raise
            except httpx.TransportError as exc:
                url = await self._after_network_error(exc, method, url, attempt, request_id, is_submit)
                continue
            if response.status_code in ok:
                return response
            retry = attempt < self.retry.max_attempts and should_retry(
                method, response=response, is_submit=is_submit, after_completed=after_completed, status_read=status_read
            )
            if retry:
                await self._pause(method, url, response, attempt)
                continue
            return self._refused(response, url, request_id, is_submit, raise_for_status)

    async def _pause(self, method: str, url: str, response: httpx.Response, attempt: int) -> None:
        """Wait before sending again after ``response`` (backoff, or the server's Retry-After)."""
        delay = backoff_seconds(attempt, self.retry, retry_after_seconds(response.headers))
        logger.debug("%s %s answered %d; retry %d in %.2fs", method, _path(url), response.status_code, attempt, delay)
        await asyncio.sleep(delay)

    async def _after_network_error(
        self,
        exc: httpx.TransportError,
        method: str,
        url: str,
        attempt: int,
        request_id: str | None,
        is_submit: bool,
    ) -> str:
        """The URL to try next after ``exc`` (fal's backup host, or the same after a pause), or the error."""
        backup = _backup_url(url) if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) else None
        if backup is not None:
            # fal's main host cannot be reached: its backup host, as fal-client does (nothing was sent).
            logger.info("cannot connect to %s; trying fal's backup host %s", _origin_text(url), backup)
            return backup
        if attempt < self.retry.max_attempts and should_retry(method, error=exc, is_submit=is_submit):
            delay = backoff_seconds(attempt, self.retry)
            logger.debug("%s %s: %s; retry %d in %.2fs", method, _path(url), type(exc).__name__, attempt, delay)
            await asyncio.sleep(delay)
            return url
        what = f" request {request_id}" if request_id else ""
        text = (
            f"network error on {method} {_path(url)}{what}: {type(exc).__name__}: {redact(str(exc), self.api_key())}."
        )
        if is_submit and not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            raise AmbiguousSubmit(
                text + " The submit may or may not have reached fal, so it was not sent again "
                "(that could pay twice); the sweep settles it through fal's request history.",
                url=url,
            ) from exc
        raise APIError(text, request_id=request_id, url=url) from exc

    def _refused(
        self, response: httpx.Response, url: str, request_id: str | None, is_submit: bool, raise_for_status: bool
    ) -> httpx.Response:
        """An answer not in ``ok`` and not retried: a submit's 5xx is ambiguous, else an error (or returned)."""
        if is_submit and response.status_code >= 500:
            error = _api_error(response, request_id, self.api_key())
            raise AmbiguousSubmit(
                f"the submit was answered {response.status_code}, which does not say whether fal queued it; "
                "it was not sent again (that could pay twice); the sweep settles it through fal's request "
                f"history. ({error})",
                status_code=response.status_code,
                detail=error.detail,
                url=url,
            )
        if not raise_for_status:
            return response
        raise _api_error(response, request_id, self.api_key())

    async def _send(
        self, method: str, url: str, headers: dict[str, str], max_bytes: int, kwargs: dict[str, Any]
    ) -> httpx.Response:
        """One exchange, its body read up to ``max_bytes`` (a larger answer is refused, not buffered)."""
        request = self.http.build_request(method, url, headers=headers, **kwargs)
        response = await self.http.send(request, stream=True)
        try:
            length = response.headers.get("content-length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise ProtocolError(
                    f"{method} {_path(url)} answered {int(length)} bytes, over the {max_bytes}-byte limit"
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise ProtocolError(f"{method} {_path(url)} answered more than the {max_bytes}-byte limit")
        finally:
            await response.aclose()
        headers_out = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
        return httpx.Response(response.status_code, headers=headers_out, content=bytes(body), request=request)

    # ------------------------------------------------------------------ queue


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, looking into an answer only when it sets a cookie (fal's API and CDN set none).

    httpx builds a urllib request and response around every answer to look for cookies: about 4 % of the
    client's CPU per job in a sweep (issue 25). An answer with a ``Set-Cookie`` is handled as httpx does."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


def _backup_url(url: str) -> str | None:
    """``url`` on fal's backup host (queue.fal.run → queue.falrun.com), or None when it has none."""
    parsed = httpx.URL(url)
    backup = BACKUP_HOSTS.get(parsed.host)
    return str(parsed.copy_with(host=backup)) if backup else None


@functools.lru_cache(maxsize=4096)
def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``: cached, since every request's URL is checked before the key goes with it
    (and a sweep asks the same few hundred URLs again and again: status, result, cancel)."""
    parsed = httpx.URL(url)
    port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)
    return (parsed.scheme, parsed.host.lower(), port)


def _origin_text(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except Exception:  # noqa: BLE001 (only for a message)
        return "an unreadable URL"
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


async def _bounded_json(response: httpx.Response, limit: int, what: str) -> Any:
    """The JSON body of ``response``, refusing one over ``limit`` bytes."""
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise ProtocolError(f"the {what} is {int(length)} bytes, over the {limit}-byte limit")
    if len(response.content) > limit:
        raise ProtocolError(f"the {what} is over the {limit}-byte limit")
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"the {what} was not JSON: {response.text[:200]!r}") from exc


def _path(url: str) -> str:
    return httpx.URL(url).path
