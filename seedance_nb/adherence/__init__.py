"""Did the take do what the prompt asked? Camera-move adherence on the CPU.

::

    sd.camera_motion("sweeps/demo/videos/000-1a2b3c4d.mp4").move    # "pan left"
    sd.asked_camera_move("a slow dolly in on the lighthouse")        # "push in"
    sweep.df[["prompt", "camera_move", "camera_adherence"]]          # match / mismatch / no move asked

The camera's move is estimated from dense optical flow over the metrics pass's analysis frames (128x72 luma,
already decoded: nothing is decoded again): every 1/6 s, OpenCV's DIS flow between two frames, a robust fit of
a global motion model (translation, zoom, roll) to a grid of its vectors, and a class for the clip from what the
fits add up to (:class:`CameraMotion`: static, pan left/right, tilt up/down, push in, pull out, orbit left/right,
handheld, with the share of evidence for each, and the move over time). A prompt's asked move comes from
:func:`asked_camera_move`, and ``camera_adherence`` says whether the two agree.

Libraries, and why: **OpenCV** (``opencv-python-headless``) for the dense flow. Measured here on the emulator's
480p clips reduced to the analysis frames (tests/benchmarks/RESULTS.md): OpenCV's DIS flow (Kroeger et al.,
ECCV 2016; medium preset) found a 0.209-frame pan as 0.199 and a 0.157-frame tilt as 0.160, in ~2 ms a pair;
OpenCV's Farneback found them as 0.132-0.191 (depending on its window) and mistook mirrored texture for zoom;
scikit-image's iLK and TV-L1 (already dependencies) cost 55 and 140 ms a pair, i.e. 1.3-3.4 s of CPU for a
4 s clip against the 0.5 s budget. Dense flow that is fast and robust is a large piece of numerics to write
and check; the fit and the classes on top are the few lines here.

How each class is decided (:func:`classify`): the camera's path (the sum of its per-pair translation), its net
zoom (the sum of the per-pair log scale, counted only where x and y stretch alike) and how smooth its velocity is
(lag-1 correlation). The evidence for a pan or tilt is the path's straight part, for an orbit the part that turns
(a path whose net displacement is under 60 % of its length), for a push or pull the net zoom, for handheld the
travel of a jittery velocity, and static has a fixed floor of 3.5 % of the frame: the class with most evidence
wins and the shares are the confidences. A prompt that asks for "tracking shot" accepts a pan either way.
"""

from __future__ import annotations

from .._names import set_public_module
from ._flow import (
    CAMERA_CLASSES,
    SMOOTH_CORRELATION,
    STATIC_TRAVEL,
    STEP_SECONDS,
    STRAIGHT_SHARE,
    CameraMotion,
    CameraTracker,
    MotionSample,
    classify,
    dense_flow,
    fit_pair,
)
from ._prompt import MATCH, MISMATCH, NO_MOVE_ASKED, asked_camera_move, camera_adherence

__all__ = [
    "CAMERA_CLASSES",
    "MATCH",
    "MISMATCH",
    "NO_MOVE_ASKED",
    "CameraMotion",
    "CameraTracker",
    "MotionSample",
    "asked_camera_move",
    "camera_adherence",
    "classify",
]
#: Also read as ``seedance_nb.adherence.X`` (tests and benchmarks), outside ``__all__``.
_ALSO = (SMOOTH_CORRELATION, STATIC_TRAVEL, STEP_SECONDS, STRAIGHT_SHARE, dense_flow, fit_pair)

set_public_module(__name__)
