"""The ``default`` model: a few cues fused, smoothed over time, reset at cuts.

Per frame, on a thumbnail of long side 128:

    static = (centre(sigma) * (offset + bms + g * gaze)) ** gamma   (each cue peaks at 1)
    map    = static + f * faces + text_weight * text
             + motion_weight * motion
    out    = (1 - smooth) * map / max(map) + smooth * out_prev

* ``bms`` is boolean map saliency on Lab (:mod:`.bms`); ``gaze`` the
  learned fixation density of FastGaze (:mod:`.gaze`), a pruned DeepGaze II;
  ``sigma``, ``g``, ``gamma`` and ``f`` are ``centre_sigma``,
  ``gaze_weight``, ``gamma`` and ``face_weight`` on a still or a shot's
  first frame, and their ``video_`` namesakes after it; on a still
  the learned map is the mean of its log-densities on the image and its
  mirror (``first_gaze_sides``, ``first_gaze_mirror``);
  ``centre`` the centre-bias Gaussian, ``faces`` Gaussians on faces
  found by BlazeFace (:mod:`.priors`, :mod:`.blazeface`), ``text`` a text detector's probability map
  (:mod:`.text`), ``motion`` the camera-compensated flow magnitude
  (:mod:`.motion`) squashed as ``1 - exp(-|flow| / MOTION_SCALE)`` per frame of
  time (the encoder may call the model every few frames; it sets
  :attr:`frame_step`).
* The weights were chosen on the development stills (three fixation sets)
  AND the two gaze videos together, leave-one-set-out
  (``benchmarks/tune_video.py``, docs/saliency.md): the learned map inside
  the centre-weighted term, on video with faces at twice the stills' weight,
  and more temporal smoothing (gaze lags what moves). Motion kept its mild
  weight: on the development videos it neither helped nor hurt. The still
  branch was then chosen on the still sets alone, scored at full size
  (``benchmarks/tune_stills.py``).
* Scene cuts (:mod:`salcodec.scenecut`) reset the temporal state (no
  smoothing or motion across the cut) and every detector runs afresh;
  ``last_cut`` tells the caller, so the encoder resets its own smoothing on
  the same cuts.
* The networks run at a cadence, staggered so their costs do not stack: faces
  every ``detect_interval`` frames (30), the learned map every
  ``gaze_interval`` (18), text every ``text_interval`` (90), the learned map
  and text starting half an interval late, and text waiting one call when
  another network runs on the frame it falls due; each result is reused
  until the next run. All run on the first frame of every shot. The networks
  are most of the encoder's saliency work (benchmarks/RESULTS.md, Cost:
  ``python -m benchmarks.saliency_speed --encoder``); every cue here is
  OpenCV or numpy (no numba).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..scenecut import CUT_DIFF, SceneCutDetector
from .base import SaliencyModel, downscale, validate_rgb
from .blazeface import MIN_SCORE as FACE_SCORE
from .blazeface import BlazeFace
from .bms import bms_saliency, prepare_lab
from .gaze import STRIDE, gaze_probability
from .motion import FLOW_SIDE, residual_motion
from .priors import FACE_SIGMA, centre_prior, face_map, relative_faces
from .text import TextDetector, text_map

#: Floor of the centre-weighted term, on stills and video alike.
OFFSET = 0.3
#: The still branch (a still, a shot's first frame), chosen on the still sets
#: with the learned map mirrored (benchmarks/tune_stills.py, docs/saliency.md):
#: a wider centre and a learned map weighing as on video, sharpened less.
CENTRE_SIGMA = 0.3
GAZE_WEIGHT = 2.0
FACE_WEIGHT = 1.0
GAMMA = 1.25
#: Video (from a shot's second frame on), chosen on the development stills and
#: gaze videos (benchmarks/tune_video.py): the learned map and faces count 2.
VIDEO_CENTRE_SIGMA = 0.25
VIDEO_GAZE_WEIGHT = 2.0
VIDEO_FACE_WEIGHT = 2.0
VIDEO_GAMMA = 1.5
SMOOTHING = 0.7
#: Not fitted: text is weighted like faces were on stills (objects people read).
TEXT_WEIGHT = 1.0
#: Neither helped nor hurt on the development videos; kept mild.
MOTION_WEIGHT = 0.5
MOTION_SCALE = 1.0  # pixels per frame at the 128 px analysis size
#: Long side the learned model sees, and how often it runs on video (frames).
#: Every 18 rather than 15 (issue 12: the encoder's worker at 200 frames/s per
#: core at 720p): at the encoder's cadence NSS 2.02 / 2.27 on the gaze videos
#: against 2.02 / 2.25; analysing every frame 2.11 / 2.22 against 2.14 / 2.23,
#: where intervals 14-20 range over 2.04-2.16 on basketballpass
#: (benchmarks/RESULTS.md, Cost).
GAZE_SIDE = 256
GAZE_INTERVAL = 18
#: On a still, and a shot's first frame, it sees more (mit1003-100, 40 images:
#: NSS 1.47 at 256, 1.58 at 512), and mirrored (the mean of the two
#: log-densities; docs/saliency.md); twice a run once per shot costs little
#: on video. Never more than the frame's own long side: the encoder's
#: thumbnails (320x180 at 720p) gain nothing from being enlarged, and the
#: network's buffers at 512 would stay allocated (about 40 MiB,
#: benchmarks/RESULTS.md, Cost). Adding 768 scored higher on stills (+0.07
#: NSS on mit1003-100, +0.13 on etto) but costs a 4K shot's first frame
#: 2.0 s of CPU instead of 0.4 s (docs/saliency.md): stills-only callers may
#: pass ``first_gaze_sides=(512, 768)``.
FIRST_GAZE_SIDES = (512,)
FIRST_GAZE_MIRROR = True
#: How often (frames) the text detector runs on video, besides each shot's
#: first frame. Text rarely appears mid-shot, and on the gaze videos running
#: it every 90 frames instead of 30 changed no score (benchmarks/RESULTS.md, Cost).
TEXT_INTERVAL = 90


class DefaultModel(SaliencyModel):
    """Fusion of boolean-map saliency, centre bias, faces, text and motion (the encoder default).

    Parameters
    ----------
    analysis_side : int
        Long side of the thumbnail the cues are computed on.
    detect_interval : int
        Detect faces and text every this many frames (and after each cut);
        0 disables both.
    gaze_interval : int
        Run the learned model every this many frames (and after each cut).
    text_interval : int or None
        Detect text every this many frames (and after each cut); None:
        ``detect_interval``; 0 disables text (as ``detect_interval=0`` does).
    centre_sigma, offset, gaze_weight, face_weight, gamma, text_weight : float
        The weights (module docstring); a weight of 0 disables its cue.
    video_centre_sigma, video_gaze_weight, video_face_weight, video_gamma : float
        ``centre_sigma``, ``gaze_weight``, ``face_weight`` and ``gamma`` from
        the second frame of a shot on (video).
    gaze_side : int
        Long side of the frame the learned model sees on video.
    first_gaze_sides : sequence of int
        The sides it sees on a still or a shot's first frame (each at most
        the frame's own long side, rounded down to the network's stride, and
        at least ``gaze_side``; sides equal after that run once).
    first_gaze_mirror : bool
        On a still or a shot's first frame, also run the learned model on the
        mirrored frame (twice the runs).
    face_sigma, face_score : float
        Face Gaussian width (fraction of the box width) and detection score threshold.
    motion_weight : float
        Weight of the squashed motion map; 0 ignores motion.
    smoothing : float in [0, 1)
        Share of the previous frame's map in each output (0: none); called
        every ``frame_step`` frames, the previous call's map weighs
        ``smoothing ** frame_step``, so the map follows the content at the
        same pace in time whatever the encoder's cadence.
    cut_diff : float
        Mean grey-level difference of 16x9 thumbnails that counts as a cut.
    n_thresholds, bms_side : int
        Thresholds per Lab channel and long side of the BMS cue.
    """

    name = "default"
    temporal = True
    detects_cuts = True

    def __init__(
        self,
        analysis_side: int = 128,
        detect_interval: int = 30,
        gaze_interval: int = GAZE_INTERVAL,
        text_interval: int | None = TEXT_INTERVAL,
        centre_sigma: float = CENTRE_SIGMA,
        offset: float = OFFSET,
        gaze_weight: float = GAZE_WEIGHT,
        video_centre_sigma: float = VIDEO_CENTRE_SIGMA,
        video_gaze_weight: float = VIDEO_GAZE_WEIGHT,
        video_face_weight: float = VIDEO_FACE_WEIGHT,
        video_gamma: float = VIDEO_GAMMA,
        gaze_side: int = GAZE_SIDE,
        first_gaze_sides: tuple[int, ...] = FIRST_GAZE_SIDES,
        first_gaze_mirror: bool = FIRST_GAZE_MIRROR,
        face_weight: float = FACE_WEIGHT,
        gamma: float = GAMMA,
        text_weight: float = TEXT_WEIGHT,
        face_sigma: float = FACE_SIGMA,
        face_score: float = FACE_SCORE,
        motion_weight: float = MOTION_WEIGHT,
        smoothing: float = SMOOTHING,
        cut_diff: float = CUT_DIFF,
        n_thresholds: int = 6,
        bms_side: int = 128,
    ) -> None:
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        prepare_lab()  # beside the networks' loading below
        if detect_interval < 0:
            raise ValueError(f"detect_interval must be >= 0, got {detect_interval}")
        if gaze_interval < 1:
            raise ValueError(f"gaze_interval must be >= 1, got {gaze_interval}")
        if not first_gaze_sides:
            raise ValueError("first_gaze_sides must name at least one side")
        if text_interval is None:
            text_interval = detect_interval
        if text_interval < 0:
            raise ValueError(f"text_interval must be >= 0, got {text_interval}")
        self.analysis_side = analysis_side
        self.detect_interval = detect_interval
        self.gaze_interval = gaze_interval
        self.text_interval = text_interval
        self.centre_sigma = centre_sigma
        self.offset = offset
        self.gaze_weight = gaze_weight
        self.video_centre_sigma = video_centre_sigma
        self.video_gaze_weight = video_gaze_weight
        self.video_face_weight = video_face_weight
        self.video_gamma = video_gamma
        self.gaze_side = gaze_side
        self.first_gaze_sides = tuple(first_gaze_sides)
        self.first_gaze_mirror = first_gaze_mirror
        self.face_weight = face_weight
        self.gamma = gamma
        self.text_weight = text_weight
        self.face_sigma = face_sigma
        self.motion_weight = motion_weight
        self.smoothing = smoothing
        self.n_thresholds = n_thresholds
        self.bms_side = bms_side
        self._face_detector = (
            BlazeFace(face_score) if detect_interval and max(face_weight, video_face_weight) > 0
            else None
        )
        self._text_detector = (TextDetector() if detect_interval and text_interval
                               and text_weight > 0 else None)
        self._centre: dict[tuple[int, int, float], np.ndarray] = {}
        # The face and text maps drawn from the latest detections, reused until
        # the next ones (the same arrays every frame until then): key -> (source, map).
        self._drawn: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._full: np.ndarray | None = None
        self._cut_detector = SceneCutDetector(max_diff=cut_diff)
        self.reset()

    @property
    def cuts(self) -> int:
        """Scene cuts seen since construction."""
        return self._cut_detector.cuts

    #: Frames of video since the previous call (the encoder may analyse every
    #: few frames and says so here); scales the motion cue and the schedule.
    frame_step: int = 1

    def reset(self) -> None:
        self._prev_gray: np.ndarray | None = None  # the motion cue's previous frame, 64 px
        self._prev_map: np.ndarray | None = None
        self._faces = np.zeros((0, 4), dtype=np.float64)  # fractions of the frame
        self._text = np.zeros((1, 1), dtype=np.float32)  # probability, detector's size
        self._gaze: np.ndarray | None = None  # learned density, analysis size
        # Frames until each detector is due; all run on the first frame of a shot.
        self._due = {"faces": 0, "text": 0, "gaze": 0}
        self._text_waited = False  # text postponed one call (see _update_detections)
        self._shot_start = True

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = validate_rgb(image)
        self._full = image  # detectors see more pixels than the cues' thumbnail
        try:
            return super().__call__(image)
        finally:
            self._full = None

    def _update_detections(self, full: np.ndarray, shape: tuple[int, int]) -> None:
        intervals = {"faces": self.detect_interval if self._face_detector else 0,
                     "gaze": self.gaze_interval
                     if max(self.gaze_weight, self.video_gaze_weight) > 0 else 0,
                     "text": self.text_interval if self._text_detector else 0}
        first, self._shot_start = self._shot_start, False
        ran = False
        for cue, interval in intervals.items():
            if not interval or self._due[cue] > 0:
                continue
            if cue == "text" and ran and not first and not self._text_waited:
                # Text rarely appears mid-shot: due on a frame where another
                # network ran, it waits one call rather than add its cost there.
                self._text_waited = True
                continue
            ran = True
            if cue == "text":
                self._text_waited = False
            if cue == "faces":
                self._faces = relative_faces(self._face_detector, full)
            elif cue == "text":
                self._text = self._text_detector.probability(full)
            elif first:  # more, but no more than the frame has (in whole strides)
                top = max(full.shape[:2]) // STRIDE * STRIDE
                sides = sorted({max(self.gaze_side, min(side, top))
                                for side in self.first_gaze_sides})
                self._gaze = gaze_probability(full, shape, sides[0] if len(sides) == 1
                                              else tuple(sides), self.first_gaze_mirror)
            else:
                self._gaze = gaze_probability(full, shape, self.gaze_side)
            # After a shot's first frame, text and the learned map start half an
            # interval late, so the networks seldom fall due on the same frame.
            self._due[cue] = interval // 2 if first and cue != "faces" else interval
        step = max(1, int(self.frame_step))
        for cue in self._due:
            self._due[cue] -= step

    def _draw(self, cue: str, found: np.ndarray, shape: tuple[int, int], draw) -> np.ndarray:
        # A detector runs every 30-90 frames: its map is drawn once per result
        # (and size), not on every frame in between (the same map: exact).
        last = self._drawn.get(cue)
        if last is None or last[0] is not found or last[1].shape != shape:
            last = self._drawn[cue] = (found, draw())
        return last[1]

    def compute(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        # The motion cue's frame (kept for the next call: each frame shrunk once).
        gray = downscale(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), FLOW_SIDE)
        self.last_cut = self._cut_detector.update(image)
        if self.last_cut:
            self.reset()
        # Called through __call__, the detectors see the larger original.
        self._update_detections(image if self._full is None else self._full, (h, w))

        # A still or a shot's first frame has its own weights (module docstring).
        video = self._prev_gray is not None
        sigma = self.video_centre_sigma if video else self.centre_sigma
        centre = self._centre.get((h, w, sigma))
        if centre is None:
            centre = self._centre[(h, w, sigma)] = centre_prior((h, w), sigma)
        small = downscale(image, self.bms_side)
        bottom_up = bms_saliency(small, self.n_thresholds)
        if bottom_up.shape != (h, w):
            bottom_up = cv2.resize(bottom_up, (w, h), interpolation=cv2.INTER_LINEAR)
        peak = float(bottom_up.max())
        if peak > 0:
            bottom_up /= peak
        cues = self.offset + bottom_up
        gaze_weight = self.video_gaze_weight if video else self.gaze_weight
        face_weight = self.video_face_weight if video else self.face_weight
        if self._gaze is not None and gaze_weight > 0:
            cues += gaze_weight * self._gaze
        fused = centre * cues
        fused /= float(fused.max())
        # Sharpen: fixations cluster on the strongest peaks. The default 1.5 as
        # x * sqrt(x): a tenth of pow's cost, within 1 ulp of it.
        gamma = self.video_gamma if video else self.gamma
        if gamma == 1.5:
            fused *= np.sqrt(fused)
        elif gamma != 1.0:
            fused **= gamma
        if len(self._faces) and face_weight > 0:
            faces = self._draw("faces", self._faces, (h, w), lambda: face_map(
                (h, w), self._faces * np.array([w, h, w, h]), self.face_sigma))
            fused += face_weight * faces  # added: a face in a dull spot still stands out
        if self.text_weight > 0 and self._text.max() > 0:
            fused += self.text_weight * self._draw("text", self._text, (h, w),
                                                   lambda: text_map(self._text, (h, w)))
        if self._prev_gray is not None and self.motion_weight > 0:
            motion = residual_motion(self._prev_gray, gray, (h, w)) / max(1, int(self.frame_step))
            fused += self.motion_weight * (1.0 - np.exp(-motion / MOTION_SCALE))
        fused /= float(fused.max())
        if self._prev_map is not None and self.smoothing > 0:
            # One decay per frame of video: at a cadence of 3 the previous map
            # (3 frames old) weighs smoothing ** 3 (on basketballpass, NSS 1.93
            # -> 2.03 at cadence 3, benchmarks/RESULTS.md, Cost).
            keep = self.smoothing ** max(1, int(self.frame_step))
            fused = (1.0 - keep) * fused + keep * self._prev_map
        self._prev_gray, self._prev_map = gray, fused
        return fused.astype(np.float32, copy=False)
