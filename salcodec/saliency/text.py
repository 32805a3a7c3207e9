"""Text prior: where a text detector sees writing (signs, captions, labels).

People read: text draws fixations almost as strongly as faces (Cerf et al.
2009; Judd et al. 2009). The detector is PaddleOCR's PP-OCRv4 text detection
network (DB, "Real-time Scene Text Detection with Differentiable
Binarization", Liao et al. 2020), ``salcodec/data/ppocr_v4_det.onnx``
(Apache-2.0, see the data folder's README), run with OpenCV's ONNX reader.
Its output is already a per-pixel text probability, so no boxes are
extracted: the map is that probability, blurred like the other cues.

On the development sets it adds about 0.05 NSS on mit1003-100 and a little
on etocvd and etto (docs/saliency.md); it costs about 25 ms per detection
(long side 320, one core), so video runs it every 30 frames.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..data import TEXT_DETECTOR
from ..errors import SalcodecError
from .base import DetectorModel, read_onnx, validate_rgb

MODEL_FILE = TEXT_DETECTOR.name
#: Long side the detector sees; text smaller than ~1/40 of the frame is missed.
DETECT_SIDE = 320
#: The network needs sides that are multiples of this (its total stride).
STRIDE = 32
#: Blur of the probability map, a fraction of the long side (as the BMS cue).
TEXT_BLUR = 0.03
#: Probabilities below this are not text: PaddleOCR's own binarisation
#: threshold for this network. Without it a frame with no writing would
#: give a map of amplified noise when the ``text`` model is used alone.
TEXT_THRESHOLD = 0.3


def _load_net() -> cv2.dnn.Net:
    return read_onnx(TEXT_DETECTOR, "text detector")


class TextDetector:
    """Per-pixel text probability of RGB frames (PP-OCRv4 detection network).

    Parameters
    ----------
    side : int
        Long side the frame is scaled to before detection (rounded to a
        multiple of 32 on each side).
    """

    def __init__(self, side: int = DETECT_SIDE) -> None:
        if side < STRIDE:
            raise ValueError(f"side must be >= {STRIDE}, got {side}")
        self.side = side
        self._net = _load_net()

    def probability(self, image: np.ndarray) -> np.ndarray:
        """Text probability in [0, 1] of an RGB uint8 frame, float32 at detection size."""
        image = validate_rgb(image)
        h, w = image.shape[:2]
        scale = self.side / max(h, w)
        dh = max(STRIDE, round(h * scale / STRIDE) * STRIDE)
        dw = max(STRIDE, round(w * scale / STRIDE) * STRIDE)
        small = cv2.resize(image, (dw, dh), interpolation=cv2.INTER_AREA)
        # PaddleOCR feeds BGR scaled to [-1, 1].
        blob = (small[..., ::-1].astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        self._net.setInput(np.ascontiguousarray(blob))
        out = self._net.forward()
        if out.shape != (1, 1, dh, dw):
            raise SalcodecError(
                f"{MODEL_FILE}: unexpected output shape {out.shape} for input "
                f"{dw}x{dh} (OpenCV {cv2.__version__})"
            )
        return np.clip(out[0, 0], 0.0, 1.0).astype(np.float32)


def text_map(
    probability: np.ndarray, shape: tuple[int, int], blur: float = TEXT_BLUR
) -> np.ndarray:
    """Text probability resampled to ``shape`` (H, W) and blurred; float32, peak <= 1.

    Probabilities below ``TEXT_THRESHOLD`` count as no text. The peak keeps
    the detector's confidence (a faint guess stays faint), while the blur
    spreads it over the words' surroundings.
    """
    h, w = int(shape[0]), int(shape[1])
    probability = np.where(probability >= TEXT_THRESHOLD, probability, 0).astype(np.float32)
    peak = float(probability.max()) if probability.size else 0.0
    if peak <= 0:
        return np.zeros((h, w), dtype=np.float32)
    out = cv2.resize(probability, (w, h), interpolation=cv2.INTER_AREA)
    out = cv2.GaussianBlur(out, (0, 0), max(blur * max(h, w), 0.5))
    top = float(out.max())
    return out * (peak / top) if top > 0 else out


class TextModel(DetectorModel):
    """Text only: the text detector's probability, blurred."""

    name = "text"

    def __init__(self, side: int = DETECT_SIDE) -> None:
        self.detector = TextDetector(side)

    def detect(self, image: np.ndarray) -> np.ndarray:
        return self.detector.probability(image)

    def draw(self, found: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        return text_map(found, shape)
