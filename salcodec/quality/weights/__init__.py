"""Importance weights for the saliency-weighted metrics (WPSNR, WSSIM).

A weight map is a non-negative float64 array at luma resolution, one per
compared frame. Only its shape matters, not its scale: the weighted metrics
divide by the sum of the weights. Sources, chosen with a ``--weights SPEC``
string (see :func:`parse_weights`), one module each:

``model:NAME[:width=PX]`` (:mod:`.model`)
    A saliency model from :mod:`salcodec.saliency`, run on the REFERENCE
    frame (never on the distorted one, whose artefacts would attract it);
    with ``width``, on the frame downscaled to that width (area averaging),
    the map then enlarged bilinearly to the frame.
``map:PATH`` (:mod:`.maps`)
    A grey image (one map for every frame) or a grey video (frame k weights
    reference frame k), resized to the frame.
``density:PATH`` (:mod:`.maps`)
    Like ``map``, for a fixation density map; each map is normalised to sum 1.
``fixations:PATH[:sigma=PX][:ppd=PX][:units=px|norm]`` (:mod:`.fixations`)
    Fixation points; each becomes a Gaussian of standard deviation ``sigma``
    pixels (about one degree of visual angle, as in EW-PSNR, Li, Qin & Itti
    2011), the Gaussians are summed and scaled to a maximum of 1. PATH is a
    text/CSV file of points (see :func:`read_fixations`; a gaze table is
    read too) or a binary image whose pixels > 127 are fixations (the format
    of ../shared/data/fixations).
``gaze:PATH[:sigma=PX][:ppd=PX][:pool=N]`` (:mod:`.gaze`)
    EW-PSNR on video from a gaze table (``gaze.csv`` of
    ../shared/data/gaze-video): Gaussians at the per-recording gaze points
    of the reference frame (and ``pool`` frames on each side).

When a frame's map has no weight at all (a flat saliency map, no fixations
in that frame), uniform weights are used for that frame, so its weighted
metrics equal the unweighted ones; such frames are counted in the result.
"""

from .base import FunctionWeights, WeightSource
from .fixations import DEFAULT_FRAME_DEGREES, FixationWeights, fixation_map, read_fixations
from .gaze import GazeWeights
from .maps import MapWeights
from .model import ModelWeights
from .spec import KINDS, WeightSpec, parse_weights

__all__ = [
    "DEFAULT_FRAME_DEGREES",
    "KINDS",
    "FixationWeights",
    "FunctionWeights",
    "GazeWeights",
    "MapWeights",
    "ModelWeights",
    "WeightSource",
    "WeightSpec",
    "fixation_map",
    "parse_weights",
    "read_fixations",
]
