"""Per-frame analysis: frame -> saliency -> macroblock importance -> QP offsets.

Runs in the encoder's worker thread (see :mod:`salcodec.encoder`).

The saliency model runs at a fixed cadence: on every ``cadence``-th frame of a
shot, and on the first frame of every shot. A cheap scene-cut detector looks
at every frame (a point-sampled thumbnail, well under a millisecond), so a cut
always gets a fresh analysis; the frames in between reuse the last offsets
and their ROI records unchanged. Saliency moves at the pace of the content,
not of the frame rate: at 25-60 fps a map a few frames old still sits on the
same objects, while the model costs several times the rest of the worker's
work. The cadence counts frames, never time, so the same input always gives
the same offsets (and the same bytes).

The frames between analyses reuse the map unchanged rather than moved by
motion: on the two gaze videos, shifting the map by the global translation
(phase correlation) or warping it by dense optical flow between analyses
scored no better than holding it (NSS within 0.01 either way,
``benchmarks.saliency_schedule``; benchmarks/RESULTS.md, Cost), while costing
a flow estimate and a new ROI payload per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import cv2
import numpy as np

from .io.conform import analysis_rgb, frame_planes
from .mbmap import macroblock_activity, macroblock_grid, pool_to_macroblocks
from .qpmap import (
    ANCHOR_SHARPNESS,
    DEFAULT_CLAMP,
    DEFAULT_STRENGTH,
    OffsetSmoother,
    importance_to_offsets,
    quantize_offsets,
)
from .saliency import SaliencyModel, get_model
from .saliency.external import ExternalMaps
from .scenecut import SceneCutDetector, yuv_thumbnail

#: Frames per saliency analysis within a shot (issue 14: the model's cost is
#: most of the encoder's overhead; 3 keeps the map at most 2 frames old).
DEFAULT_CADENCE = 3


@dataclass(frozen=True)
class FrameOffsets:
    """What the worker hands the encoder for one frame.

    Attributes
    ----------
    offsets : ndarray, shape (mb_h, mb_w)
        Integer QP offsets per macroblock (shared between the frames that
        reuse an analysis: do not modify).
    payload : bytes
        The packed ``AVRegionOfInterest`` records of ``offsets``.
    cut : bool
        The frame starts a new shot.
    analysed : bool
        The saliency model ran on this frame (False: offsets reused).
    importance : ndarray, shape (mb_h, mb_w), optional
        The pooled importance the offsets came from (None: offsets given
        from outside).
    """

    offsets: np.ndarray
    payload: bytes
    cut: bool
    analysed: bool
    importance: np.ndarray | None = None


class OffsetMapper:
    """Saliency model + pooling + mapping + smoothing: one frame -> MB offsets.

    Parameters
    ----------
    width, height : int
        Coded frame size.
    model : str or SaliencyModel
        Saliency model (fresh instance per video: it may keep temporal state).
    strength, clamp : float
        See :func:`salcodec.qpmap.importance_to_offsets`.
    smoothing : float
        Temporal smoothing weight of the previous offsets per frame, reset at
        scene cuts. With a cadence the previous analysis weighs
        ``smoothing ** frames_between``: the decay per frame stays that of
        smoothing every frame, so the cadence does not slow how fast the
        offsets follow the content.
    bias : float
        QP added to every offset after smoothing (then clamped): the knob that
        bit-budget calibration turns (see :mod:`salcodec.budget`).
    anchor, sharpness
        Which weighted mean of each frame's offsets is zero (see
        :func:`salcodec.qpmap.importance_to_offsets`).
    cadence : int
        Run the model on every ``cadence``-th frame of a shot (and on each
        shot's first frame); 1 analyses every frame. Before each call the
        model's ``frame_step`` attribute is set to the number of frames since
        its previous call (1 for its first call), so a model may scale a
        motion cue by it.
    maps : ExternalMaps, optional
        External maps instead of the model (:mod:`salcodec.saliency.external`):
        every frame takes its own map, no cadence; a sidecar's offsets are
        applied as given.
    """

    def __init__(self, width: int, height: int, model: str | SaliencyModel = "default",
                 strength: float = DEFAULT_STRENGTH, clamp: float = DEFAULT_CLAMP,
                 smoothing: float = 0.6, bias: float = 0.0, anchor: str = "mean",
                 sharpness: float = ANCHOR_SHARPNESS, cadence: int = DEFAULT_CADENCE,
                 maps: ExternalMaps | None = None) -> None:
        if int(cadence) != cadence or cadence < 1:
            raise ValueError(f"cadence must be an integer >= 1, got {cadence}")
        self.width, self.height = width, height
        self.maps = maps
        #: ``(offsets, width, height) -> ROI bytes`` for the encoder fed (x264's
        #: scale unless the stage binds another: :func:`salcodec.regions.payload_for`).
        self.payload = None
        #: The encoder's limit on distinct offsets per frame (libvpx-vp9: 7), or None.
        #: The offsets returned are then the merged ones the encoder is sent.
        self.levels: int | None = None
        self.model = (None if maps is not None
                      else get_model(model) if isinstance(model, str) else model)
        self._importance: np.ndarray | None = None
        self.strength, self.clamp, self.bias = strength, clamp, bias
        self.anchor, self.sharpness = anchor, sharpness
        self.smoothing = smoothing
        self.smoother = OffsetSmoother(smoothing)
        self.cuts = SceneCutDetector()
        self.analysis_size = analysis_size(width, height)
        self.cadence = int(cadence)
        self.frames = 0  # frames seen by __call__/job
        self.analyses = 0  # frames the model ran on
        self._since_model: int | None = None  # frames since the model's last call
        self._since_analysis: int | None = None  # frames since the last analysis
        self._last: FrameOffsets | None = None

    def analysis_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        return analysis_rgb(frame, *self.analysis_size)

    def offsets(self, rgb: np.ndarray) -> tuple[np.ndarray, bool]:
        """QP offsets (quantised to integers) for one analysis-size RGB frame, and cut flag.

        Analyses every frame it is given (no cadence): scene cuts come from the
        model when it detects them itself, else from this mapper's detector
        run on ``rgb``. Use :meth:`job` (or call the mapper) for a video's frames.
        """
        if self.model.detects_cuts:
            sal = self._model(rgb)
            cut = self.model.last_cut
        else:
            cut = self.cuts.update(rgb)
            if cut:
                self.model.reset()
            sal = self._model(rgb)
        return self._map(sal, cut, 1, rgb), cut

    def job(self, frame: av.VideoFrame) -> FrameOffsets:
        """Offsets and ROI records for the next yuv420p frame of the video (worker thread).

        The scene-cut detector sees every frame; the model sees a shot's first
        frame and every ``cadence``-th frame after it, the frames between reuse
        the last analysis (same offsets, same payload object).
        """

        cut = self.cuts.update(yuv_thumbnail(*frame_planes(frame)))
        self.frames += 1
        if self.maps is not None:
            return self._external(frame, cut)
        step = self._since_analysis
        if self._last is not None and not cut and step is not None and step < self.cadence:
            self._since_analysis = step + 1
            if self._since_model is not None:
                self._since_model += 1
            last = self._last
            return FrameOffsets(last.offsets, last.payload, False, False, last.importance)
        if cut:
            # A cut forgets everything before it, the model's frame count too, so
            # the state from a cut on depends on that shot's frames alone (a
            # chunk encoded elsewhere reproduces it: salcodec.distributed).
            self.model.reset()
            self._since_model = None
        rgb = self.analysis_rgb(frame)
        sal = self._model(rgb)
        offsets = self._map(sal, cut, 1 if step is None else step, rgb)
        self._since_analysis = 1
        self.analyses += 1
        self._last = self._analysed(offsets, cut, self._importance)
        return self._last

    def _analysed(self, offsets: np.ndarray, cut: bool, importance) -> FrameOffsets:
        """An analysis's result: the offsets as sent (merged to ``levels``) and their ROI bytes."""
        from .regions import limit_levels, roi_payload

        if self.levels is not None:
            offsets = limit_levels(offsets, self.levels)
        payload = (self.payload or roi_payload)(offsets, self.width, self.height)
        return FrameOffsets(offsets, payload, cut, True, importance)

    def _external(self, frame: av.VideoFrame, cut: bool) -> FrameOffsets:

        importance, given = self.maps.next(frame.pts)
        if given is not None:
            offsets = quantize_offsets(np.clip(given, -51, 51))
        else:
            rgb = self.analysis_rgb(frame) if self.anchor == "attended" else None
            offsets = self._offsets(importance, cut, 1, rgb)
        self.analyses += 1
        return self._analysed(offsets, cut, importance)

    def __call__(self, frame: av.VideoFrame) -> tuple[np.ndarray, bool]:
        """Offsets and cut flag of the next frame of the video (see :meth:`job`)."""
        r = self.job(frame)
        return r.offsets, r.cut

    def _model(self, rgb: np.ndarray) -> np.ndarray:
        # Frames since the model's previous call, for models that scale motion by it.
        self.model.frame_step = self._since_model or 1
        self._since_model = 1
        return self.model(rgb)

    def _map(self, sal: np.ndarray, cut: bool, step: int, rgb: np.ndarray) -> np.ndarray:
        self._importance = pool_to_macroblocks(sal, self.width, self.height)
        return self._offsets(self._importance, cut, step, rgb)

    def _offsets(self, importance: np.ndarray, cut: bool, step: int,
                 rgb: np.ndarray | None) -> np.ndarray:
        if cut:
            self.smoother.reset()
        # ``step`` frames since the previous analysis: decay it as many times.
        self.smoother.alpha = self.smoothing ** step
        # The least mean offset is weighted by texture: bits sit in textured blocks.
        cost = (macroblock_activity(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), self.width,
                                    self.height) if self.anchor == "attended" else None)
        off = self.smoother.update(importance_to_offsets(
            importance, self.strength, self.clamp, anchor=self.anchor, sharpness=self.sharpness,
            cost=cost))
        if self.bias:
            off = np.clip(off + self.bias, -self.clamp, self.clamp)
        return quantize_offsets(off)


def analysis_size(width: int, height: int) -> tuple[int, int]:
    """Resolution the saliency model sees: about 4 px per macroblock, long side >= 256."""
    mb_h, mb_w = macroblock_grid(width, height)
    scale = max(4 * mb_w / width, 256 / max(width, height))
    scale = min(scale, 1.0)
    return max(2, round(width * scale)), max(2, round(height * scale))
