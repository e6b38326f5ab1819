"""Reading a run folder back: the sweep header and every job as the journal leaves them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..files import ImageData, load_image
from ..runs import Job, JobStatus, Journal, RunFolder
from ..schema import DEFAULT_ENDPOINT, VideoInput


def _read_journal(run_dir: Path) -> tuple[dict[str, Any], list[Job]]:
    """A run folder's sweep header and its jobs as the journal leaves them (see :meth:`Sweep.load`)."""
    events = Journal.read(run_dir / RunFolder.JOURNAL)
    if not events or events[0].get("event") != "sweep":
        raise FileNotFoundError(f"{run_dir} holds no sweep journal (journal.jsonl)")
    meta = {k: v for k, v in events[0].items() if k not in ("event", "at")}
    jobs: dict[int, Job] = {}
    images_by_file: dict[str, tuple[ImageData, str]] = {}
    for event in events[1:]:
        if event.get("event") == JobStatus.PLANNED:
            payload = dict(event["payload"])
            images: dict[str, ImageData | str] = {}
            for name, value in list(payload.items()):
                if isinstance(value, dict) and "$file" in value:
                    # Each input image is read once and its data URI shared by every job that uses it.
                    if value["$file"] not in images_by_file:
                        loaded = load_image((run_dir / value["$file"]).read_bytes(), field=name)
                        image = ImageData(
                            loaded.data, loaded.mime, loaded.width, loaded.height, value.get("name", "image")
                        )
                        images_by_file[value["$file"]] = (image, image.data_uri())
                    images[name], payload[name] = images_by_file[value["$file"]]
                elif name in ("image_url", "end_image_url"):
                    images[name] = value
            job = Job(
                job=event["job"],
                input=VideoInput.from_payload(payload, event.get("endpoint") or meta.get("endpoint", DEFAULT_ENDPOINT)),
                take=event["take"],
                key=event["key"],
                labels=event.get("labels", {}),
                images=event.get("images", {}),
                est_cost_usd=event.get("est_cost_usd"),
                image_data=images,
            )
            jobs[job.job] = job
        elif event.get("job") in jobs:
            jobs[event["job"]].apply(event)
    ordered = [jobs[i] for i in sorted(jobs)]
    # A download that never finished is redone from the stored URL; a .part file is never a video.
    for job in ordered:
        if job.status in (JobStatus.COMPLETED, JobStatus.CACHED) and job.path and not (run_dir / job.path).exists():
            job.status = JobStatus.DOWNLOADING if job.video_url else JobStatus.PLANNED
    return meta, ordered


def _journal_stat(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns)
