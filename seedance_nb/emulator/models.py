"""The emulator's other fal models: every registered endpoint that is not Seedance 2.0 (Kling, Hailuo, Wan, added).

Each request is held to its own endpoint's snapshot (:meth:`seedance_nb.endpoints.Endpoint.problems`: fal's 422
with ``detail`` per field), rendered as a real MP4 at that endpoint's size for its resolution and duration,
answered in its own output shape (Kling and Hailuo ``{"video": {...}}``, Wan ``{"video", "seed",
"actual_prompt"}``) and billed by its own price rule: ``x-fal-billable-units`` in the rule's unit (seconds for a
per-second rule, videos for a per-video rule), and the USD the rule gives at the job's resolution.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from ..endpoints.registry import Endpoint, find
from ..errors import Problem
from ..schema import SEED_MAX
from .render import render_mp4

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from .config import EmulatorConfig

__all__ = ["OtherModels", "Plan", "other_endpoint", "plan"]

#: Seconds rendered when an endpoint states no duration and the input gives none.
DEFAULT_SECONDS = 5


def other_endpoint(endpoint_id: str) -> Endpoint | None:
    """The registered endpoint ``endpoint_id`` when it is not a Seedance 2.0 one (those keep their own path).

    Args:
        endpoint_id: the id a request was submitted to.
    """
    found = find(endpoint_id)
    return found if found is not None and not found.is_seedance else None


@dataclass(frozen=True)
class Plan:
    """What one accepted request renders and bills.

    Attributes:
        endpoint: the registered endpoint.
        prompt: the prompt ("" for none).
        image_url: the first frame's URL (None: a plain frame is rendered).
        end_image_url: the last frame's URL, when the endpoint has one and it was given.
        seconds: the clip's length.
        resolution: the resolution it is rendered and billed at.
        aspect_ratio: the asked ratio (``"auto"``: follows the image).
        seed: the seed used.
    """

    endpoint: Endpoint
    prompt: str
    image_url: str | None
    end_image_url: str | None
    seconds: int
    resolution: str | None
    aspect_ratio: str
    seed: int


def plan(endpoint: Endpoint, payload: Any) -> Plan | list[Problem]:
    """The render and bill for ``payload`` on ``endpoint``, or fal's problems with it.

    Args:
        endpoint: the registered endpoint.
        payload: the request body as submitted.
    """
    problems = endpoint.problems(payload)
    if problems:
        return problems
    assert isinstance(payload, Mapping)
    duration = payload.get("duration", endpoint.default("duration"))
    seconds = int(str(duration)) if str(duration).isdigit() else DEFAULT_SECONDS
    resolution = payload.get("resolution") or endpoint.default("resolution")
    resolution = resolution or next(iter(endpoint.resolutions or ("720p",)))
    seed = payload.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        seed = random.Random(repr(sorted(payload.items(), key=str))).randint(0, SEED_MAX)
    end_field = next((f for f in ("end_image_url", "tail_image_url") if f in endpoint.schema.fields), None)
    prompt = payload.get("prompt")
    return Plan(
        endpoint=endpoint,
        prompt=prompt if isinstance(prompt, str) else "",
        image_url=payload.get("image_url") if isinstance(payload.get("image_url"), str) else None,
        end_image_url=payload.get(end_field) if end_field and isinstance(payload.get(end_field), str) else None,
        seconds=seconds,
        resolution=resolution,
        aspect_ratio=str(payload.get("aspect_ratio") or "auto"),
        seed=seed,
    )


class OtherModels:
    """The engine's path for every registered non-Seedance endpoint (mixed into the emulator's ``Engine``)."""

    if TYPE_CHECKING:  # the engine's own attributes and methods this path uses
        config: EmulatorConfig
        storage: Path
        workers: ThreadPoolExecutor

        def _reject(self, job: Any, problems: list[Problem], *, retryable: bool = False) -> None: ...
        def _load_image(self, url: str, field_name: str) -> tuple[Any, Problem | None]: ...
        def _generation_seconds(self, width: int, height: int, seconds: int) -> float: ...
        async def _wait_render(self, job: Any, render: asyncio.Future[Any], began: float, budget: float) -> None: ...
        def _deliver(
            self,
            job: Any,
            path: Path,
            file_size: int,
            *,
            seed: int,
            size: tuple[int, int],
            seconds: int,
            plan: Plan | None = None,
        ) -> None: ...

    async def _images(self, chosen: Plan) -> dict[str, Any] | Problem:
        loop, images = asyncio.get_running_loop(), {}
        for name, url in (("image_url", chosen.image_url), ("end_image_url", chosen.end_image_url)):
            if url is not None:
                image, problem = await loop.run_in_executor(self.workers, self._load_image, url, name)
                if problem is not None:
                    return problem
                images[name] = image
        return images

    async def _generate_other(self, job: Any, began: float, endpoint: Endpoint) -> None:
        """Run ``job`` on a registered non-Seedance ``endpoint``: its checks, its size, its output, its bill."""
        chosen = plan(endpoint, job.payload)
        if isinstance(chosen, list):
            return self._reject(job, chosen)
        images = await self._images(chosen)
        if isinstance(images, Problem):
            return self._reject(job, [images])
        word = self.config.moderation_word
        if word and word.lower() in chosen.prompt.lower():
            flagged = Problem(
                "prompt", "The prompt was flagged by the content checker.", type="content_policy_violation"
            )
            return self._reject(job, [flagged])
        first = images.get("image_url")
        image_size = first.size if first is not None else None
        width, height = endpoint.output_size(chosen.resolution, chosen.aspect_ratio, image_size)
        first = first or Image.new("RGB", (width, height), (96, 112, 128))
        job.log(f"Generating {chosen.seconds}s at {width}x{height} on {endpoint.model} (seed {chosen.seed})")
        path = self.storage / "files" / f"{job.id}.mp4"
        render = asyncio.get_running_loop().run_in_executor(
            self.workers,
            functools.partial(
                render_mp4,
                first,
                path,
                width=width,
                height=height,
                seconds=chosen.seconds,
                seed=chosen.seed,
                prompt=chosen.prompt,
                audio=False,
                last=images.get("end_image_url"),
                tiny=self.config.render == "tiny",
                defects=tuple(self.config.defects),
            ),
        )
        job.payload = images = first = None  # type: ignore[assignment]
        await self._wait_render(job, render, began, self._generation_seconds(width, height, chosen.seconds))
        self._deliver(
            job, path, render.result(), seed=chosen.seed, size=(width, height), seconds=chosen.seconds, plan=chosen
        )
