"""Matplotlib figures of a comparison: RD curves, per-frame quality and bits, QP maps.

Every function returns the PNG bytes (what the HTML page inlines) and writes
them to ``path`` when one is given (what people who script read).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from ..io.safeio import write_atomic

#: Weighted metrics (scored with an importance map) and their unweighted twins.
TWINS = {"wpsnr": "psnr", "wssim": "ssim", "wxpsnr": "xpsnr"}
UNITS = {"psnr": "dB", "wpsnr": "dB", "xpsnr": "dB", "wxpsnr": "dB"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig, path: str | Path | None, dpi: int = 90) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    _plt().close(fig)
    data = buf.getvalue()
    if path is not None:
        write_atomic(path, data)
    return data


def rd_ticks(lo: float, hi: float) -> list[float]:
    """Few, readable tick values for a log axis spanning ``[lo, hi]`` (lo > 0).

    Prefers the 1-2-5 series; adds 3, 4, 6, 8 ... only when fewer than three
    of those fall in range, and never more than seven ticks, so the labels
    (plain numbers, no ``2x10^2``) do not run into each other.
    """
    if not (0 < lo <= hi and math.isfinite(hi)):
        raise ValueError(f"need 0 < lo <= hi, got {lo}, {hi}")
    decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
    for mantissas in ((1, 2, 5), (1, 2, 3, 5, 7), (1, 1.5, 2, 3, 4, 5, 6, 8)):
        ticks = sorted(m * 10.0 ** d for d in decades for m in mantissas)
        ticks = [t for t in ticks if lo <= t <= hi]
        if len(ticks) >= 3:
            break
    while len(ticks) > 7:
        ticks = ticks[::2]
    if len(ticks) < 2:  # a very narrow span: its ends, rounded to 2 significant digits
        ticks = sorted({float(f"{lo:.2g}"), float(f"{hi:.2g}")})
    return ticks


def _tick_label(v: float) -> str:
    return f"{v:,.0f}" if v >= 10 else f"{v:g}"


def plot_rd(report: dict, path: str | Path | None = None) -> bytes:
    """RD curves, one panel per metric (bytes on a log axis), BD-rates printed on each."""
    plt = _plt()
    metrics = report["metrics"]
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.5 * rows), squeeze=False)
    kb = [p["bytes"] / 1000 for a in report["arms"] for p in a["points"]]
    lo, hi = min(kb) / 1.08, max(kb) * 1.08
    ticks = rd_ticks(lo, hi)
    weights = report["evaluation_weights"]
    for ax, m in zip(axes.flat, metrics, strict=False):
        for arm in report["arms"]:
            pts = arm["points"]
            ax.plot([p["bytes"] / 1000 for p in pts], [p["metrics"][m] for p in pts],
                    marker="o", ms=4, label=arm["name"])
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_locator(_fixed(ticks))
        ax.xaxis.set_major_formatter(_formatter(_tick_label))
        ax.xaxis.set_minor_locator(_fixed([]))
        ax.set_xlabel("coded video, kB (log scale)")
        ax.set_ylabel(f"{m} ({UNITS[m]})" if m in UNITS else m)
        title = m
        if m in TWINS:
            title += f" (weighted by {weights['spec']})" + (" CIRCULAR" if weights["circular"]
                                                            else "")
        ax.set_title(title, fontsize=9)
        ax.grid(True, alpha=0.3)
        lines = []
        for arm, per in report["bd_rate"].items():
            v = per[m]["pchip"]
            lines.append(f"{arm}: BD-rate " + ("n/a" if v is None else f"{v:+.1f}%")
                         + (" (low overlap)" if per[m]["low_overlap"] else ""))
        ax.text(0.98, 0.04, "\n".join(lines), transform=ax.transAxes, ha="right", va="bottom",
                fontsize=7.5, bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    axes[0][0].legend(fontsize=8, loc="upper left")
    plain = report["arms"][0]["name"] if report.get("arms") else "x264"
    fig.suptitle(f"{Path(report['input']).name}: RD curves vs plain {plain} "
                 "(BD-rate pchip; negative = fewer bytes at equal quality)", fontsize=9)
    # Fixed margins: tight_layout measures every label and costs more than the drawing.
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14 / rows, top=1 - 0.13 / rows,
                        wspace=0.3, hspace=0.45)
    return _png(fig, path)


def plot_perframe(series: dict, path: str | Path | None = None) -> bytes:
    """Quality and bits per frame of the two matched encodes.

    ``series`` has ``arms`` (two names), ``metrics`` {name: [values arm 0,
    values arm 1]}, ``bits`` [bits arm 0, bits arm 1], ``types`` (frame types of
    arm 1), ``cuts`` (frame indices) and ``picked`` {frame: label}.
    """
    plt = _plt()
    names = list(series["metrics"])
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(11, 1.9 * (len(names) + 1)),
                             sharex=True, squeeze=False)
    axes = axes[:, 0]
    colours = ("tab:blue", "tab:orange")
    for ax, m in zip(axes, names, strict=False):
        for k, arm in enumerate(series["arms"]):
            y = series["metrics"][m][k]
            ax.plot(np.arange(len(y)), y, lw=1, color=colours[k], label=arm)
        ax.set_ylabel(f"{m} ({UNITS[m]})" if m in UNITS else m, fontsize=8)
        ax.grid(True, alpha=0.3)
    ax = axes[-1]
    for k, arm in enumerate(series["arms"]):
        bits = np.asarray(series["bits"][k], dtype=np.float64) / 1000
        ax.plot(np.arange(len(bits)), bits, lw=1, color=colours[k], label=arm)
    ax.set_yscale("log")
    ax.set_ylabel("kbit / frame", fontsize=8)
    ax.set_xlabel("frame (presentation order)")
    ax.grid(True, alpha=0.3)
    for a in axes:
        for c in series.get("cuts", []):
            a.axvline(c, color="0.5", ls=":", lw=1)
        for f in series.get("picked", {}):
            a.axvline(f, color="tab:green", lw=1, alpha=0.6)
    axes[0].legend(fontsize=8, loc="lower right", ncol=2)
    axes[0].set_title("per frame: quality and bits of the matched encodes "
                      "(green: frames shown below; dotted: scene cuts)", fontsize=9)
    n = len(axes)
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.3 / n, top=1 - 0.12 / n, hspace=0.12)
    return _png(fig, path)


def plot_qp(qp: np.ndarray, title: str, path: str | Path | None = None,
            qp_range: tuple[int, int] | None = None) -> bytes:
    """A per-macroblock QP map with its colour bar (``salcodec inspect --png``)."""
    plt = _plt()
    qp = np.asarray(qp)
    lo, hi = qp_range or (int(qp.min()), max(int(qp.max()), int(qp.min()) + 1))
    h, w = qp.shape
    fig, ax = plt.subplots(figsize=(min(10.0, max(4.0, w / 8)) + 1.2,
                                    min(10.0, max(4.0, w / 8)) * h / w + 0.9))
    # Reversed inferno, as qp_heatmap: low QP (more bits) bright.
    im = ax.imshow(qp, cmap="inferno_r", vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_xlabel("macroblock column")
    ax.set_ylabel("macroblock row")
    ax.set_title(title, fontsize=9)
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    bar.set_label("QP (low = more bits)")
    fig.tight_layout()
    return _png(fig, path, dpi=100)


def _fixed(values):
    from matplotlib.ticker import FixedLocator

    return FixedLocator(values)


def _formatter(fn):
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: fn(v))
