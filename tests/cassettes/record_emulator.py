"""Record the committed emulator cassette again: one job (Seedance 2.0 fast, 480p, 4 s) on a local emulator.

    PYTHONPATH=. python tests/cassettes/record_emulator.py tests/cassettes/emulator-fast-480p-4s.cassette.json

The session is seedance-nb's own client: the CDN token, the image upload, the submit, the status stream, the
result and the video's download. The key is a sentinel (redacted in the file like any key); no video bytes are
kept. tests/conformance/test_cassette_replay.py replays every cassette here through fal's Python and JS clients.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import seedance_nb as sd
from seedance_nb.client import AsyncClient
from seedance_nb.emulator import serve

KEY = "cassette-sentinel-id:cassette-sentinel-secret"


async def _session(emu: object, out: Path, video: Path) -> None:
    client = AsyncClient(
        KEY,
        queue_url=emu.queue_url,
        rest_url=emu.rest_url,
        cdn_url=emu.cdn_url,
        api_url=emu.api_url,  # type: ignore[attr-defined]
    )
    try:
        with sd.record(out):
            image = await client.upload(Path(sd.sample_image()).read_bytes(), "image/png", "sample.png")
            inputs = {"prompt": "a slow push-in", "image_url": image, "resolution": "480p", "duration": "4"}
            result = await client.subscribe(inputs)
            await client.download(result.video.url, video)
    finally:
        await client.aclose()


def main(out: str) -> None:
    """Record one emulator job to ``out``."""
    target = Path(out)
    with serve(speed=0.2, slots=1, api_key=KEY) as emu:
        asyncio.run(_session(emu, target, target.with_suffix(".mp4.tmp")))
    target.with_suffix(".mp4.tmp").unlink(missing_ok=True)
    text = target.read_text()
    assert KEY.split(":")[1] not in text and KEY.split(":")[0] not in text, "the key reached the cassette"
    print(f"wrote {target} ({len(text)} bytes)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/cassettes/emulator-fast-480p-4s.cassette.json")
