"""``camera_motion(video)``: the camera's move in one file, on the metrics pass's analysis frames.

A sweep gets the same numbers from its metrics pass (``camera_move``, ``camera_adherence``, ... in ``sweep.df``)
without decoding again; this is for one file, and for the move over time (``.samples``, ``.to_frame()``).
"""

from __future__ import annotations

from typing import Any

from .._names import set_public_module
from ..adherence import CameraMotion, CameraTracker
from ._measuring import ANALYSIS_AREA, MOTION_STEP_SECONDS, _Frames, _size_for, _video_path, _video_stream

__all__ = ["camera_motion"]


def camera_motion(video: Any) -> CameraMotion:
    """The camera's move in ``video``: its class (static, pan left/right, tilt up/down, push in, pull out, orbit
    left/right, handheld), the confidence of each class, and the move over time.

    ::

        move = sd.camera_motion("take.mp4")
        move.move, move.confidence["pan left"], move.speed    # "pan left", 0.83, 0.05
        move.to_frame()                                        # per 1/6 s: velocity, zoom, roll, direction

    Args:
        video: a path, a ``generate()`` result or a df row.
    """
    from av.video.reformatter import VideoReformatter

    path = _video_path(video)
    with _video_stream(path) as (container, stream):
        stream.thread_type = "SLICE"
        rate = float(stream.average_rate or stream.guessed_rate or 24)
        width, height = _size_for(stream.codec_context.width, stream.codec_context.height, ANALYSIS_AREA)
        tracker = CameraTracker(rate)
        shots = _Frames(step=max(1, round(rate * MOTION_STEP_SECONDS)))  # the hard cuts, found as the pass finds them
        scaler = VideoReformatter()  # libswscale's context set up once for the pass, not once per frame
        for frame in container.decode(stream):
            luma = scaler.reformat(
                frame, width=width, height=height, format="gray", interpolation="AREA", threads=1
            ).to_ndarray()
            tracker.add(luma)
            shots.add(luma)
    shots.result(rate, None, None, None, None)
    return tracker.result(cuts=shots.cut_at)  # a pair of frames across a hard cut is no camera move


set_public_module(__name__)
