"""Importance weights for the saliency-weighted metrics (WPSNR, WSSIM).

A weight map is a non-negative float64 array at luma resolution, one per
compared frame. Only its shape matters, not its scale: the weighted metrics
divide by the sum of the weights. Sources, chosen with a ``--weights SPEC``
string (see :func:`parse_weights`):

``model:NAME[:width=PX]``
    A saliency model from :mod:`salcodec.saliency`, run on the REFERENCE
    frame (never on the distorted one, whose artefacts would attract it);
    with ``width``, on the frame downscaled to that width (area averaging),
    the map then enlarged bilinearly to the frame.
``map:PATH``
    A grey image (one map for every frame) or a grey video (frame k weights
    reference frame k), resized to the frame.
``density:PATH``
    Like ``map``, for a fixation density map; each map is normalised to sum 1.
``fixations:PATH[:sigma=PX][:ppd=PX][:units=px|norm]``
    Fixation points; each becomes a Gaussian of standard deviation ``sigma``
    pixels (about one degree of visual angle, as in EW-PSNR, Li, Qin & Itti
    2011), the Gaussians are summed and scaled to a maximum of 1. PATH is a
    text/CSV file of points (see :func:`read_fixations`) or a binary image
    whose pixels > 127 are fixations (the format of ../shared/data/fixations).

When a frame's map has no weight at all (a flat saliency map, no fixations
in that frame), uniform weights are used for that frame, so its weighted
metrics equal the unweighted ones; such frames are counted in the result.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import cv2
import numpy as np

from ..errors import InputError, SalcodecError
from .video import FramePair

#: Weight kinds accepted in a spec string.
KINDS = ("model", "map", "density", "fixations")
#: Options accepted per kind (``KIND:VALUE:key=val``).
_OPTIONS = {
    "model": {"width"},
    "map": set(),
    "density": set(),
    "fixations": {"sigma", "ppd", "units"},
}
#: Default fixation Gaussian: one degree when the frame spans 30 degrees horizontally.
DEFAULT_FRAME_DEGREES = 30.0

_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".webp"}


@dataclass(frozen=True)
class WeightSpec:
    """Where the weights come from: ``kind`` plus a model name or file path.

    Build one with :func:`parse_weights` (``"model:lc"``), directly
    (``WeightSpec("fixations", "fix.csv", {"sigma": "24"})``), or with
    :meth:`from_function` for maps computed by the caller.
    """

    kind: str
    target: str
    options: dict[str, str] = field(default_factory=dict)
    function: Callable[[FramePair], np.ndarray | None] | None = field(
        default=None, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.kind == "function":
            if self.function is None:
                raise ValueError("a 'function' WeightSpec needs a callable")
            return
        if self.kind not in KINDS:
            raise SalcodecError(
                f"unknown weights kind {self.kind!r}; choose from {', '.join(KINDS)}"
            )
        bad = set(self.options) - _OPTIONS[self.kind]
        if bad:
            raise SalcodecError(f"weights {self.kind}: unknown option(s) {', '.join(sorted(bad))}")

    @classmethod
    def from_function(
        cls, function: Callable[[FramePair], np.ndarray | None], name: str = "function"
    ) -> WeightSpec:
        """Weights from ``function(pair) -> (H, W) map or None`` (None: uniform)."""
        return cls("function", name, {}, function)

    def __str__(self) -> str:
        opts = "".join(f":{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.kind}:{self.target}{opts}"

    def open(self, width: int, height: int, fps: float | None) -> WeightSource:
        """A :class:`WeightSource` producing maps for frames of this size."""
        if self.kind == "model":
            return ModelWeights(self, width, height)
        if self.kind in ("map", "density"):
            return MapWeights(self, width, height)
        if self.kind == "fixations":
            return FixationWeights(self, width, height, fps)
        return FunctionWeights(self, width, height)


def parse_weights(spec: str) -> WeightSpec:
    """Parse ``KIND:VALUE[:key=val...]`` (e.g. ``fixations:fix.csv:sigma=20``).

    Trailing ``:key=val`` segments whose key is a known option are options;
    anything else belongs to the value, so paths may contain colons.

    Raises
    ------
    SalcodecError
        Unknown kind or option, or an empty value.
    """
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or not rest:
        raise SalcodecError(
            f"--weights {spec!r}: expected KIND:VALUE with KIND one of {', '.join(KINDS)}"
        )
    if kind not in KINDS:
        raise SalcodecError(
            f"--weights {spec!r}: unknown kind {kind!r}; choose from {', '.join(KINDS)}"
        )
    parts = rest.split(":")
    options: dict[str, str] = {}
    while len(parts) > 1:
        m = re.fullmatch(r"([a-z_]+)=(.*)", parts[-1])
        if not m:
            break
        if m.group(1) not in _OPTIONS[kind]:
            allowed = ", ".join(sorted(_OPTIONS[kind])) or "none"
            raise SalcodecError(
                f"--weights {spec!r}: unknown option {m.group(1)!r} for {kind} "
                f"(allowed: {allowed})"
            )
        options[m.group(1)] = m.group(2)
        parts.pop()
    target = ":".join(parts)
    if not target:
        raise SalcodecError(f"--weights {spec!r}: missing model name or path")
    return WeightSpec(kind, target, options)


class WeightSource:
    """Produces one weight map per compared frame; see :meth:`WeightSpec.open`."""

    def __init__(self, spec: WeightSpec, width: int, height: int):
        self.spec = spec
        self.width = width
        self.height = height
        #: Frames where the map had no weight and uniform weights were used.
        self.uniform_frames = 0

    def raw(self, pair: FramePair) -> np.ndarray | None:
        """The map for one frame pair before the uniform fallback."""
        raise NotImplementedError

    def __call__(self, pair: FramePair) -> np.ndarray:
        """Weights for this pair: (H, W) float64, non-negative, positive sum."""
        w = self.raw(pair)
        if w is not None:
            w = np.asarray(w, dtype=np.float64)
            if w.shape != (self.height, self.width):
                raise SalcodecError(
                    f"weights {self.spec}: map shape {w.shape} differs from the frame "
                    f"({self.height}, {self.width})"
                )
            if not np.all(np.isfinite(w)) or (w < 0).any():
                raise SalcodecError(f"weights {self.spec}: map has negative or non-finite values")
        if w is None or not w.sum() > 0:
            self.uniform_frames += 1
            return np.ones((self.height, self.width))
        return w

    def describe(self) -> dict:
        """JSON-ready description (what, from where, computed on what)."""
        return {
            "spec": str(self.spec),
            "kind": self.spec.kind,
            "source": self.spec.target,
            "plane": "luma",
            "uniform_fallback_frames": self.uniform_frames,
        }

    def close(self) -> None:
        """Release files held open."""


class ModelWeights(WeightSource):
    """Saliency of the reference frame from a registered model."""

    def __init__(self, spec: WeightSpec, width: int, height: int):
        super().__init__(spec, width, height)
        from ..saliency import get_model

        try:
            self.model = get_model(spec.target)
        except ValueError as exc:
            raise SalcodecError(f"--weights {spec}: {exc}") from None
        self.analysis: tuple[int, int] | None = None
        if "width" in spec.options:
            try:
                aw = int(spec.options["width"])
            except ValueError:
                aw = 0
            if aw < 2:
                raise SalcodecError(f"--weights {spec}: width must be an integer >= 2")
            if aw < width:
                self.analysis = (aw, max(2, round(height * aw / width)))

    def raw(self, pair: FramePair) -> np.ndarray:
        if self.analysis is None:
            return self.model(pair.ref.frame.to_ndarray(format="rgb24"))
        aw, ah = self.analysis
        rgb = cv2.resize(pair.ref.frame.to_ndarray(format="rgb24"), (aw, ah),
                         interpolation=cv2.INTER_AREA)
        return cv2.resize(self.model(rgb), (self.width, self.height),
                          interpolation=cv2.INTER_LINEAR)

    def describe(self) -> dict:
        d = {**super().describe(), "computed_on": "reference"}
        if self.analysis is not None:
            d["analysis_size"] = list(self.analysis)
        return d


def _grey_unit(img: np.ndarray, path: str) -> np.ndarray:
    """A grey or colour image of any integer/float dtype as float64 in [0, 1]."""
    if img.ndim == 3:
        img = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2GRAY)
    if img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float64) / 65535.0
    if np.issubdtype(img.dtype, np.floating):
        return img.astype(np.float64)
    raise InputError(f"{path}: unsupported map image type {img.dtype}")


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    if img.shape == (height, width):
        return img
    shrink = img.shape[0] > height or img.shape[1] > width
    # INTER_AREA averages when shrinking (no aliasing); linear when enlarging.
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(img, (width, height), interpolation=interp)


def _is_image(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in _IMAGE_EXT


class MapWeights(WeightSource):
    """A grey image (static) or grey video (frame k for reference frame k)."""

    def __init__(self, spec: WeightSpec, width: int, height: int):
        super().__init__(spec, width, height)
        path = spec.target
        if not os.path.exists(path):
            raise InputError(f"{path}: weight map not found")
        self._static: np.ndarray | None = None
        self._container = None
        if _is_image(path):
            img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if img is None:
                raise InputError(f"{path}: cannot read as an image")
            self._static = self._finish(_resize(_grey_unit(img, path), width, height))
        else:
            try:
                self._container = av.open(path)
                stream = self._container.streams.video[0]
            except (av.FFmpegError, OSError, IndexError):
                raise InputError(f"{path}: not an image or a video with a video stream") from None
            self._frames = self._container.decode(stream)
            self._next_index = 0

    def _finish(self, m: np.ndarray) -> np.ndarray:
        m = np.clip(m, 0.0, None)
        if self.spec.kind == "density" and m.sum() > 0:
            m = m / m.sum()
        return m

    def raw(self, pair: FramePair) -> np.ndarray:
        if self._static is not None:
            return self._static
        # Map videos are read in step with reference frame indices.
        frame = None
        while self._next_index <= pair.ref.index:
            frame = next(self._frames, None)
            if frame is None:
                raise InputError(
                    f"{self.spec.target}: map video ends at frame {self._next_index}, "
                    f"before reference frame {pair.ref.index}"
                )
            self._next_index += 1
        grey = frame.to_ndarray(format="gray").astype(np.float64) / 255.0
        return self._finish(_resize(grey, self.width, self.height))

    def describe(self) -> dict:
        d = super().describe()
        d["map"] = "image" if self._static is not None else "video"
        if self.spec.kind == "density":
            d["normalised"] = "sum 1 per frame"
        return d

    def close(self) -> None:
        if self._container is not None:
            self._container.close()


def read_fixations(path: str) -> tuple[np.ndarray, str]:
    """Read fixation points from a text file.

    Format: comma-, tab- or space-separated columns. With a header row, the
    columns ``x`` and ``y`` are required and ``frame`` (0-based reference
    frame index) or ``t``/``time`` (seconds from the first frame) is
    optional; other columns are ignored. Without a header: ``x y`` or
    ``frame x y``. Lines starting with ``#`` are comments.

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


class FixationWeights(WeightSource):
    """EW-PSNR weights: Gaussians at fixation points of each frame."""

    def __init__(self, spec: WeightSpec, width: int, height: int, fps: float | None):
        super().__init__(spec, width, height)
        path = spec.target
        if not os.path.exists(path):
            raise InputError(f"{path}: fixation file not found")
        opts = spec.options
        try:
            if "sigma" in opts:
                self.sigma = float(opts["sigma"])
            elif "ppd" in opts:
                self.sigma = float(opts["ppd"])  # one degree, in pixels
            else:
                self.sigma = width / DEFAULT_FRAME_DEGREES
        except ValueError:
            raise SalcodecError(f"--weights {spec}: sigma/ppd must be a number") from None
        if not self.sigma > 0:
            raise SalcodecError(f"--weights {spec}: sigma must be positive")
        units = opts.get("units", "px")
        if units not in ("px", "norm"):
            raise SalcodecError(f"--weights {spec}: units must be px or norm")
        self.fps = fps
        if _is_image(path):
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


class FunctionWeights(WeightSource):
    """Weights from a caller's function of the frame pair."""

    def raw(self, pair: FramePair) -> np.ndarray | None:
        return self.spec.function(pair)
