"""A tiny vector canvas drawn twice: as inline SVG for the page and as PNG for scripts.

The report's line figures are a few hundred lines, markers and labels; a
plotting library costs more to import (about a second) than to draw them.
Here a figure is a list of primitives in pixel coordinates, laid out once;
:meth:`Canvas.svg` writes them as SVG text (crisp at any zoom, a few kB in
the page) and :meth:`Canvas.png` rasterises them with OpenCV, anti-aliased
and supersampled, in milliseconds. Text in the PNG uses OpenCV's Hershey
font (ASCII only); its widths lay out both renderings, with a margin for
the browser's font.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Ink height of a capital at font scale 1 (measured: 'H' is 21 px tall).
_CAP_AT_1 = 21.0
#: Cap height as a fraction of the font size (the em), as in common sans fonts.
CAP = 0.72
#: Supersampling of the PNG: drawn this many times larger, then averaged down.
SUPERSAMPLE = 2
#: Browser sans fonts run wider than Hershey's (DejaVu Sans by about 1.17): layouts
#: use the wider estimate, so that boxes hold their text in both renderings.
_BROWSER_WIDTH = 1.25


def _bgr(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[4:6], 16), int(c[2:4], 16), int(c[0:2], 16)


def _hershey_scale(size: float) -> float:
    return CAP * size / _CAP_AT_1


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def text_width(text: str, size: float) -> float:
    """Width in px of ``text`` at font ``size`` px (an upper estimate for browsers too)."""
    w = cv2.getTextSize(_ascii(text), _FONT, _hershey_scale(size), 1)[0][0]
    return _BROWSER_WIDTH * w


@dataclass
class Canvas:
    """Primitives in pixel coordinates (origin top left), rendered as SVG or PNG."""

    width: int
    height: int
    background: str = "#ffffff"
    items: list[tuple] = field(default_factory=list)

    def line(self, xs, ys, colour: str, width: float = 1.0, dash: float = 0.0) -> None:
        """A polyline through the points; ``dash`` > 0: dashes and gaps of that length."""
        pts = np.column_stack([np.asarray(xs, np.float64), np.asarray(ys, np.float64)])
        if len(pts) >= 2:
            self.items.append(("line", pts, colour, width, dash))

    def dots(self, xs, ys, colour: str, radius: float = 3.0) -> None:
        """Filled circles (line markers)."""
        for x, y in zip(xs, ys, strict=True):
            self.items.append(("dot", float(x), float(y), radius, colour))

    def rect(self, x: float, y: float, w: float, h: float, fill: str | None = None,
             stroke: str | None = None, width: float = 1.0) -> None:
        self.items.append(("rect", x, y, w, h, fill, stroke, width))

    def text(self, x: float, y: float, text: str, size: float = 11.0, colour: str = "#222222",
             anchor: str = "start", middle: bool = False, vertical: bool = False,
             bold: bool = False) -> None:
        """Text with its baseline at ``y`` (its middle with ``middle``).

        ``anchor``: start, middle or end (where ``x`` is); ``vertical``: turned
        90 degrees counter-clockwise (read bottom to top), ``x`` then being the
        middle of its line.
        """
        self.items.append(("text", x, y, text, size, colour, anchor, middle, vertical, bold))

    def image(self, x: int, y: int, w: int, h: int, rgb: np.ndarray) -> None:
        """An RGB uint8 raster scaled to ``w`` x ``h`` px without smoothing (PNG only)."""
        self.items.append(("image", x, y, w, h, rgb))

    # ---------------------------------------------------------------- SVG

    def svg(self, label: str = "") -> str:
        """The canvas as an inline ``<svg>`` element (scales to its container's width)."""
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} '
               f'{self.height}" width="{self.width}" height="{self.height}" role="img" '
               f'aria-label="{html.escape(label)}" style="max-width:100%;height:auto" '
               'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif">'
               f'<rect width="100%" height="100%" fill="{self.background}"/>']
        for item in self.items:
            out.append(_SVG[item[0]](*item[1:]))
        out.append("</svg>")
        return "".join(out)

    # ---------------------------------------------------------------- PNG

    def raster(self) -> np.ndarray:
        """The canvas as an RGB uint8 array."""
        s = SUPERSAMPLE
        img = np.empty((self.height * s, self.width * s, 3), np.uint8)
        img[:] = _bgr(self.background)
        for item in self.items:
            _RASTER[item[0]](img, s, *item[1:])
        small = cv2.resize(img, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)

    def png(self) -> bytes:
        """The canvas as PNG bytes."""
        ok, buf = cv2.imencode(".png", cv2.cvtColor(self.raster(), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_PNG_COMPRESSION, 6])
        if not ok:
            raise RuntimeError("PNG encoding failed")
        return buf.tobytes()


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _svg_line(pts, colour, width, dash) -> str:
    d = f' stroke-dasharray="{_n(dash)} {_n(dash)}"' if dash else ""
    coords = " ".join(f"{_n(x)},{_n(y)}" for x, y in pts)
    return (f'<polyline points="{coords}" fill="none" stroke="{colour}" '
            f'stroke-width="{_n(width)}" stroke-linejoin="round"{d}/>')


def _svg_dot(x, y, r, colour) -> str:
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{colour}"/>'


