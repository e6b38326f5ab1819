"""The emulator's queue engine: slots, priority, start deadlines, cancel, logs, latency, faults, webhooks.

State per request follows fal: IN_QUEUE -> IN_PROGRESS -> COMPLETED (a failed
or cancelled request is COMPLETED too; the result endpoint says why).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import logging
import os
import random
import re
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from ..errors import Problem
from ..schema import SEED_MAX, VideoInput, check_payload, output_size
from .render import DEFECTS, auto_duration, check_image, render_mp4

logger = logging.getLogger("seedance_nb.emulator")

__all__ = ["EmulatorConfig", "Engine", "Job"]


@dataclass
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour; change it at run time with ``configure``."""

    slots: int = 2
    #: Multiplies every latency; 0 makes jobs finish as fast as they render.
    speed: float = 1.0
    #: Seconds a job waits for a runner once it reaches the head of the queue.
    queue_latency: float = 1.0
    #: Seconds to generate a 5 s 720p clip; scales with pixels x seconds.
    generation_time: float = 20.0
    #: When set, every job takes exactly this long (before ``speed``).
    fixed_generation_time: float | None = None
    result_ttl: float = 3600.0
    #: When set, requests must carry ``Authorization: Key <api_key>``.
    api_key: str | None = field(default=None, repr=False)
    fault_seed: int = 0
    rate_429: float = 0.0
    rate_ingress: float = 0.0
    rate_drop: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 2.0
    rate_moderation: float = 0.0
    #: A prompt containing this word is refused as input moderation (deterministic).
    moderation_word: str = "forbidden"
    #: Status/result URLs that keep the endpoint's subpath answer 404 (True) or work (False).
    strict_subpath: bool = True
    #: "full" renders the model's sizes; "tiny" writes a 64x36 one-second MP4 (for scale tests).
    render: str = "full"
    #: Defects every clip gets, for tests with ground truth: any of frozen, black, cut, silent, short
    #: (a prompt can ask for them too: see seedance_nb.emulator.render.DEFECTS).
    defects: list[str] = field(default_factory=list)
    log_interval: float = 1.0
    webhook_retries: int = 10
    keepalive: float = 15.0

    def update(self, **changes: Any) -> None:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown emulator option(s) {unknown}; known: {sorted(known)}")
        for key, value in changes.items():
            setattr(self, key, value)
        if self.slots < 1:
            raise ValueError("slots must be at least 1")
        if self.render not in ("full", "tiny"):
            raise ValueError("render must be 'full' or 'tiny'")
        unknown_defects = sorted(set(self.defects) - set(DEFECTS))
        if isinstance(self.defects, str) or unknown_defects:
            raise ValueError(f"defects must be a list of {sorted(DEFECTS)}; got {self.defects!r}")
        self.defects = list(self.defects)

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["api_key"] = "***" if self.api_key else None
        return out


@dataclass
class Job:
    id: str
    app: str
    path: str
    payload: Any
    priority: str = "normal"
    webhook_url: str | None = None
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
    task: asyncio.Task | None = None
    #: The input as fal's request history returns it (large strings shared between requests).
    history_input: Any = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

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


