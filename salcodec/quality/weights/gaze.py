"""``gaze:PATH/gaze.csv[:sigma=PX][:pool=N]``: EW-PSNR on video from a gaze table."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from ...errors import InputError, SalcodecError
from .base import WeightSource
from .fixations import fixation_map, fixation_sigma

if TYPE_CHECKING:
    from ..video import FramePair
    from .spec import WeightSpec


class GazeWeights(WeightSource):
    """Gaussians at the per-recording gaze points of each reference frame.

    The table is read with :func:`salcodec.saliency.gazetable.read_gaze_table`
    (one point per recording per frame, the mean of its in-frame samples);
    frame k of the reference is weighted by the points of gaze frames
    ``k - pool .. k + pool`` (``pool`` default 0), each an isotropic Gaussian
    of ``sigma`` pixels (default one degree, frame width / 30), summed and
    scaled to a maximum of 1 (:func:`fixation_map`). Coordinates are scaled
    from the gaze clip's size (``clip.*`` beside the table) to the reference
    frame's; without a clip they are taken as reference pixels.
    """

    def __init__(self, spec: WeightSpec, width: int, height: int):
        super().__init__(spec, width, height)
        from ...saliency.gazetable import read_gaze_table

        path = spec.target
        if not os.path.isfile(path):
            raise InputError(f"{path}: gaze table not found")
        self.sigma = fixation_sigma(spec, width)
        try:
            self.pool = int(spec.options.get("pool", "0"))
        except ValueError:
            self.pool = -1
        if self.pool < 0:
            raise SalcodecError(f"--weights {spec}: pool must be a whole number >= 0")
        self.gaze = read_gaze_table(path)
        gw, gh = self.gaze.width or width, self.gaze.height or height
        # Continuous clip coordinates ([0, W)) to the reference's pixel centres.
        self._scale = np.array([width / gw, height / gh])

    def raw(self, pair: FramePair) -> np.ndarray | None:
        pts = self.gaze.fixations(pair.ref.index, self.pool)
        if not len(pts):
            return None
        return fixation_map(pts * self._scale - 0.5, (self.height, self.width), self.sigma)

    def describe(self) -> dict:
        gv = self.gaze
        return {
            **super().describe(),
            "sigma_px": self.sigma,
            "pool": self.pool,
            "fixation_units": int(len(gv.frames)),
            "recordings": len(gv.recording_names),
            "frames_with_gaze": int(len(np.unique(gv.frames))),
            "gaze_size": [gv.width, gv.height] if gv.width else None,
            "unit": "one point per recording per frame (mean of its in-frame samples)",
            "normalised": "max 1 per frame",
        }