def _svg_rect(x, y, w, h, fill, stroke, width) -> str:
    s = f' stroke="{stroke}" stroke-width="{_n(width)}"' if stroke else ""
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" '
            f'fill="{fill or "none"}"{s}/>')


def _svg_text(x, y, text, size, colour, anchor, middle, vertical, bold) -> str:
    if middle and not vertical:
        y += CAP * size / 2
    extra = ' font-weight="600"' if bold else ""
    if vertical:  # x is the middle of the turned line: shift its baseline by half a cap
        extra += f' transform="rotate(-90 {_n(x)} {_n(y)})"'
        x_, y_ = x, y + CAP * size / 2
        return (f'<text x="{_n(x_)}" y="{_n(y_)}" font-size="{_n(size)}" fill="{colour}" '
                f'text-anchor="{anchor}"{extra}>{html.escape(text)}</text>')
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" fill="{colour}" '
            f'text-anchor="{anchor}"{extra}>{html.escape(text)}</text>')


def _svg_image(x, y, w, h, rgb) -> str:
    return ""  # rasters are drawn in the PNG only (the page shows its own <img>)


_SVG = {"line": _svg_line, "dot": _svg_dot, "rect": _svg_rect, "text": _svg_text,
        "image": _svg_image}

_SHIFT = 4  # OpenCV's fixed-point coordinates: 1/16 px


def _fix(v: float, s: int) -> int:
    return int(round(v * s * (1 << _SHIFT)))


def _raster_line(img, s, pts, colour, width, dash) -> None:
    thick = max(1, int(round(width * s)))
    if dash:  # only straight dashed lines are drawn (axis-parallel markers)
        (x0, y0), (x1, y1) = pts[0], pts[-1]
        length = float(np.hypot(x1 - x0, y1 - y0))
        segments = []
        for t in np.arange(0.0, length, 2 * dash):
            a, b = t / length, min(t + dash, length) / length
            segments.append([(x0 + a * (x1 - x0), y0 + a * (y1 - y0)),
                             (x0 + b * (x1 - x0), y0 + b * (y1 - y0))])
    else:
        segments = [pts]
    polys = [np.array([[_fix(x, s), _fix(y, s)] for x, y in seg], np.int32)
             for seg in segments]
    cv2.polylines(img, polys, False, _bgr(colour), thick, cv2.LINE_AA, _SHIFT)


def _raster_dot(img, s, x, y, r, colour) -> None:
    cv2.circle(img, (_fix(x, s), _fix(y, s)), _fix(r, s), _bgr(colour), -1, cv2.LINE_AA,
               _SHIFT)


def _raster_rect(img, s, x, y, w, h, fill, stroke, width) -> None:
    p0, p1 = (_fix(x, s), _fix(y, s)), (_fix(x + w, s), _fix(y + h, s))
    if fill:
        cv2.rectangle(img, p0, p1, _bgr(fill), -1, cv2.LINE_AA, _SHIFT)
    if stroke:
        cv2.rectangle(img, p0, p1, _bgr(stroke), max(1, int(round(width * s))), cv2.LINE_AA,
                      _SHIFT)


def _raster_text(img, s, x, y, text, size, colour, anchor, middle, vertical, bold) -> None:
    text = _ascii(text)
    scale = _hershey_scale(size) * s
    thick = max(1, int(round(s * (1.6 if bold else 1.0) * size / 11)))
    (w, _h), base = cv2.getTextSize(text, _FONT, scale, thick)
    cap = CAP * size * s
    if not vertical:
        x0 = x * s - {"start": 0, "middle": w / 2, "end": w}[anchor]
        y0 = y * s + (cap / 2 if middle else 0)
        cv2.putText(img, text, (int(round(x0)), int(round(y0))), _FONT, scale, _bgr(colour),
                    thick, cv2.LINE_AA)
        return
    # Turned text: drawn on its own mask, rotated, then blended in.
    pad = thick + 2
    mask = np.zeros((int(cap) + base + 2 * pad, w + 2 * pad), np.uint8)
    cv2.putText(mask, text, (pad, pad + int(cap)), _FONT, scale, 255, thick, cv2.LINE_AA)
    mask = np.rot90(mask)  # counter-clockwise: reads bottom to top
    mh, mw = mask.shape
    along = {"start": 0, "middle": w / 2, "end": w}[anchor]
    top = int(round(y * s + along - mh + pad))
    left = int(round(x * s - (pad + cap / 2)))
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + mh, img.shape[0]), min(left + mw, img.shape[1])
    if y1 <= y0 or x1 <= x0:
        return
    a = mask[y0 - top:y1 - top, x0 - left:x1 - left, None].astype(np.float32) / 255
    region = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (region * (1 - a) + np.array(_bgr(colour), np.float32) * a).astype(
        np.uint8)


def _raster_image(img, s, x, y, w, h, rgb) -> None:
    big = cv2.resize(np.ascontiguousarray(rgb), (w * s, h * s), interpolation=cv2.INTER_NEAREST)
    img[y * s:(y + h) * s, x * s:(x + w) * s] = cv2.cvtColor(big, cv2.COLOR_RGB2BGR)


_RASTER = {"line": _raster_line, "dot": _raster_dot, "rect": _raster_rect,
           "text": _raster_text, "image": _raster_image}
