"""BlazeFace (MediaPipe's face detector) run through OpenCV's TFLite reader.

The model (``salcodec/data/blazeface_back.tflite``, Apache-2.0, see the data
folder's README) takes a 256x256 RGB image scaled to [-1, 1] and scores 896
SSD anchors; each anchor regresses a box (centre offset, width, height) and
six keypoints. This module letterboxes a frame into the input, decodes the
boxes against the anchors as MediaPipe's ``SsdAnchorsCalculator`` and
``TfLiteTensorsToDetectionsCalculator`` do, and suppresses overlaps.

It replaced scikit-image's LBP cascade as the face prior: on mit1003-100 it
finds faces in 21 images (the LBP cascade: 9, with false hits on windows and
foliage), including turned heads, at 12-20 ms per detection on one core.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..data import FACE_DETECTOR
from ..errors import SalcodecError
from .base import validate_rgb

MODEL_FILE = FACE_DETECTOR.name
INPUT_SIZE = 256
#: Strides of the four SSD layers; equal strides share one grid (MediaPipe's options).
STRIDES = (16, 32, 32, 32)
#: Detections below this score are dropped: 0.6 kept every face on the
#: development images checked by eye, 0.5 let a rock face through.
MIN_SCORE = 0.6
#: Boxes overlapping more than this (IoU) with a better one are suppressed.
NMS_IOU = 0.3


def ssd_anchors(size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """Anchor centres (x, y) in [0, 1] of BlazeFace's SSD grid, in the model's output order.

    Consecutive layers with the same stride share one grid and contribute two
    anchors per layer per cell (aspect ratio 1 and the interpolated scale).
    """
    anchors = []
    layer = 0
    while layer < len(strides):
        same = layer
        while same < len(strides) and strides[same] == strides[layer]:
            same += 1
        per_cell = 2 * (same - layer)
        n = size // strides[layer]
        centres = (np.arange(n, dtype=np.float32) + 0.5) / n
        yy, xx = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
        anchors.append(np.repeat(grid, per_cell, axis=0))
        layer = same
    return np.concatenate(anchors)


def _load_net() -> cv2.dnn.Net:
    if not hasattr(cv2.dnn, "readNetFromTFLite"):
        raise SalcodecError(
            f"OpenCV {cv2.__version__} cannot read TFLite models (needs 4.8 or later)"
        )
    # OpenCV 5's new engine returns only the graph's last output; the
    # classic engine gives both of BlazeFace's outputs by name.
    engine = getattr(cv2.dnn, "ENGINE_CLASSIC", None)
    if engine is None:
        return cv2.dnn.readNetFromTFLite(str(FACE_DETECTOR))
    return cv2.dnn.readNetFromTFLite(str(FACE_DETECTOR), engine)


class BlazeFace:
    """Face boxes in RGB frames, from MediaPipe's BlazeFace (back-camera model).

    Parameters
    ----------
    min_score : float
        Detection score threshold in (0, 1).

    Notes
    -----
    A frame is letterboxed into 256x256, so faces smaller than about 1/16
    of the frame's long side are missed. OpenCV runs the network; its own
    thread pool is used (``cv2.setNumThreads`` limits it).
    """

    def __init__(self, min_score: float = MIN_SCORE) -> None:
        if not 0 < min_score < 1:
            raise ValueError(f"min_score must be in (0, 1), got {min_score}")
        self.min_score = min_score
        self._net = _load_net()
        self._anchors = ssd_anchors()

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Faces in an RGB uint8 frame: float array (n, 5) of x, y, w, h (pixels), score."""
        image = validate_rgb(image)
        h, w = image.shape[:2]
        n = INPUT_SIZE
        scale = n / max(h, w)
        sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
        top, left = (n - sh) // 2, (n - sw) // 2
        letterbox = np.zeros((n, n, 3), dtype=np.uint8)
        letterbox[top : top + sh, left : left + sw] = cv2.resize(
            image, (sw, sh), interpolation=cv2.INTER_AREA
        )
        blob = (letterbox.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        self._net.setInput(blob)
        scores, boxes = self._net.forward(["classificators", "regressors"])
        scores = scores.reshape(-1)
        boxes = boxes.reshape(-1, boxes.shape[-1])
        if len(scores) != len(self._anchors) or boxes.shape[1] < 4:
            raise SalcodecError(
                f"{MODEL_FILE}: unexpected outputs {scores.shape} and {boxes.shape} "
                f"for {len(self._anchors)} anchors (OpenCV {cv2.__version__})"
            )
        scores = 1.0 / (1.0 + np.exp(-np.clip(scores, -80.0, 80.0)))
        keep = scores > self.min_score
        if not keep.any():
            return np.zeros((0, 5), dtype=np.float64)
        reg = boxes[keep, :4].astype(np.float64) / n
        cx = reg[:, 0] + self._anchors[keep, 0]
        cy = reg[:, 1] + self._anchors[keep, 1]
        bw, bh = reg[:, 2], reg[:, 3]
        # Letterbox fractions -> frame pixels.
        x0 = ((cx - bw / 2) * n - left) / scale
        y0 = ((cy - bh / 2) * n - top) / scale
        found = np.column_stack([x0, y0, bw * n / scale, bh * n / scale, scores[keep]])
        found = found[(found[:, 2] > 0) & (found[:, 3] > 0)]
        picked = cv2.dnn.NMSBoxes(
            found[:, :4].tolist(), found[:, 4].tolist(), self.min_score, NMS_IOU
        )
        return found[np.asarray(picked, dtype=np.int64).reshape(-1)]
