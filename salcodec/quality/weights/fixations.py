"""``fixations:PATH``: EW-PSNR weights, Gaussians at fixation points (Li, Qin & Itti 2011)."""

from __future__ import annotations

import csv
import math
import os
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ...errors import InputError, SalcodecError
from .base import WeightSource, is_image

if TYPE_CHECKING:
    from ..video import FramePair
    from .spec import WeightSpec

#: Default fixation Gaussian: one degree when the frame spans 30 degrees horizontally.
DEFAULT_FRAME_DEGREES = 30.0


def read_fixations(path: str) -> tuple[np.ndarray, str]:
    """Read fixation points from a text file.

    Format: comma-, tab- or space-separated columns. With a header row, the
    columns ``x`` and ``y`` are required and ``frame`` (0-based reference
    frame index) or ``t``/``time`` (seconds from the first frame) is
    optional; other columns are ignored. Without a header: ``x y`` or
    ``frame x y``. Lines starting with ``#`` are comments.

    A gaze table (header with ``clip_frame_0based, recording_id, x_px,
    y_px``, the format of ../shared/data/gaze-video) is read with
    :func:`salcodec.saliency.gazetable.read_gaze_table`: its points are the
    per-recording, per-frame means of the in-frame samples, shifted by half
    a pixel to this function's convention (pixel centres at integers).

    Returns
    -------
    points : ndarray, shape (N, 3), float64
        Columns (key, x, y); key is the frame index, the time, or NaN when
        the file has neither (every point applies to every frame).
    keyed_by : {"frame", "time", "all"}
    """
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            lines = [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read fixations ({exc})") from None
    if not lines:
        raise InputError(f"{path}: no fixation points")
    delim = "," if "," in lines[0] else ("\t" if "\t" in lines[0] else None)
    if delim is None:
        rows = [ln.split() for ln in lines]
    else:
        rows = [[c.strip() for c in r] for r in csv.reader(lines, delimiter=delim)]

    from ...saliency.gazetable import is_gaze_header, read_gaze_table

    if is_gaze_header(rows[0]):
        gv = read_gaze_table(path, clip=None, size=None)
        return np.column_stack([gv.frames.astype(np.float64), gv.xy - 0.5]), "frame"

    def is_number(s: str) -> bool:
        try:
            float(s)
        except ValueError:
            return False
        return True

    header = None if all(is_number(c) for c in rows[0]) else [c.lower() for c in rows[0]]
    body = rows[1:] if header else rows
    if header:
        if "x" not in header or "y" not in header:
            raise InputError(f"{path}: fixation header needs columns x and y, got {rows[0]}")
        ix, iy = header.index("x"), header.index("y")
        ik, keyed = None, "all"
        for name, kind in (("frame", "frame"), ("t", "time"), ("time", "time")):
            if name in header:
                ik, keyed = header.index(name), kind
                break
    else:
        n = len(rows[0])
        if n == 2:
            ik, ix, iy, keyed = None, 0, 1, "all"
        elif n == 3:
            ik, ix, iy, keyed = 0, 1, 2, "frame"
        else:
            raise InputError(f"{path}: expected columns 'x y' or 'frame x y', got {n} columns")
    pts = []
    for lineno, r in enumerate(body, start=2 if header else 1):
        try:
            key = float(r[ik]) if ik is not None else math.nan
            pts.append((key, float(r[ix]), float(r[iy])))
        except (ValueError, IndexError):
            raise InputError(f"{path}: bad fixation row {lineno}: {r}") from None
    arr = np.asarray(pts, dtype=np.float64).reshape(-1, 3)
    if not np.all(np.isfinite(arr[:, 1:])):
        raise InputError(f"{path}: fixation coordinates must be finite")
    return arr, keyed


def fixation_map(
    points: np.ndarray, shape: tuple[int, int], sigma: float
) -> np.ndarray:
    """Sum of isotropic Gaussians at fixation points, scaled to a maximum of 1.

    Parameters
    ----------
    points : ndarray, shape (N, 2)
        (x, y) pixel coordinates (column, row; pixel centres at integers).
        Points outside the frame are ignored.
    shape : (H, W)
        Output shape.
    sigma : float
        Gaussian standard deviation in pixels (> 0).

    Returns
    -------
    ndarray, shape (H, W), float64
        All zeros when no point lies in the frame. Each Gaussian is truncated
        at 4 sigma; fixations are snapped to the nearest pixel (an error of at
        most 0.7 px, small against sigma of one degree).
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    h, w = shape
    impulses = np.zeros((h, w), dtype=np.float64)
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    xi = np.rint(p[:, 0]).astype(np.int64)
    yi = np.rint(p[:, 1]).astype(np.int64)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    if not inside.any():
        return impulses
    np.add.at(impulses, (yi[inside], xi[inside]), 1.0)
    radius = int(math.ceil(4 * sigma))
    # Zero padding: a Gaussian near the edge loses the part outside the frame.
    out = cv2.GaussianBlur(
        impulses, (2 * radius + 1, 2 * radius + 1), sigmaX=sigma, sigmaY=sigma,
        borderType=cv2.BORDER_CONSTANT,
    )
    return out / out.max()


def fixation_sigma(spec: WeightSpec, width: int) -> float:
    """Gaussian sigma in pixels from a spec's ``sigma`` or ``ppd`` (default one degree)."""
    opts = spec.options
    try:
        if "sigma" in opts:
            sigma = float(opts["sigma"])
        elif "ppd" in opts:
            sigma = float(opts["ppd"])  # one degree, in pixels
        else:
            sigma = width / DEFAULT_FRAME_DEGREES
    except ValueError:
        raise SalcodecError(f"--weights {spec}: sigma/ppd must be a number") from None
    if not sigma > 0:
        raise SalcodecError(f"--weights {spec}: sigma must be positive")
    return sigma


class FixationWeights(WeightSource):
    """EW-PSNR weights: Gaussians at fixation points of each frame."""

    def __init__(self, spec: WeightSpec, width: int, height: int, fps: float | None):
        super().__init__(spec, width, height)
        path = spec.target
        if not os.path.exists(path):
            raise InputError(f"{path}: fixation file not found")
        opts = spec.options
        self.sigma = fixation_sigma(spec, width)
        units = opts.get("units", "px")
        if units not in ("px", "norm"):
            raise SalcodecError(f"--weights {spec}: units must be px or norm")
        self.fps = fps
        if is_image(path):
            img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise InputError(f"{path}: cannot read as an image")
            ys, xs = np.nonzero(img > 127)
            # Pixel centres map to pixel centres of the frame.
            sx, sy = width / img.shape[1], height / img.shape[0]
            pts = np.column_stack([np.full(xs.shape, np.nan), (xs + 0.5) * sx - 0.5,
                                   (ys + 0.5) * sy - 0.5])
            self.keyed = "all"
        else:
            pts, self.keyed = read_fixations(path)
            if units == "norm":
                pts = pts.copy()
                pts[:, 1] *= width - 1
                pts[:, 2] *= height - 1
        if pts.shape[0] == 0:
            raise InputError(f"{path}: no fixation points")
        if self.keyed == "time" and not fps:
            raise SalcodecError(f"{path}: fixations are timed but the video has no frame rate")
        self.points = pts
        self._static = None
        if self.keyed == "all":
            self._static = fixation_map(pts[:, 1:], (height, width), self.sigma)
        else:
            keys = pts[:, 0]
            if self.keyed == "time":
                # A fixation at time t belongs to the frame on screen at t.
                keys = np.floor(keys * fps + 1e-6)
            self._by_frame: dict[int, np.ndarray] = {}
            for k in np.unique(keys):
                self._by_frame[int(k)] = pts[keys == k, 1:]

    def raw(self, pair: FramePair) -> np.ndarray | None:
        if self._static is not None:
            return self._static
        pts = self._by_frame.get(pair.ref.index)
        if pts is None:
            return None
        return fixation_map(pts, (self.height, self.width), self.sigma)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "sigma_px": self.sigma,
            "fixations": int(self.points.shape[0]),
            "keyed_by": self.keyed,
            "normalised": "max 1 per frame",
        }
