"""The camera's move from dense optical flow: a global motion model per frame pair, and a class for the clip.

Each pair of analysis frames :data:`STEP_SECONDS` apart gets OpenCV's DIS flow; a similarity model
(translation, divergence, curl) is fitted to a grid of its vectors by iteratively reweighted least squares
(Tukey's biweight), so things that move on their own (the emulator's drifting discs, a walking subject) do not
drag the camera with them. The clip's class comes from what those fits add up to (see :func:`classify`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Flow is measured between analysis frames this far apart (seconds): a few pixels of motion at 128x72.
STEP_SECONDS = 1 / 6
#: The classes, in display order. "pan left" is the camera turning left (the picture slides right).
CAMERA_CLASSES: tuple[str, ...] = (
    "static",
    "pan left",
    "pan right",
    "tilt up",
    "tilt down",
    "push in",
    "pull out",
    "orbit left",
    "orbit right",
    "handheld",
)
#: A clip whose camera travels less than this (frame widths, summed over the clip) is static.
STATIC_TRAVEL = 0.035
#: Below this lag-1 correlation of the camera's velocity the move is jitter (handheld), not a path.
SMOOTH_CORRELATION = 0.35
#: A path whose net displacement is under this share of its length turns: an orbit, not a pan.
STRAIGHT_SHARE = 0.6
_GRID = 4  # flow vectors sampled every 4 analysis pixels
_BORDER = 0.08  # and not within 8 % of the frame's edge
_TUKEY = 4.685


@dataclass(frozen=True)
class MotionSample:
    """The camera between two analysis frames, per second (frame widths; y down; angles in radians)."""

    #: Seconds from the clip's start to the middle of the pair.
    t: float
    #: The camera's velocity: right is +x, down is +y (the picture moves the other way).
    vx: float
    vy: float
    #: Zoom rate: d ln(scale) / dt; positive is pushing in (the picture grows).
    zoom: float
    #: Roll rate (the picture turning clockwise is positive).
    roll: float


def dense_flow(before: Any, after: Any) -> Any:
    """OpenCV's DIS dense flow (medium preset) from ``before`` to ``after`` (H x W x 2 pixels).

    Args:
        before: the earlier frame (H x W uint8).
        after: the later frame.
    """
    import cv2
    import numpy as np

    dis = getattr(_LOCAL, "dis", None)
    if dis is None:  # one per thread: an OpenCV algorithm object is not safe to share between threads
        dis = _LOCAL.dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow: Any = dis.calc(np.ascontiguousarray(before), np.ascontiguousarray(after), None)  # type: ignore[call-overload]
    return flow


_LOCAL = threading.local()


def fit_pair(before: Any, after: Any) -> tuple[float, float, float, float]:
    """(tx, ty, divergence, curl) of the picture's motion from ``before`` to ``after`` (8-bit luma), in frame
    widths: a robust least-squares fit of u = tx + sx x - r y, v = ty + sy y + r x to the dense flow.

    The divergence counts only where both axes agree (a zoom stretches x and y alike): the smaller of sx and sy
    when they have one sign, else 0. One axis alone stretching is a mirrored or repeating texture sliding past
    (the flow is ambiguous there), not a zoom.

    Args:
        before: the earlier frame (H x W uint8).
        after: the later frame.
    """
    import numpy as np

    height, width = before.shape
    flow = dense_flow(before, after)
    y0, x0 = round(_BORDER * height), round(_BORDER * width)
    ys, xs = np.mgrid[y0 : height - y0 : _GRID, x0 : width - x0 : _GRID]
    vectors = flow[ys, xs] / width
    x = ((xs + 0.5) / width - 0.5).ravel()
    y = ((ys + 0.5) - height / 2).ravel() / width
    u, v = vectors[..., 0].ravel(), vectors[..., 1].ravel()
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    design = np.vstack([np.column_stack([ones, zeros, x, zeros, -y]), np.column_stack([zeros, ones, zeros, y, x])])
    target = np.concatenate([u, v])
    weights = np.ones_like(target)
    params = np.zeros(5)
    for _ in range(4):
        params = _weighted_fit(design, target, weights)
        residual = target - design @ params
        scale = 1.4826 * float(np.median(np.abs(residual))) + 1e-6
        ratio = residual / (_TUKEY * scale)
        weights = np.where(np.abs(ratio) < 1, (1 - ratio**2) ** 2, 0.0)
    tx, ty, sx, sy, curl = (float(p) for p in params)
    divergence = math.copysign(min(abs(sx), abs(sy)), sx) if sx * sy > 0 else 0.0
    return tx, ty, divergence, curl


def _weighted_fit(design: Any, target: Any, weights: Any) -> Any:
    """The weighted least-squares parameters: the 5 x 5 normal equations (a tenth of ``lstsq``'s SVD time on a few
    hundred rows; the design is well conditioned, its columns being 1, x and y over the frame), or ``lstsq`` when
    they are singular (every weight 0)."""
    import numpy as np

    weighted = design * weights[:, None]
    try:
        return np.linalg.solve(weighted.T @ design, weighted.T @ target)
    except np.linalg.LinAlgError:
        root = np.sqrt(weights)
        return np.linalg.lstsq(design * root[:, None], target * root, rcond=None)[0]


class CameraTracker:
    """Fed every analysis frame of one pass (8-bit luma), keeps one frame and a few numbers per step.

    Args:
        rate: the clip's frames per second.
    """

    def __init__(self, rate: float) -> None:
        self.step = max(1, round(rate * STEP_SECONDS))
        self.rate = rate
        self.seconds = self.step / rate
        self.previous: Any = None
        self.count = 0
        self.samples: list[MotionSample] = []
        #: Each sample's frames (the earlier frame's index, the later's): :meth:`result` drops pairs across a cut.
        self.spans: list[tuple[int, int]] = []

    def add(self, luma: Any) -> None:
        """Take the next analysis frame.

        Args:
            luma: H x W uint8 (the metrics pass's analysis frame).
        """
        if self.count % self.step == 0:
            if self.previous is not None:
                tx, ty, div, curl = fit_pair(self.previous, luma)
                seconds = self.seconds
                self.samples.append(
                    MotionSample(
                        t=round((self.count - self.step / 2) / self.rate, 4),
                        vx=-tx / seconds,
                        vy=-ty / seconds,
                        zoom=math.log(max(1e-3, 1 + div)) / seconds,
                        roll=curl / seconds,
                    )
                )
                self.spans.append((self.count - self.step, self.count))
            self.previous = luma.copy()
        self.count += 1

    def result(self, cuts: Sequence[int] = ()) -> CameraMotion:
        """The clip's camera move (classified).

        Args:
            cuts: the frames that start a new shot (the metrics pass's hard cuts): a pair of frames across one
                shows two pictures, not a move, and is left out.
        """
        if not cuts:
            return classify(self.samples, self.seconds)
        kept = [
            sample
            for sample, (before, after) in zip(self.samples, self.spans, strict=True)
            if not any(before < cut <= after for cut in cuts)
        ]
        return classify(kept, self.seconds)


@dataclass(frozen=True)
class CameraMotion:
    """The camera's move over one clip: its class, the confidence of each class, and the move over time."""

    #: One of :data:`CAMERA_CLASSES`.
    move: str
    #: The share of the evidence (0..1) for each class; they add to 1.
    confidence: dict[str, float]
    #: How far the camera travelled, in frame widths per second (translation, plus zoom as the edge's travel).
    speed: float
    #: The net direction of travel in degrees (0 right, 90 up, 180 left, -90 down); None when static or a zoom.
    direction: float | None
    #: The move pair by pair (per second).
    samples: tuple[MotionSample, ...] = field(default=(), repr=False)

    def to_frame(self) -> Any:
        """The move over time as a DataFrame: t, vx, vy, zoom, roll, speed and direction per frame pair."""
        import pandas as pd

        rows = [
            {
                **vars(s),
                "speed": math.hypot(s.vx, s.vy),
                "direction": math.degrees(math.atan2(-s.vy, s.vx)),
            }
            for s in self.samples
        ]
        return pd.DataFrame(rows, columns=["t", "vx", "vy", "zoom", "roll", "speed", "direction"])


def _features(samples: Sequence[MotionSample], seconds: float) -> dict[str, float]:
    """What the pairs add up to: the net path, its length, the net zoom and how smooth the velocity is."""
    vx = [s.vx * seconds for s in samples]
    vy = [s.vy * seconds for s in samples]
    net_x, net_y = sum(vx), sum(vy)
    length = sum(math.hypot(a, b) for a, b in zip(vx, vy, strict=True))
    zoom = sum(s.zoom * seconds for s in samples)
    num = sum(vx[i] * vx[i + 1] + vy[i] * vy[i + 1] for i in range(len(vx) - 1))
    den = sum(vx[i] ** 2 + vy[i] ** 2 for i in range(len(vx) - 1))
    # the signed area the path sweeps (the shoelace formula): which way it turns
    px = py = area = 0.0
    for a, b in zip(vx, vy, strict=True):
        area += px * b - py * a
        px, py = px + a, py + b
    return {
        "net_x": net_x,
        "net_y": net_y,
        "net": math.hypot(net_x, net_y),
        "length": length,
        "zoom": zoom,
        "smooth": num / den if den > 0 else 1.0,
        "area": area,
    }


def _evidence(f: dict[str, float]) -> dict[str, float]:
    """Evidence for each class, in frame widths of travel (the static class's is the noise floor)."""
    smooth = min(1.0, max(0.0, f["smooth"]))
    straight = f["net"] / f["length"] if f["length"] > 0 else 1.0
    zoom = abs(f["zoom"])
    travel = f["length"] * smooth
    path = travel * min(1.0, straight / STRAIGHT_SHARE) ** 2
    turning = travel * max(0.0, 1 - straight / STRAIGHT_SHARE)
    evidence = dict.fromkeys(CAMERA_CLASSES, 0.0)
    evidence["static"] = STATIC_TRAVEL
    evidence["handheld"] = f["length"] * max(0.0, SMOOTH_CORRELATION - f["smooth"]) / SMOOTH_CORRELATION
    evidence["push in" if f["zoom"] > 0 else "pull out"] = zoom
    horizontal = abs(f["net_x"]) / (abs(f["net_x"]) + abs(f["net_y"]) + 1e-9)
    evidence["pan left" if f["net_x"] < 0 else "pan right"] = path * horizontal
    evidence["tilt up" if f["net_y"] < 0 else "tilt down"] = path * (1 - horizontal)
    evidence["orbit left" if f["area"] < 0 else "orbit right"] = turning
    return evidence


def classify(samples: Sequence[MotionSample], seconds: float) -> CameraMotion:
    """The clip's class from its pairs' motion: the class with the most evidence (see :func:`_evidence`).

    Args:
        samples: the pairs' motion (per second).
        seconds: the time between the frames of a pair.
    """
    if not samples:
        return CameraMotion("static", {c: float(c == "static") for c in CAMERA_CLASSES}, 0.0, None, ())
    f = _features(samples, seconds)
    evidence = _evidence(f)
    total = sum(evidence.values())
    confidence = {name: round(value / total, 4) for name, value in evidence.items()}
    move = max(CAMERA_CLASSES, key=lambda name: evidence[name])
    duration = len(samples) * seconds
    speed = (f["length"] + abs(f["zoom"]) / 2) / duration
    direction = None
    if move not in ("static", "push in", "pull out") and f["net"] > 0:
        direction = round(math.degrees(math.atan2(-f["net_y"], f["net_x"])), 1)
    return CameraMotion(move, confidence, round(speed, 4), direction, tuple(samples))
