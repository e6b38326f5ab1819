"""Reference-to-video: fal's limits refused locally with the field named (real MP4s and WAVs probed by PyAV),
before anything reaches the emulator, and the price counting the input videos' seconds."""

from __future__ import annotations

import asyncio
import base64
import io
import wave

import av
import numpy as np
import pytest

from seedance_nb.client import AsyncClient
from seedance_nb.errors import InputError
from seedance_nb.references import estimate_references, reference_facts, reference_problems
from seedance_nb.schema import estimate_cost, validate_payload

R2V = "bytedance/seedance-2.0/fast/reference-to-video"
IMG = "https://x.test/a.png"
VID = "https://x.test/a.mp4"
SND = "https://x.test/a.mp3"


def make_video(seconds: float, fps: int = 24) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        black = np.zeros((64, 64, 3), np.uint8)
        for _ in range(round(seconds * fps)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(black, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def make_wav(seconds: float, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(seconds * rate))
    return buffer.getvalue()


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def clips():
    return {s: data_uri(make_video(s), "video/mp4") for s in (1, 3, 6, 10)}


def fields_of(problems) -> list[str]:
    return [p.field for p in problems]


def test_counts_are_always_checked():
    assert reference_problems({"image_urls": [IMG] * 9, "video_urls": [VID] * 3}) == []
    assert fields_of(reference_problems({"image_urls": [IMG] * 10})) == ["image_urls"]
    assert fields_of(reference_problems({"video_urls": [VID] * 4})) == ["video_urls"]
    assert fields_of(reference_problems({"image_urls": [IMG], "audio_urls": [SND] * 4})) == ["audio_urls"]
    many = {"image_urls": [IMG] * 9, "video_urls": [VID] * 3, "audio_urls": [SND]}
    assert fields_of(reference_problems(many)) == ["input"] and "12" in str(reference_problems(many)[0])


def test_audio_needs_an_image_or_a_video():
    problems = reference_problems({"audio_urls": [SND]})
    assert fields_of(problems) == ["audio_urls"] and "image or video" in problems[0].message
    assert reference_problems({"audio_urls": [SND], "video_urls": [VID]}) == []


def test_video_durations_are_probed_and_held_to_2_to_15_s(clips):
    assert reference_problems({"video_urls": [clips[3], clips[6]]}) == []
    too_long = reference_problems({"video_urls": [clips[10], clips[6]]})
    assert fields_of(too_long) == ["video_urls"] and "2-15 s" in str(too_long[0])
    assert fields_of(reference_problems({"video_urls": [clips[1]]})) == ["video_urls"]  # under 2 s
    # A URL's length is unknown: the known ones alone already over 15 s are still refused.
    assert fields_of(reference_problems({"video_urls": [clips[10], clips[6], VID]})) == ["video_urls"]


def test_an_unreadable_video_and_long_audio_name_the_item(clips, tmp_path):
    broken = data_uri(b"not a video at all", "video/mp4")
    problems = reference_problems({"video_urls": [clips[3], broken]})
    assert fields_of(problems) == ["video_urls[1]"]
    wav = tmp_path / "voice.wav"
    wav.write_bytes(make_wav(10))
    long_audio = {"image_urls": [IMG], "audio_urls": [str(wav), data_uri(make_wav(6), "audio/wav")]}
    assert fields_of(reference_problems(long_audio)) == ["audio_urls"]
    assert reference_problems({"image_urls": [IMG], "audio_urls": [str(wav)]}) == []


def test_sizes_are_checked_for_local_files(tmp_path):
    big = tmp_path / "big.png"
    with big.open("wb") as fh:
        fh.truncate(31 * 1024 * 1024)  # sparse: 31 MB on paper
    problems = reference_problems({"image_urls": [IMG, str(big)]})
    assert fields_of(problems) == ["image_urls[1]"] and problems[0].type == "file_too_large"


def test_validate_payload_and_submit_refuse_before_anything_is_sent(emu, clips):
    payload = {"prompt": "@Video1 in the rain", "video_urls": [clips[10], clips[6]], "audio_urls": [SND] * 4}
    with pytest.raises(InputError) as info:
        validate_payload(payload, R2V)
    assert set(info.value.fields) == {"video_urls", "audio_urls"} and R2V in str(info.value)

    async def go():
        async with AsyncClient(queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url) as client:
            await client.submit(payload, endpoint=R2V)

    with pytest.raises(InputError):
        asyncio.run(go())
    assert emu.stats()["submissions"] == 0 and emu.stats()["http_requests"] == 0


def test_the_price_counts_the_input_video_seconds(clips):
    payload = {"prompt": "p", "video_urls": [clips[3]], "resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}
    facts = reference_facts(payload)
    assert facts.videos == 1 and facts.video_seconds == pytest.approx(3, abs=0.1)
    est = estimate_references(payload, R2V)
    assert est.tokens == pytest.approx(1280 * 720 * (facts.video_seconds + 5) * 24 / 1024 * 0.6)
    assert est.usd == pytest.approx(est.tokens * 0.0112 / 1000)
    images_only = estimate_references({**payload, "video_urls": [], "image_urls": [IMG]}, R2V)
    assert images_only.usd == pytest.approx(estimate_cost("720p", 5, "16:9", endpoint=R2V).usd)


def test_a_url_video_is_priced_at_fals_15_s_maximum_and_says_so():
    est = estimate_references({"prompt": "p", "video_urls": [VID], "duration": 5, "aspect_ratio": "16:9"}, R2V)
    assert est.tokens == pytest.approx(1280 * 720 * (15 + 5) * 24 / 1024 * 0.6)
    assert "unknown length" in est.assumption