class Engine:
    """Runs jobs on a fixed number of slots; renders in worker threads."""

    def __init__(self, config: EmulatorConfig, storage: Path, cdn_url: str) -> None:
        self.config = config
        self.storage = storage
        self.cdn_url = cdn_url
        self.jobs: dict[str, Job] = {}
        self.waiting: list[Job] = []
        self.running: set[str] = set()
        self.files: dict[str, tuple[Path, str]] = {}
        #: Every request ever submitted (fal's request history outlives the queue's result retention).
        self.history: list[Job] = []
        self._blobs: dict[str, str] = {}
        self.stats: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self.billed_seconds = 0.0
        self.peak_running = 0
        self.rng = random.Random(config.fault_seed)
        self._tasks: set[asyncio.Task] = set()
        # Renders and image checks run here, one thread per core: more threads would not render faster,
        # they would only contend for the GIL with the loop that answers requests (slow submits and streams).
        self.workers = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="emulator-render")

    # ------------------------------------------------------------------ files

    def store_file(self, data: bytes, content_type: str, name: str | None = None) -> str:
        """Keep bytes on the emulator's CDN and return their URL."""
        suffix = ""
        if name:
            suffix = "-" + re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name)[-80:]
        key = uuid.uuid4().hex + suffix
        path = self.storage / "files" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files[key] = (path, content_type)
        return f"{self.cdn_url}/files/{key}"

    def _load_image(self, url: str, field_name: str) -> tuple[Any, Problem | None]:
        data, problem = self._fetch(url, field_name)
        if problem is not None:
            return None, problem
        return check_image(data, field_name)

    def _fetch(self, url: str, field_name: str) -> tuple[bytes | None, Problem | None]:
        if url.startswith("data:"):
            try:
                return base64.b64decode(url.split(",", 1)[1], validate=True), None
            except (binascii.Error, ValueError, IndexError):
                return None, Problem(field_name, "data URI is not valid base64", type="file_download_error")
        prefix = f"{self.cdn_url}/files/"
        if url.startswith(prefix) and url[len(prefix) :] in self.files:
            return self.files[url[len(prefix) :]][0].read_bytes(), None
        return None, Problem(
            field_name, f"could not download the file from {url[:120]}", url[:200], type="file_download_error"
        )

    # ------------------------------------------------------------------ queue

    def submit(
        self, app: str, path: str, payload: Any, *, priority: str, webhook_url: str | None, start_timeout: float | None
    ) -> Job:
        job = Job(id=str(uuid.uuid4()), app=app, path=path, payload=payload, priority=priority, webhook_url=webhook_url)
        if start_timeout is not None:
            job.deadline = time.monotonic() + start_timeout
        self.jobs[job.id] = job
        job.history_input = self._intern(payload)
        self.history.append(job)
        self.waiting.append(job)
        self.waiting.sort(key=lambda j: (j.priority == "low", j.submitted_at))
        self.stats["submissions"] += 1
        self._pump()
        self._spawn(self._watch_deadline(job)) if job.deadline else None
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
            if f"{job.app}/{job.path}".rstrip("/") != endpoint_id.rstrip("/"):
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
                "endpoint_id": f"{job.app}/{job.path}",
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

    def position(self, job: Job) -> int:
        try:
            return self.waiting.index(job)
        except ValueError:
            return 0

    def _spawn(self, coro: Any) -> asyncio.Task:
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
            job.task.add_done_callback(lambda _t, job=job: self._after(job))
        for job in self.waiting:
            job.touch()

    async def _watch_deadline(self, job: Job) -> None:
        assert job.deadline is not None
        await asyncio.sleep(max(0.0, job.deadline - time.monotonic()))
        if job in self.waiting:
            self.waiting.remove(job)
            self._time_out(job)

    def _time_out(self, job: Job) -> None:
        """The start deadline passed before a runner took the job: fal's 504 ``request_timeout``."""
        self._finish(
            job,
            504,
            {"detail": "Request timed out", "error_type": "request_timeout"},
            error="Request timed out",
            error_type="request_timeout",
            headers={"X-Fal-Request-Timeout-Type": "user", "X-Fal-Error-Type": "request_timeout"},
        )
        self.stats["failed"] += 1

    def _latency(self, seconds: float) -> float:
        return max(0.0, seconds * self.config.speed)

    def _generation_seconds(self, width: int, height: int, seconds: int) -> float:
        if self.config.fixed_generation_time is not None:
            return self._latency(self.config.fixed_generation_time)
        return self._latency(self.config.generation_time * (width * height * seconds) / (1280 * 720 * 5))

    async def _run(self, job: Job) -> None:
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
            self._finish(
                job,
                500,
                {"detail": "Internal Server Error", "error_type": "internal_error"},
                error=str(exc),
                error_type="internal_error",
            )
            self.stats["failed"] += 1
        finally:
            self.running.discard(job.id)
            self._pump()

    def _cancelled(self, job: Job) -> None:
        """Complete ``job`` as fal does a cancelled request: ``client_cancelled``, 499 at the result."""
        self._finish(
            job,
            499,
            {"detail": "Request cancelled", "error_type": "client_cancelled"},
            error="Request cancelled",
            error_type="client_cancelled",
        )
        self.stats["cancelled"] += 1

    def _after(self, job: Job) -> None:
        if job.state != "COMPLETED":
            self._cancelled(job)
        if job.id in self.running:
            self.running.discard(job.id)
            self._pump()

    def _reject(self, job: Job, problems: list[Problem], *, retryable: bool = False) -> None:
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

    async def _generate(self, job: Job, began: float) -> None:
        """Run ``job``; ``began`` (monotonic) is its start: the modelled generation time counts from there,
        reading and checking its inputs included."""
        payload = job.payload
        problems = check_payload(payload)
        if problems:
            return self._reject(job, problems)
        inp = VideoInput.from_payload(payload)
        images = {}
        loop = asyncio.get_running_loop()
        for name in ("image_url", "end_image_url"):
            url = getattr(inp, name)
            if url is None:
                continue
            # Decoding and checking an image takes milliseconds of CPU: off the loop that answers requests.
            image, problem = await loop.run_in_executor(self.workers, self._load_image, url, name)
            if problem is not None:
                return self._reject(job, [problem])
            images[name] = image
        word = self.config.moderation_word
        if word and word.lower() in inp.prompt.lower():
            return self._reject(
                job,
                [Problem("prompt", "The prompt was flagged by the content checker.", type="content_policy_violation")],
            )
        first = images["image_url"]
        seconds = int(inp.duration) if inp.duration != "auto" else auto_duration(inp.prompt)
        width, height = output_size(inp.resolution, inp.aspect_ratio, first.size)
        seed = inp.seed if inp.seed is not None else random.Random(inp.canonical_json()).randint(0, SEED_MAX)
        job.log(f"Generating {seconds}s at {width}x{height} (seed {seed})")
        budget = self._generation_seconds(width, height, seconds)
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
        size = render.result()
        if self.rng.random() < self.config.rate_moderation:
            path.unlink(missing_ok=True)
            return self._reject(
                job,
                [Problem("video", "Output audio has sensitive content.", type="content_policy_violation")],
                retryable=True,
            )
        key = f"{job.id}.mp4"
        self.files[key] = (path, "video/mp4")
        output = {
            "video": {
                "url": f"{self.cdn_url}/files/{key}",
                "content_type": "video/mp4",
                "file_name": "output.mp4",
                "file_size": size,
            },
            "seed": seed,
        }
        self.billed_seconds += seconds
        job.log("Generation finished")
        self._finish(job, 200, output)
        self.stats["completed"] += 1

    def _finish(
        self,
        job: Job,
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
        if job.started_at is not None:
            job.inference_time = round(job.completed_at - job.started_at, 4)
        job.touch()
        if job.webhook_url:
            self._spawn(self._deliver_webhook(job))
        self._expire()

    def _expire(self) -> None:
        """Forget results older than ``result_ttl`` (checked lazily; no timer per job)."""
        cutoff = time.time() - self.config.result_ttl
        stale = [jid for jid, j in self.jobs.items() if j.completed_at is not None and j.completed_at < cutoff]
        for jid in stale:
            del self.jobs[jid]

    def get(self, request_id: str) -> Job | None:
        job = self.jobs.get(request_id)
        if job is not None and job.completed_at is not None and job.completed_at < time.time() - self.config.result_ttl:
            del self.jobs[request_id]
            return None
        return job

    def cancel(self, job: Job) -> tuple[int, str]:
        if job.state == "COMPLETED":
            return 400, "ALREADY_COMPLETED"
        if job in self.waiting:
            self.waiting.remove(job)
            self._cancelled(job)
            self._pump()
        elif job.task is not None:
            job.task.cancel()
        return 202, "CANCELLATION_REQUESTED"

    async def _deliver_webhook(self, job: Job) -> None:
        ok = job.status_code == 200
        body = {
            "request_id": job.id,
            "gateway_request_id": job.id,
            "status": "OK" if ok else "ERROR",
            "payload": job.body,
            "error": None if ok else f"Invalid status code: {job.status_code}",
        }
        raw = json.dumps(body, sort_keys=True)
        delay = 0.05
        async with httpx.AsyncClient(timeout=15) as client:
            for attempt in range(self.config.webhook_retries):
                try:
                    response = await client.post(
                        job.webhook_url,
                        content=raw,
                        headers={"Content-Type": "application/json", "x-fal-webhook-request-id": job.id},
                    )
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
            "peak_running": self.peak_running,
            "queued": len(self.waiting),
            "running": len(self.running),
        }

    def reset_stats(self) -> None:
        self.stats.clear()
        self.routes.clear()
        self.billed_seconds = 0.0
        self.peak_running = len(self.running)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def _history_status(job: Job) -> str:
    """The request's state as the history route reports it: in_queue, in_progress, success or error."""
    if job.state != "COMPLETED":
        return job.state.lower()
    return "success" if job.status_code == 200 else "error"
