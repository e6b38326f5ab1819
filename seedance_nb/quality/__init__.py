"""Rank takes on the CPU: cheap per-video metrics, flags, filmstrips, contact sheets and previews that travel.

::

    m = sd.metrics("sweeps/demo/videos/000-1a2b3c4d.mp4", image="cat.png", requested_seconds=5)
    m.motion, m.frozen, m.start_fidelity, m.flags      # 0.031, False, 0.93, ()
    sweep.best(by="motion", n=3)                       # the three liveliest takes with no flag
    sweep.contact_sheet()                              # one PNG of the whole sweep, labelled by what varies
    sweep.export_previews("previews")                  # animated WebP + GIF per take and a Markdown grid

A sweep measures every video as it downloads (queued, bounded, to a worker process, off the event loop and off
the runner's critical path: :class:`MetricsHooks`, the runner's ``after_download`` hook) and journals the result
as its own ``metrics`` event, so the numbers are DataFrame columns (``sweep.df.motion``) and survive a reload;
``run_sweep(..., metrics=False)`` turns that off. ``sweep.compute_metrics()`` fills them in for takes served from
the cache, run folders made before, or sweeps run with ``metrics=False`` (``best``/``rank`` call it for you).

What is measured (see :class:`VideoMetrics` for each field's definition, range and what "good" looks like):
one streamed pass over the decoded frames, each scaled by FFmpeg's area filter to a fixed analysis area of
128x72 = 9,216 pixels of luma whatever the clip's size or ratio (so numbers compare across 480p/720p and 16:9/9:16);
the first and last frames once more in colour at 256x144 for SSIM against the input images; and the audio track.
Memory is flat in the clip's length: frames and audio packets are decoded one at a time; what is kept is the
last few small luma arrays, a number or two per frame and two numbers per 100 ms of audio.

Libraries, and why:

- **PyAV** decodes (as everywhere in seedance-nb); its ``reformat`` runs libswscale's area scaler in C, so a
  frame costs ~0.5 ms to reduce. Decoding every frame is unavoidable with H.264 (inter frames need their
  references) and is most of the cost: a 5 s 480p clip measures in ~0.2 s of one core here
  (tests/benchmarks/RESULTS.md).
- **OpenCV** ``sepFilter2D`` for the window sums of SSIM (start/end fidelity): the reference SSIM of Wang et al.
  (2004) with their Gaussian window (sigma 1.5, cut at 11 x 11, population covariance), on Y, Cb and Cr weighted
  0.8/0.1/0.1 as in Wang, Lu & Bovik, "Video quality assessment based on structural distortion measurement"
  (Signal Processing: Image Communication 19(2), 2004). It equals scikit-image's ``structural_similarity`` with
  those options to within 1e-5 (a test compares them) at a third of its time, ~2 ms at 256x144 for the three
  channels; scikit-image stays the reference in the tests only.
- **pyloudnorm** for ``loudness_db``: its design of BS.1770's K-weighting filters for any sample rate (the part
  that is easy to get subtly wrong), run here with SciPy's ``lfilter`` carrying the filter state from packet to
  packet, so the track is streamed like the frames. The gating (400 ms blocks every 100 ms, the -70 LUFS
  absolute and -10 LU relative gates, ITU-R BS.1770-4 eq. 1-7) is a dozen lines over one number per 100 ms;
  a test checks it against pyloudnorm's own ``Meter.integrated_loudness`` on whole signals. pyloudnorm needs
  only SciPy.
- **OpenCV** (``opencv-python-headless``) also for the camera's move (:mod:`seedance_nb.adherence`: dense optical
  flow on the same analysis frames, ~2 ms a frame pair; why DIS flow, in that module); ``motion`` stays the mean
  absolute frame difference, which ranks takes the same way. Not used: **PySceneDetect** (it decodes the video a
  second time, and its adaptive content detector is the few lines of ``cuts`` below).

Hand-written measures and their definitions:

- ``frozen`` follows FFmpeg's ``freezedetect`` filter (libavfilter/vf_freezedetect.c): two frames are the same
  when their mean absolute frame difference is below the noise tolerance, default -60 dB = 0.001 of full range.
- ``black_fraction`` follows FFmpeg's ``blackdetect`` (libavfilter/vf_blackdetect.c): a pixel is black below
  10 % of the luma range (``pixel_black_th=0.10``) and a frame is black when 98 % of its pixels are
  (``picture_black_ratio_th=0.98``); frames of one flat colour (luma standard deviation under 1 % of range) count
  as blank.
- ``cuts`` follows PySceneDetect's ``AdaptiveDetector`` (scenedetect/detectors/adaptive_detector.py): a frame
  starts a new shot when its content change is at least ``min_content_val`` and at least ``adaptive_threshold``
  (3.0) times the average change of the ``window_width`` (2) frames on each side, with ``min_scene_len`` between
  cuts; the content change here is the mean absolute luma difference (0..255) of the analysis frames.
- ``flicker`` is a second-difference measure of brightness: first differences mistake a steady fade or camera
  move for instability, second differences do not (the argument of the "mean scaled absolute second difference"
  temporal metric, Proc. SPIE 7744, VCIP 2010). Here it is global: the mean over frames of
  |m[t] - (m[t-1] + m[t+1]) / 2| for the frame's mean luma m in 0..1.
- ``silent_fraction`` follows FFmpeg's ``silencedetect`` (libavfilter/af_silencedetect.c): audio under -60 dBFS
  (the ``noise`` default) is silence; measured on 100 ms windows of RMS level.

The package's parts, each changing for its own reasons: ``_measuring`` (what is measured and how: the streamed
pass, :class:`VideoMetrics`, the flags), ``_camera`` (:func:`camera_motion` for one file), ``_ranking`` (ordering a
sweep's takes by them, and the sweep's :class:`MetricsMixin`), ``_pictures`` (filmstrips, contact sheets, animated
previews), ``_html`` (the fragments the gallery, the report and the metrics section show), ``_hooks`` (metrics
during a run: the runner's ``after_download`` hook, a bounded queue) and ``_worker`` (the worker processes it
feeds). Import every name from here.
"""

