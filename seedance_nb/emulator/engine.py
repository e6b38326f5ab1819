"""The emulator's queue engine: slots, priority, start deadlines, cancel, logs, latency, faults, webhooks.

State per request follows fal: IN_QUEUE -> IN_PROGRESS -> COMPLETED (a failed
or cancelled request is COMPLETED too; the result endpoint says why).

What fal does and the engine copies (docs/fal-fidelity.md has each source):

- results are kept 1 h after completion, 6 min when the result is 10 KB or more,
  the payload-storage period when that is on (``result_ttl``, ``large_result_ttl``,
  ``large_result_bytes``, ``payload_storage_ttl``);
- a result carries ``x-fal-billable-units``: the unit fal's price is quoted in for
  this model, 1,000 tokens (tokens = width x height x seconds x 24 / 1024), so
  units x the endpoint's price (fast $0.0112, standard $0.014) is what the job cost;
- webhooks are signed with ED25519 (``X-Fal-Webhook-Request-Id``, ``-User-Id``,
  ``-Timestamp``, ``-Signature``; hex over ``request_id\nuser_id\ntimestamp\n
  sha256hex(body)``), the public key served as a JWKS. ``cryptography`` (PyPI, the
  Python Cryptographic Authority's package) does the ED25519 maths: the standard
  library has none, and ``seedance_nb.webhooks`` verifies with the same library;
- ``image_url`` / ``end_image_url`` on http(s) hosts are downloaded (hosts in
  ``fetch_hosts`` only, loopback by default; ``fetch_timeout`` and
  ``fetch_max_bytes`` bound it); any failure is fal's 422 ``file_download_error``;
- CDN upload tokens expire after ``cdn_token_ttl`` seconds (401 afterwards).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import ipaddress
import json
import logging
import os
import random
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..endpoints import emulated_endpoint, price_per_1k_tokens
from ..errors import Problem
from ..schema import FPS, SEED_MAX, EndpointId, VideoInput, check_payload, load_snapshot
from .config import DEFAULT_PROXY_ALLOWED_URLS, LOOPBACK_HOSTS, EmulatorConfig, _load_private_key
from .models import OtherModels, Plan, other_endpoint
from .render import auto_duration, check_image, render_mp4
from .urls import EmulatorUrls

logger = logging.getLogger("seedance_nb.emulator")

__all__ = [
    "DEFAULT_PROXY_ALLOWED_URLS",
    "EmulatedRequest",
    "EmulatorConfig",
    "Engine",
    "SubmitOptions",
    "billable_units",
]

BITRATE_MODES: tuple[str, ...] = ("standard", "high")
_BILLABLE_TOKENS_PER_UNIT = 1000


def billable_units(width: int, height: int, seconds: int) -> float:
    """What fal bills for one clip, in its unit for this model: thousands of tokens (MODEL.md's formula)."""
    return round(width * height * seconds * FPS / 1024 / _BILLABLE_TOKENS_PER_UNIT, 6)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SubmitOptions:
    """What a submit carries besides the endpoint: the input and fal's request headers."""

    payload: Any
    #: ``x-fal-queue-priority``: ``normal`` or ``low``.
    priority: str = "normal"
    #: ``x-fal-request-timeout``: seconds the request may wait for a runner (None: no deadline).
    start_timeout: float | None = None
    #: False for ``X-Fal-Store-IO: 0`` (no payload storage for this request).
    store_io: bool = True


@dataclass
class EmulatedRequest:
    """One request the emulator accepted, from submit to its result (or expiry)."""

    id: str
    endpoint: EndpointId
    payload: Any
    priority: str = "normal"
    webhook_url: str | None = None
    #: False when the submit said ``X-Fal-Store-IO: 0`` (no payload storage for this request).
    store_io: bool = True
    deadline: float | None = None
    state: str = "IN_QUEUE"
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None
    completed_at: float | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    status_code: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None
    inference_time: float | None = None
    billable_units: float | None = None
    #: Size of the result body as JSON (fal's retention rule depends on it).
    result_bytes: int = 0
    task: asyncio.Task[None] | None = None
    #: The input as fal's request history returns it (large strings shared between requests).
    history_input: Any = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def app(self) -> str:
        """``[namespace/]owner/alias``: the part status, result and cancel URLs name."""
        return self.endpoint.app

    def log(self, message: str, level: str = "INFO") -> None:
        self.logs.append(
            {
                "message": message,
                "level": level,
                "source": "USER",
                "timestamp": datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", ""),
                "labels": {},
            }
        )
        self.touch()

    def touch(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class _DownloadFailed(Exception):
    """An image URL could not be downloaded (becomes fal's 422 ``file_download_error``)."""


#: How much lower the render threads run than the rest of the process (Linux ``nice`` is per thread).
RENDER_NICE = 10


def _yield_cores() -> None:
    """Lower this thread's priority by :data:`RENDER_NICE` (Linux only: elsewhere nice is the whole process')."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + RENDER_NICE)


class Engine(OtherModels):
    """Runs jobs on a fixed number of slots; renders in worker threads."""

    def __init__(self, config: EmulatorConfig, storage: Path, urls: EmulatorUrls) -> None:
        self.config = config
        self.storage = storage
        self.urls = urls
        self.jobs: dict[str, EmulatedRequest] = {}
        self.waiting: list[EmulatedRequest] = []
        self.running: set[str] = set()
        self.files: dict[str, tuple[Path, str]] = {}
        #: Every request ever submitted (fal's request history outlives the queue's result retention).
        self.history: list[EmulatedRequest] = []
        self._blobs: dict[str, str] = {}
        self.stats: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self.billed_seconds = self.billed_units = self.billed_usd = 0.0
        self.peak_running = 0
        self.rng = random.Random(config.fault_seed)
        #: CDN upload tokens issued: token -> expiry (epoch seconds).
        self.tokens: dict[str, float] = {}
        self._signing: tuple[str | None, Ed25519PrivateKey] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Renders and image checks run here, one thread per core: more threads would not render faster,
        # they would only contend for the GIL with the loop that answers requests (slow submits and streams).
        # At a lower priority: fal renders on its own machines, the emulator on the user's cores, and a wave of
        # renders must not take those cores from the client's requests (or this loop's answers) meanwhile.
        self.workers = ThreadPoolExecutor(
            max_workers=os.cpu_count() or 1, thread_name_prefix="emulator-render", initializer=_yield_cores
        )

    def configure(self, **changes: Any) -> None:
        """Change the config at run time (all changes or none); a new ``fault_seed`` restarts the fault draws."""
        self.config.update(**changes)
        if "fault_seed" in changes:
            self.rng.seed(self.config.fault_seed)

    # ------------------------------------------------------------------ files

    def new_file(self, name: str | None = None) -> tuple[str, Path]:
        """A fresh CDN key (keeping a sanitised ``name`` as suffix) and the path its bytes go to."""
        suffix = ""
        if name:
            suffix = "-" + re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name)[-80:]
        key = uuid.uuid4().hex + suffix
        path = self.storage / "files" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return key, path

    def store_file(self, data: bytes, content_type: str, name: str | None = None) -> str:
        """Keep bytes on the emulator's CDN and return their URL."""
        key, path = self.new_file(name)
        path.write_bytes(data)
        self.files[key] = (path, content_type)
        return self.urls.file(key)

    def _load_image(self, url: str, field_name: str) -> tuple[Any, Problem | None]:
        data = self._fetch(url, field_name)
        if isinstance(data, Problem):
            return None, data
        return check_image(data, field_name)

    def _fetch(self, url: str, field_name: str) -> bytes | Problem:
        """The bytes behind an image URL (data URI, this emulator's CDN, an allowed host) or fal's 422 problem."""
        if url.startswith("data:"):
            try:
                return base64.b64decode(url.split(",", 1)[1], validate=True)
            except (binascii.Error, ValueError, IndexError):
                return Problem(field_name, "data URI is not valid base64", type="file_download_error")
        prefix = self.urls.file("")
        if url.startswith(prefix) and url[len(prefix) :] in self.files:
            return self.files[url[len(prefix) :]][0].read_bytes()
        try:
            return self._download(url)
        except _DownloadFailed as exc:
            message = f"could not download the file from {url[:120]}: {exc}"
            return Problem(field_name, message, url[:200], type="file_download_error")

    def _host_allowed(self, url: str) -> bool:
        hosts = self.config.fetch_hosts
        if "*" in hosts:
            return True
        host = (urlsplit(url).hostname or "").lower()
        if host in hosts:
            return True
        with contextlib.suppress(ValueError):  # 127.0.0.2 and friends are loopback too
            return ipaddress.ip_address(host).is_loopback and any(h in LOOPBACK_HOSTS for h in hosts)
        return False

    def _download(self, url: str) -> bytes:
        """GET ``url`` as a runner would: allowed hosts only, bounded in time and size, up to 5 redirects."""
        limit, timeout = self.config.fetch_max_bytes, self.config.fetch_timeout
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            for _hop in range(6):
                if urlsplit(url).scheme not in ("http", "https"):
                    raise _DownloadFailed("only http(s) URLs can be downloaded")
                if not self._host_allowed(url):
                    raise _DownloadFailed("the host is not reachable from the emulator (see fetch_hosts)")
                try:
                    with client.stream("GET", url) as response:
                        if response.is_redirect and "location" in response.headers:
                            url = urljoin(url, response.headers["location"])
                            continue
                        if response.status_code != 200:
                            raise _DownloadFailed(f"the server answered {response.status_code}")
                        declared = response.headers.get("content-length", "")
                        if declared.isdigit() and int(declared) > limit:
                            raise _DownloadFailed(f"the file is {int(declared)} bytes; the limit is {limit}")
                        data = bytearray()
                        for chunk in response.iter_bytes():
                            data += chunk
                            if len(data) > limit:
                                raise _DownloadFailed(f"the file is over the limit of {limit} bytes")
                            if time.monotonic() > deadline:
                                raise _DownloadFailed(f"the download took over {timeout:g} s")
                        return bytes(data)
                except httpx.HTTPError as exc:
                    raise _DownloadFailed(type(exc).__name__) from exc
        raise _DownloadFailed("too many redirects")

    # ------------------------------------------------------------------ CDN tokens

    def issue_token(self) -> tuple[str, float]:
        """A new CDN upload token and its expiry (epoch seconds)."""
        now = time.time()
        for token in [t for t, exp in self.tokens.items() if exp < now - 3600]:
            del self.tokens[token]  # forget long-dead tokens
        token, expires = uuid.uuid4().hex, now + self.config.cdn_token_ttl
        self.tokens[token] = expires
        return token, expires

    def token_problem(self, authorization: str) -> str | None:
        """Why a CDN ``Authorization`` header is refused, or None when its token is valid."""
        _scheme, _, token = authorization.partition(" ")
        expires = self.tokens.get(token.strip())
        if expires is None:
            return "Invalid token"
        if time.time() >= expires:
            return "Token expired"
        return None

    # ------------------------------------------------------------------ webhook keys

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        configured = self.config.webhook_private_key
        if self._signing is None or self._signing[0] != configured:
            key = _load_private_key(configured) if configured else Ed25519PrivateKey.generate()
            self._signing = (configured, key)
        return self._signing[1]

    def jwks(self) -> dict[str, Any]:
        """The webhook public key as fal publishes its own (an OKP/Ed25519 JWK set)."""
        raw = self.signing_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kid = hashlib.sha256(raw).hexdigest()[:16]
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": kid, "use": "sig", "alg": "EdDSA"}]}

    def sign_webhook(self, request_id: str, body: bytes) -> dict[str, str]:
        """fal's four webhook headers for ``body``."""
        timestamp = str(int(time.time() + self.config.webhook_timestamp_offset))
        user_id = self.config.webhook_user_id
        message = "\n".join((request_id, user_id, timestamp, hashlib.sha256(body).hexdigest())).encode()
        return {
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": user_id,
            "X-Fal-Webhook-Timestamp": timestamp,
            "X-Fal-Webhook-Signature": self.signing_key.sign(message).hex(),
        }

    # ------------------------------------------------------------------ queue

    def submit(self, endpoint: EndpointId, options: SubmitOptions, *, webhook_url: str | None) -> EmulatedRequest:
        """Queue a request for ``endpoint`` (its ``webhook_url`` is called when it completes)."""
        job = EmulatedRequest(
            id=str(uuid.uuid4()),
            endpoint=endpoint,
            payload=options.payload,
            priority=options.priority,
            webhook_url=webhook_url,
            store_io=options.store_io,
        )
        if options.start_timeout is not None:
            job.deadline = time.monotonic() + options.start_timeout
        self.jobs[job.id] = job
        job.history_input = self._intern(options.payload)
        self.history.append(job)
        self.waiting.append(job)
        self.waiting.sort(key=lambda j: (j.priority == "low", j.submitted_at))
        self.stats["submissions"] += 1
        self._pump()
        if job.deadline is not None:
            self._spawn(self._watch_deadline(job))
        return job

    def _intern(self, payload: Any) -> Any:
        """``payload`` with every long string (a data URI) replaced by one shared copy: the history keeps
        each request's input without one copy of the same image per request."""
        if not isinstance(payload, dict):
            return payload
        out = {}
        for key, value in payload.items():
            if isinstance(value, str) and len(value) > 1024:
                value = self._blobs.setdefault(value, value)
            out[key] = value
        return out

    def requests_by_endpoint(
        self,
        endpoint_id: str,
        *,
        start: float,
        end: float | None,
        status: str | None,
        request_id: str | None,
        payloads: bool,
    ) -> list[dict[str, Any]]:
        """fal's request history for one endpoint, newest first (``GET /v1/models/requests/by-endpoint``)."""
        items = []
        for job in reversed(self.history):
            if str(job.endpoint) != endpoint_id.rstrip("/"):
                continue
            if job.submitted_at < start or (end is not None and job.submitted_at >= end):
                continue
            if request_id is not None and job.id != request_id:
                continue
            state = _history_status(job)
            if status is not None and status != state:
                continue
            item: dict[str, Any] = {
                "request_id": job.id,
                "endpoint_id": str(job.endpoint),
                "sent_at": _iso(job.submitted_at),
                "started_at": _iso(job.started_at),
                "ended_at": _iso(job.completed_at),
                "status_code": job.status_code,
                "duration": round(job.completed_at - job.started_at, 3)
                if job.completed_at is not None and job.started_at is not None
                else None,
            }
            if payloads:
                item["json_input"] = job.history_input
                item["json_output"] = job.body if job.state == "COMPLETED" else None
            items.append(item)
        return items

    def position(self, job: EmulatedRequest) -> int:
        try:
            return self.waiting.index(job)
        except ValueError:
            return 0

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _pump(self) -> None:
        while self.waiting and len(self.running) < self.config.slots:
            job = self.waiting.pop(0)
            self.running.add(job.id)
            self.peak_running = max(self.peak_running, len(self.running))
            job.task = self._spawn(self._run(job))
            # A task cancelled before its first step never runs its body: clean up here too.
            job.task.add_done_callback(functools.partial(self._after, job))
        for job in self.waiting:
            job.touch()

    async def _watch_deadline(self, job: EmulatedRequest) -> None:
        assert job.deadline is not None
        await asyncio.sleep(max(0.0, job.deadline - time.monotonic()))
        if job in self.waiting:
            self.waiting.remove(job)
            self._time_out(job)

    def _time_out(self, job: EmulatedRequest) -> None:
        """The start deadline passed before a runner took the job: fal's 504 ``request_timeout``."""
        self._fail(
            job,
            504,
            "Request timed out",
            "request_timeout",
            headers={"X-Fal-Request-Timeout-Type": "user", "X-Fal-Error-Type": "request_timeout"},
        )

    def _latency(self, seconds: float) -> float:
        return max(0.0, seconds * self.config.speed)

    def _generation_seconds(self, width: int, height: int, seconds: int) -> float:
        if self.config.fixed_generation_time is not None:
            return self._latency(self.config.fixed_generation_time)
        return self._latency(self.config.generation_time * (width * height * seconds) / (1280 * 720 * 5))

    async def _run(self, job: EmulatedRequest) -> None:
        try:
            await asyncio.sleep(self._latency(self.config.queue_latency))
            if job.deadline is not None and time.monotonic() > job.deadline:
                self._time_out(job)
                return
            job.state = "IN_PROGRESS"
            job.started_at, began = time.time(), time.monotonic()
            job.log("Runner acquired; starting generation")
            await self._generate(job, began)
        except asyncio.CancelledError:
            self._cancelled(job)
        except Exception as exc:  # a bug in the emulator: answer as fal's 500 would
            logger.exception("emulator job %s crashed", job.id)
            self._fail(job, 500, "Internal Server Error", "internal_error", error=str(exc))
        finally:
            self.running.discard(job.id)
            self._pump()

    def _cancelled(self, job: EmulatedRequest) -> None:
        """Complete ``job`` as fal does a cancelled request: ``client_cancelled``, 499 at the result."""
        self._fail(job, 499, "Request cancelled", "client_cancelled", outcome="cancelled")

    def _fail(
        self,
        job: EmulatedRequest,
        status_code: int,
        detail: str,
        error_type: str,
        *,
        error: str | None = None,
        headers: dict[str, str] | None = None,
        outcome: str = "failed",
    ) -> None:
        """Complete ``job`` with fal's error body ``{detail, error_type}`` and count the ``outcome``."""
        body = {"detail": detail, "error_type": error_type}
        self._finish(
            job, status_code, body, error=detail if error is None else error, error_type=error_type, headers=headers
        )
        self.stats[outcome] += 1

    def _after(self, job: EmulatedRequest, _task: object = None) -> None:
        if job.state != "COMPLETED":
            self._cancelled(job)
        if job.id in self.running:
            self.running.discard(job.id)
            self._pump()

    def _reject(self, job: EmulatedRequest, problems: list[Problem], *, retryable: bool = False) -> None:
        detail = []
        for p in problems:
            item = p.to_fal_detail()
            item["url"] = f"https://docs.fal.ai/errors/#{p.type}"
            detail.append(item)
        message = "; ".join(str(p) for p in problems)
        job.log(f"Input rejected: {message}", "ERROR")
        self._finish(
            job,
            422,
            {"detail": detail},
            error="Invalid status code: 422",
            error_type=problems[0].type,
            headers={"X-Fal-Retryable": "true" if retryable else "false"},
        )
        self.stats["failed"] += 1

    async def _generate(self, job: EmulatedRequest, began: float) -> None:
        """Run ``job``; ``began`` (monotonic) is its start: the modelled generation time counts from there,
        reading and checking its inputs included."""
        if (other := other_endpoint(str(job.endpoint))) is not None:  # Kling, Hailuo, Wan, sd.add_endpoint's
            return await self._generate_other(job, began, other)
        payload, endpoint = job.payload, emulated_endpoint(str(job.endpoint))
        problems = _input_problems(payload, endpoint)
        if problems:
            return self._reject(job, problems)
        inp = VideoInput.from_payload(payload, endpoint)
        images = await self._load_images(inp)
        if isinstance(images, Problem):
            return self._reject(job, [images])
        word = self.config.moderation_word
        if word and word.lower() in inp.prompt.lower():
            return self._reject(
                job,
                [Problem("prompt", "The prompt was flagged by the content checker.", type="content_policy_violation")],
            )
        first = images["image_url"]
        seconds = int(inp.duration) if inp.duration != "auto" else auto_duration(inp.prompt)
        width, height = inp.size(first.size)  # checked against the endpoint's own resolutions
        seed = inp.seed if inp.seed is not None else random.Random(inp.canonical_json()).randint(0, SEED_MAX)
        job.log(f"Generating {seconds}s at {width}x{height} (seed {seed})")
        path = self.storage / "files" / f"{job.id}.mp4"
        render = asyncio.get_running_loop().run_in_executor(
            self.workers,
            functools.partial(
                render_mp4,
                first,
                path,
                width=width,
                height=height,
                seconds=seconds,
                seed=seed,
                prompt=inp.prompt,
                audio=inp.generate_audio,
                last=images.get("end_image_url"),
                tiny=self.config.render == "tiny",
                defects=tuple(self.config.defects),
            ),
        )
        # Keep nothing large alive while the job "generates": the input (data URIs) and decoded images
        # belong to the render call only.
        job.payload = payload = inp = images = first = None  # type: ignore[assignment]
        await self._wait_render(job, render, began, self._generation_seconds(width, height, seconds))
        self._deliver(job, path, render.result(), seed=seed, size=(width, height), seconds=seconds)

    async def _load_images(self, inp: VideoInput) -> dict[str, Any] | Problem:
        """The request's decoded images by field, or the first one's problem."""
        images = {}
        loop = asyncio.get_running_loop()
        for name in ("image_url", "end_image_url"):
            url = getattr(inp, name)
            if url is None:
                continue
            # Decoding and checking an image takes milliseconds of CPU: off the loop that answers requests.
            image, problem = await loop.run_in_executor(self.workers, self._load_image, url, name)
            if problem is not None:
                return problem
            images[name] = image
        return images

    async def _wait_render(
        self, job: EmulatedRequest, render: asyncio.Future[Any], began: float, budget: float
    ) -> None:
        """Wait for the clip and out the modelled generation time, logging a denoising step a tick."""
        step = 0
        while not render.done() or time.monotonic() - began < budget:
            interval = max(0.005, self._latency(self.config.log_interval))
            remaining = max(0.0, budget - (time.monotonic() - began))
            if render.done():
                # The clip is ready before the modelled generation time: wait out the rest, one log a tick
                # (asyncio.wait on a finished future returns at once and would spin).
                await asyncio.sleep(min(interval, remaining))
            else:
                await asyncio.wait([render], timeout=min(interval, remaining) or interval)
            step += 1
            if budget > 0 and time.monotonic() - began < budget:
                job.log(f"Denoising step {step}: {min(99, int(100 * (time.monotonic() - began) / budget))}%")

    def _deliver(
        self,
        job: EmulatedRequest,
        path: Path,
        file_size: int,
        *,
        seed: int,
        size: tuple[int, int],
        seconds: int,
        plan: Plan | None = None,
    ) -> None:
        """Complete ``job`` with its clip (billed), or refuse it as output moderation does (not billed).
        ``plan``: a registered non-Seedance endpoint's job, answered in its output shape and billed by its rule."""
        if self.rng.random() < self.config.rate_moderation:
            path.unlink(missing_ok=True)
            return self._reject(
                job,
                [Problem("video", "Output audio has sensitive content.", type="content_policy_violation")],
                retryable=True,
            )
        key = f"{job.id}.mp4"
        self.files[key] = (path, "video/mp4")
        video = {"url": self.urls.file(key), "content_type": "video/mp4", "file_name": "output.mp4"}
        output: dict[str, Any] = {"video": {**video, "file_size": file_size}, "seed": seed}
        self.billed_seconds += seconds
        if plan is not None:
            output = plan.endpoint.output(output["video"], seed=seed, prompt=plan.prompt)
            job.billable_units = round(plan.endpoint.price.units(*size, seconds), 6)
            self.billed_usd += plan.endpoint.cost_of_units(job.billable_units, plan.resolution)
        else:
            job.billable_units = billable_units(*size, seconds)
            self.billed_usd += job.billable_units * price_per_1k_tokens(str(job.endpoint))  # each endpoint its price
        self.billed_units += job.billable_units
        job.log("Generation finished")
        self._finish(job, 200, output, headers={"x-fal-billable-units": repr(job.billable_units)})
        self.stats["completed"] += 1

    def _finish(
        self,
        job: EmulatedRequest,
        status_code: int,
        body: Any,
        *,
        error: str | None = None,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if job.state == "COMPLETED":
            return
        job.state = "COMPLETED"
        job.completed_at = time.time()
        job.status_code, job.body = status_code, body
        job.error, job.error_type = error, error_type
        job.headers = headers or {}
        job.result_bytes = len(json.dumps(body).encode())
        if job.started_at is not None:
            job.inference_time = round(job.completed_at - job.started_at, 4)
        job.touch()
        if job.webhook_url:
            self._spawn(self._deliver_webhook(job, job.webhook_url))
        self._expire()

    def retention(self, job: EmulatedRequest) -> float:
        """Seconds fal keeps ``job``'s result after completion (fal's rules, read from the config now)."""
        config = self.config
        if config.payload_storage_ttl is not None and job.store_io:
            return config.payload_storage_ttl
        if job.result_bytes >= config.large_result_bytes:
            return config.large_result_ttl
        return config.result_ttl

    def _expired(self, job: EmulatedRequest, now: float) -> bool:
        return job.completed_at is not None and now - job.completed_at >= self.retention(job)

    def _expire(self) -> None:
        """Forget results past their retention (checked lazily; no timer per job)."""
        now = time.time()
        for jid in [jid for jid, j in self.jobs.items() if self._expired(j, now)]:
            del self.jobs[jid]
            self.stats["expired"] += 1

    def get(self, request_id: str) -> EmulatedRequest | None:
        job = self.jobs.get(request_id)
        if job is not None and self._expired(job, time.time()):
            del self.jobs[request_id]
            self.stats["expired"] += 1
            return None
        return job

    def cancel(self, job: EmulatedRequest) -> tuple[int, str]:
        """Cancel ``job``: the HTTP code and the body ``status`` fal answers."""
        if job.state == "COMPLETED":
            return 400, "ALREADY_COMPLETED"
        if job in self.waiting:
            self.waiting.remove(job)
            self._cancelled(job)
            self._pump()
            if self.config.cancel_queued_ok:
                return 200, "OK"
        elif job.task is not None:
            job.task.cancel()
        return 202, "CANCELLATION_REQUESTED"

    async def _deliver_webhook(self, job: EmulatedRequest, url: str) -> None:
        ok = job.status_code == 200
        body = {
            "request_id": job.id,
            "gateway_request_id": job.id,
            "status": "OK" if ok else "ERROR",
            "payload": job.body,
            "error": None if ok else f"Invalid status code: {job.status_code}",
        }
        raw = json.dumps(body, sort_keys=True).encode()
        delay = 0.05
        async with httpx.AsyncClient(timeout=15) as client:
            for attempt in range(self.config.webhook_retries):
                headers = {"Content-Type": "application/json"}
                if self.config.webhook_sign:
                    headers.update(self.sign_webhook(job.id, raw))  # signed per attempt: a fresh timestamp
                else:
                    headers["X-Fal-Webhook-Request-Id"] = job.id
                try:
                    response = await client.post(url, content=raw, headers=headers)
                    if response.status_code < 300:
                        self.stats["webhooks_delivered"] += 1
                        return
                except httpx.HTTPError:
                    pass
                self.stats["webhook_retries"] += 1
                await asyncio.sleep(self._latency(delay) or 0.01)
                delay = min(delay * 2, 60)
                logger.debug("webhook for %s failed (attempt %d)", job.id, attempt + 1)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.workers.shutdown(wait=False, cancel_futures=True)

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": dict(self.routes),
            "http_requests": sum(self.routes.values()),
            "submissions": self.stats["submissions"],
            "completed": self.stats["completed"],
            "failed": self.stats["failed"],
            "cancelled": self.stats["cancelled"],
            "faults": {k[6:]: v for k, v in self.stats.items() if k.startswith("fault_")},
            "webhooks_delivered": self.stats["webhooks_delivered"],
            "billed_video_seconds": self.billed_seconds,
            "billable_units": round(self.billed_units, 6),
            "billed_usd": round(self.billed_usd, 6),
            "expired": self.stats["expired"],
            "peak_running": self.peak_running,
            "queued": len(self.waiting),
            "running": len(self.running),
        }

    def reset_stats(self) -> None:
        self.stats.clear()
        self.routes.clear()
        self.billed_seconds = self.billed_units = self.billed_usd = 0.0
        self.peak_running = len(self.running)


def _input_problems(payload: Any, endpoint: str) -> list[Problem]:
    """What fal's validation would refuse in ``payload`` for ``endpoint`` (its schema, and the bitrate mode)."""
    problems = check_payload(payload, load_snapshot(endpoint))
    mode = payload.get("bitrate_mode", "standard") if isinstance(payload, dict) else "standard"
    if mode not in BITRATE_MODES and not any(p.field == "bitrate_mode" for p in problems):
        # fal-js 1.10.1's types: bitrate_mode is "standard" | "high" (the emulator renders both alike).
        allowed = ", ".join(repr(m) for m in BITRATE_MODES)
        problems.append(Problem("bitrate_mode", "unknown bitrate mode", mode, allowed, type="enum"))
    return problems


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def _history_status(job: EmulatedRequest) -> str:
    """The request's state as the history route reports it: in_queue, in_progress, success or error."""
    if job.state != "COMPLETED":
        return job.state.lower()
    return "success" if job.status_code == 200 else "error"