from __future__ import annotations

from .._names import set_public_module
from ..columns import METRIC_COLUMNS
from ._camera import camera_motion
from ._hooks import QUEUE_BOUND, MetricsHooks
from ._html import filmstrip_html, flags_html, metric_plot_svg, metrics_section_html, ranked_cells
from ._measuring import (
    ANALYSIS_AREA,
    BLACK_PIXEL,
    BLACK_RATIO,
    BLANK_STD,
    CUT_ADAPTIVE,
    CUT_MIN_CONTENT,
    CUT_MIN_SCENE_SECONDS,
    CUT_WINDOW,
    FIDELITY_AREA,
    FLAGS,
    FREEZE_NOISE,
    FROZEN_SHARE,
    HIGHER_IS_BETTER,
    LOUDNESS_FLOOR,
    MOTION_STEP_SECONDS,
    SILENCE_DBFS,
    SILENCE_WINDOW_SECONDS,
    VideoMetrics,
    fal_crop,
    measure_download,
    measure_job,
    metrics,
)
from ._pictures import PREVIEW_LIMIT, contact_sheet, export_previews, filmstrip, filmstrip_file, markdown_text, preview
from ._ranking import MetricsMixin, rank_frame

__all__ = [
    "FLAGS",
    "METRIC_COLUMNS",
    "MetricsHooks",
    "MetricsMixin",
    "VideoMetrics",
    "camera_motion",
    "contact_sheet",
    "export_previews",
    "filmstrip",
    "filmstrip_html",
    "flags_html",
    "measure_download",
    "metrics",
    "metrics_section_html",
]
#: Also read as ``seedance_nb.quality.X`` (by the gallery, the tests and notebooks), outside ``__all__``.
_ALSO = (
    ANALYSIS_AREA,
    BLACK_PIXEL,
    BLACK_RATIO,
    BLANK_STD,
    CUT_ADAPTIVE,
    CUT_MIN_CONTENT,
    CUT_MIN_SCENE_SECONDS,
    CUT_WINDOW,
    FIDELITY_AREA,
    FREEZE_NOISE,
    FROZEN_SHARE,
    HIGHER_IS_BETTER,
    LOUDNESS_FLOOR,
    MOTION_STEP_SECONDS,
    PREVIEW_LIMIT,
    QUEUE_BOUND,
    SILENCE_DBFS,
    SILENCE_WINDOW_SECONDS,
    fal_crop,
    filmstrip_file,
    markdown_text,
    measure_job,
    metric_plot_svg,
    preview,
    rank_frame,
    ranked_cells,
)

set_public_module(__name__)
