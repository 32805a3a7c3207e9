"""One self-contained ``report.html``: every image inline, no script, no network.

The line figures (RD curves, per-frame quality and bits) are inline SVG;
pictures and maps are ``data:`` images. A Content-Security-Policy in the
page forbids anything but inline styles and ``data:`` images, so a browser
would refuse (and log) any outside fetch.
Frames at their size up to 640 px wide are lossless PNG; wider frames are
shown downscaled as JPEG (quality 92, 4:4:4) for context only, and the
zoomed crops beside them, where coding artefacts are judged, are always
lossless PNG at 1:1 pixels (enlarged by the browser without smoothing).
"""

from __future__ import annotations

import base64
import html
import json
import time
from pathlib import Path

import cv2
import numpy as np

from ..io.safeio import write_atomic
from ..qpinspect import qp_heatmap
from .figures import TWINS, perframe_figure, rd_figure
from .frames import CRITERIA, FramePick, Shown, crop_boxes

#: Widest full frame kept lossless; wider ones are downscaled to it (JPEG).
MAX_LOSSLESS_WIDTH = 640
JPEG_QUALITY = 92
#: Per-frame curves drawn (the first three measured), beside the bits.
PERFRAME_METRICS = ("psnr", "wpsnr", "xpsnr", "wxpsnr", "ssim", "wssim")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
main{max-width:1280px;margin:0 auto;padding:16px 24px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 9px;
text-align:right}th{background:#f0f0f0}td.l,th.l{text-align:left}
.better{color:#0a6b2d;font-weight:600}.worse{color:#a4161a;font-weight:600}
.warn{background:#fff3cd;border:1px solid #e0b000;padding:8px 12px;margin:8px 0}
.note{color:#555;font-size:13px}
figure{margin:6px 8px 6px 0;display:inline-block;vertical-align:top}
figure.plot{display:block;margin:6px 0}figure.plot svg{display:block;background:#fff}
figcaption{font-size:12px;color:#444;max-width:100%}
img{display:block;background:#ccc}img.px{image-rendering:pixelated}
.card{background:#fff;border:1px solid #ddd;padding:10px 12px;margin:14px 0}
.row{display:flex;flex-wrap:wrap;align-items:flex-start}
.cbar{font-size:11px;margin-top:4px}.cbar .ticks{display:flex;justify-content:space-between}
.cbar .cl{text-align:center;color:#444}
pre{background:#f4f4f4;padding:8px;overflow-x:auto;font-size:12px;white-space:pre-wrap}
"""


def _uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _png(rgb: np.ndarray, level: int = 6, up: bool = False, bgr: bool = False) -> bytes:
    """PNG bytes of an RGB image (``bgr``: already in OpenCV's channel order)."""
    params = [cv2.IMWRITE_PNG_COMPRESSION, level]
    if up and hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.10
        # One filter for every row instead of libpng's adaptive choice: on a photographic
        # sheet about 40% less time and 7% fewer bytes (the pixels are the same).
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    ok, buf = cv2.imencode(".png", rgb if bgr else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _picture(rgb: np.ndarray) -> tuple[str, str]:
    """A full frame as a data URI, and how it was stored (for the caption)."""
    h, w = rgb.shape[:2]
    if w <= MAX_LOSSLESS_WIDTH:
        return _uri(_png(rgb)), f"{w}x{h}, lossless"
    nh = round(h * MAX_LOSSLESS_WIDTH / w)
    small = cv2.resize(rgb, (MAX_LOSSLESS_WIDTH, nh), interpolation=cv2.INTER_AREA)
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), params)
    return _uri(buf.tobytes(), "image/jpeg"), (f"{w}x{h} shown at {MAX_LOSSLESS_WIDTH}x{nh}, "
                                              f"JPEG q{JPEG_QUALITY}: context only")


def saliency_rgb(values: np.ndarray) -> np.ndarray:
    """Colour a saliency map in [0, 1] (viridis: yellow = salient)."""
    grey = (np.clip(np.asarray(values, dtype=np.float32), 0, 1) * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)


def colorbar(colourise, lo: float, hi: float, label: str, width: int = 300) -> str:
    """A colour bar as HTML: a gradient drawn by ``colourise`` itself, and its scale.

    ``colourise`` maps values in ``[lo, hi]`` to RGB uint8, the very function
    that coloured the maps, so the bar cannot disagree with them.
    """
    values = np.linspace(lo, hi, 256, dtype=np.float64)[None, :].repeat(10, axis=0)
    ticks = np.linspace(lo, hi, 5)
    fmt = "{:.0f}" if hi - lo >= 4 else "{:.2g}"
    labels = "".join(f"<span>{fmt.format(t)}</span>" for t in ticks)
    return (f'<div class="cbar" style="width:{width}px"><img class="px" alt="colour bar" '
            f'src="{_uri(_png(colourise(values)))}" width="{width}" height="10">'
            f'<div class="ticks">{labels}</div><div class="cl">{html.escape(label)}</div></div>')


def _fmt_bd(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.1f}%"


def _cls(v: float | None) -> str:
    return "" if v is None else ("better" if v < 0 else "worse")


def _headline(report: dict) -> str:
    ew = report["evaluation_weights"]
    unweighted = [m for m in report["metrics"] if m not in TWINS]
    weighted = {TWINS[m]: m for m in report["metrics"] if m in TWINS}
    out = []
    if ew["circular"]:
        out.append('<p class="warn" id="circular"><b>Circular evaluation:</b> the weighted '
                   "metrics use the encoder's own saliency model, so they favour the saliency "
                   "arm by construction and prove nothing. Judge by the unweighted columns or "
                   "pass <code>--eval-weights</code> with human fixations.</p>")
    for arm, per in report["bd_rate"].items():
        rows = []
        for m in unweighted:
            cells = [f'<td class="l">{m}</td>']
            for name in (m, weighted.get(m)):
                if name is None:
                    cells.append("<td>-</td>")
                    continue
                v = per[name]["pchip"]
                star = " *" if per[name]["low_overlap"] else ""
                cells.append(
                    f'<td class="bd {_cls(v)}" data-arm="{html.escape(arm)}" '
                    f'data-metric="{name}" data-value="{"" if v is None else repr(v)}">'
                    f"{_fmt_bd(v)}{star}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        out.append(
            f"<h3>{html.escape(arm)} against plain x264</h3>"
            '<table class="headline"><tr><th class="l">metric</th><th>unweighted</th>'
            f"<th>weighted by {html.escape(ew['spec'])}</th></tr>" + "".join(rows) + "</table>")
    out.append(
        '<p class="note">BD-rate (pchip): the average difference in coded bytes at equal '
        "quality; negative = salcodec needs fewer bytes (saves), positive = it needs more. "
        f"Weights: {html.escape(ew['weights'])}; the encoder's map: "
        f"{html.escape(ew['encoder_map'])}. * the curves overlap little: treat that number "
        "with care. Rate = coded H.264 pictures, not the container.</p>")
    return "\n".join(out)


def _savings(report: dict) -> str:
    parts = []
    for arm, per in report["savings_at_equal_quality"].items():
        rows = []
        for m, levels in per.items():
            for s in levels:
                f = s["saved_fraction"]
                base = s["baseline_bytes"]
                rows.append(
                    f'<tr><td class="l">{m}</td><td>{s["quality"]:.4g}</td>'
                    f'<td>{"n/a" if base is None else f"{base:,.0f}"}</td>'
                    f'<td>{s["bytes"]:,.0f}</td>'
                    f'<td class="{_cls(None if f is None else -f)}">'
                    f'{"n/a" if f is None else f"{100 * f:+.1f}%"}</td></tr>')
        parts.append(
            f"<details><summary>Bytes saved at each measured quality: {html.escape(arm)}"
            '</summary><table><tr><th class="l">metric</th><th>quality</th>'
            "<th>x264 bytes (interpolated)</th><th>salcodec bytes</th><th>saved</th></tr>"
            + "".join(rows) + "</table></details>")
    return "\n".join(parts)


def _crop(rgb: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    x, y, c = box
    return np.ascontiguousarray(rgb[y:y + c, x:x + c])


def _frame_card(f: Shown, report: dict, arms: list[str], quality: list[dict],
                out: Path | None) -> str:
    h, w = f.source.shape[:2]
    salient, periphery = crop_boxes(f.saliency, w, h)
    c = salient[2]
    zoom = max(2, 256 // c)
    # Small videos are enlarged (whole pixels, no smoothing), large ones fit 400 px.
    disp = w * max(1, 352 // w) if w < 352 else min(w, 400)
    px = ' class="px"' if disp > w else ""
    names = ["source", *arms]
    pictures = [f.source, *f.coded]
    head = []
    for k, arm in enumerate(arms):
        q = ", ".join(f"{m} {quality[k][m][f.index]:.2f}" for m in quality[k]
                      if f.index < len(quality[k][m]))
        head.append(f"{html.escape(arm)}: {f.types[k]}-frame, {f.bits[k] / 1000:.1f} kbit; {q}")
    reasons = "; ".join(CRITERIA[r] for r in f.reasons)
    parts = [f'<div class="card" id="frame-{f.index}"><h3>Frame {f.index}: {reasons}</h3>'
             f'<p class="note">{"<br>".join(head)}</p><div class="row">']
    for name, rgb in zip(names, pictures, strict=True):
        uri, how = _picture(rgb)
        parts.append(f'<figure><img{px} src="{uri}" width="{disp}" alt="{name} frame {f.index}">'
                     f"<figcaption>{html.escape(name)} ({how})</figcaption></figure>")
    parts.append("</div>")
    for label, box in (("most salient region", salient), ("periphery (least salient)",
                                                          periphery)):
        parts.append('<div class="row">')
        for name, rgb in zip(names, pictures, strict=True):
            uri = _uri(_png(_crop(rgb, box)))
            parts.append(f'<figure><img class="px" src="{uri}" width="{c * zoom}" '
                         f'alt="{name} crop"><figcaption>{html.escape(name)}: {label}, '
                         f"{c}x{c} px at ({box[0]}, {box[1]}), x{zoom}</figcaption></figure>")
        parts.append("</div>")
    # Saliency (what the encoder saw) with the crop squares, and realised QP of both arms,
    # stored small (the map at 2x its own size, at least 320 px wide for a macroblock
    # map, QP one pixel per macroblock: the browser enlarges them) so that the page
    # stays light and quick to write.
    sw = min(w, max(2 * f.saliency.shape[1], 320))
    sh = round(h * sw / w)
    sal = saliency_rgb(cv2.resize(f.saliency, (sw, sh), interpolation=cv2.INTER_LINEAR))
    for (x, y, s), colour in ((salient, (255, 64, 64)), (periphery, (255, 255, 255))):
        x0, y0, x1 = round(x * sw / w), round(y * sh / h), round((x + s) * sw / w) - 1
        cv2.rectangle(sal, (x0, y0), (x1, y0 + x1 - x0), colour, max(1, sw // 320))
    lo = int(min(q.min() for q in f.qp))
    hi = max(int(max(q.max() for q in f.qp)), lo + 1)
    heat = [qp_heatmap(q, block=1, qp_range=(lo, hi)) for q in f.qp]
    qp_bar = colorbar(lambda v: qp_heatmap(v, block=1, qp_range=(lo, hi)), lo, hi,
                      "realised QP (bright = low QP = more bits)", width=disp)
    sal_bar = colorbar(saliency_rgb, 0.0, 1.0, "saliency (the encoder's map)", width=disp)
    parts.append('<div class="row">')
    parts.append(f'<figure><img src="{_uri(_png(sal))}" width="{disp}" alt="saliency map">'
                 "<figcaption>the encoder's saliency map (red square: salient crop, white: "
                 f"periphery)</figcaption>{sal_bar}</figure>")
    for k, arm in enumerate(arms):
        parts.append(
            f'<figure><img class="px" src="{_uri(_png(heat[k]))}" width="{disp}" '
            f'alt="QP map {arm}"><figcaption>{html.escape(arm)}: realised QP per macroblock '
            f"(mean {f.qp[k].mean():.1f}, {f.types[k]}-frame)</figcaption>"
            f"{qp_bar}</figure>")
    parts.append("</div></div>")
    if out is not None:
        maps = [cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR),
                *(cv2.resize(m, (m.shape[1] * 16, m.shape[0] * 16),
                             interpolation=cv2.INTER_NEAREST)[:h, :w] for m in heat)]
        _sheet(out / f"frame-{f.index:05d}.png", pictures, [_crop(p, salient) for p in pictures],
               [_crop(p, periphery) for p in pictures], maps, zoom)
    return "".join(parts)


def _sheet(path: Path, full, salient, periphery, maps, zoom: int, gap: int = 8) -> None:
    """The same frame panels as one PNG (no captions: order as in the page).

    Rows: the full frames, the salient crops and the peripheral crops (enlarged
    ``zoom`` times), the maps; white ``gap`` px after each panel and row.
    """
    big = [cv2.resize(c, (c.shape[1] * zoom, c.shape[0] * zoom),
                      interpolation=cv2.INTER_NEAREST) for c in (*salient, *periphery)]
    rows = [list(full), big[:3], big[3:], list(maps)]
    heights = [max(i.shape[0] for i in r) + gap for r in rows]
    width = max(sum(i.shape[1] + gap for i in r) for r in rows)
    # One allocation, panels pasted in (in BGR, the encoder's order): stacking padded
    # copies and converting the whole sheet cost as much as its PNG.
    sheet = np.full((sum(heights), width, 3), 255, np.uint8)
    y = 0
    for r, h in zip(rows, heights, strict=True):
        x = 0
        for i in r:
            cv2.cvtColor(i, cv2.COLOR_RGB2BGR, dst=sheet[y:y + i.shape[0], x:x + i.shape[1]])
            x += i.shape[1] + gap
        y += h
    # Big and not inlined: fast over small.
    write_atomic(path, _png(sheet, level=1, up=True, bgr=True))


def _provenance(report: dict) -> str:
    prov = report.get("provenance", {})
    versions = "".join(f'<tr><td class="l">{html.escape(k)}</td><td class="l">'
                       f"{html.escape(str(v))}</td></tr>" for k, v in prov.get("versions",
                                                                               {}).items())
    settings = {a["name"]: a["settings"] for a in report["arms"]}
    typed = prov.get("command")
    return ((f"<p>Command as typed:</p><pre id=\"command\">{html.escape(typed)}</pre>"
             if typed else "")
            + "<p>Equivalent command, every setting spelled out:</p>"
            f"<pre id=\"equivalent\">{html.escape(prov.get('equivalent_command', '?'))}</pre>"
            f"<p>CRFs {', '.join(f'{c:g}' for c in report['crfs'])}; metrics "
            f"{', '.join(report['metrics'])}; input {html.escape(report['input'])}"
            + (f"; sample: {html.escape(json.dumps(report['sample']))}" if report["sample"]
               else "") + f"; VMAF: {html.escape(report['vmaf'])}.</p>"
            f"<table>{versions}</table><details><summary>Settings of each arm (CRF varies)"
            f"</summary><pre>{html.escape(json.dumps(settings, indent=1))}</pre></details>")


def render_html(report: dict, pick: FramePick | None, quality: list[dict] | None,
                matched: dict | None, out: Path | None = None) -> str:
    """The page as a string; with ``out``, the figures are also written there as PNG."""
    name = html.escape(Path(report["input"]).name)
    rd = rd_figure(report)
    if out is not None:
        write_atomic(out / "rd.png", rd.png())
    body = [f"<h1>salcodec compare: {name}</h1>",
            f'<p class="note">Saliency-guided libx264 against plain libx264 with the same '
            f"settings, {len(report['crfs'])} CRFs per arm. Generated "
            f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}.</p>",
            "<h2>Headline: bytes at equal quality</h2>", _headline(report), _savings(report),
            "<h2>Rate-distortion curves</h2>",
            f'<figure class="plot">{rd.svg("RD curves")}</figure>']
    if pick is not None and matched is not None:
        arms = pick.arms
        shown = [m for m in PERFRAME_METRICS if m in quality[0]][:3]
        series = {"arms": arms, "metrics": {m: [quality[0][m], quality[1][m]] for m in shown},
                  "bits": pick.bits, "cuts": pick.cuts,
                  "picked": {f.index: f.reasons for f in pick.frames}}
        pf = perframe_figure(series)
        if out is not None:
            write_atomic(out / "perframe.png", pf.png())
        body += ["<h2>Frames side by side, at matched size</h2>",
                 f'<p class="note">{html.escape(matched["text"])}. Frames chosen while '
                 "streaming: " + "; ".join(CRITERIA.values()) + " (contrast and motion "
                 "ranked among the salcodec encode's I- and P-frames: on B-frames x264 takes "
                 "most QPs from the reference frames)."
                 + ("" if pick.cuts else " This clip has no scene cut.") + "</p>"]
        body += [_frame_card(f, report, arms, quality, out) for f in pick.frames]
        body += ["<h2>Quality and bits per frame</h2>",
                 f'<p class="note">The matched pair: {html.escape(matched["text"])}.</p>',
                 f'<figure class="plot">{pf.svg("per-frame quality and bits")}</figure>']
    body += ["<h2>Reproduce</h2>", _provenance(report)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>salcodec compare: {name}</title><style>{STYLE}</style></head>"
            "<body><main>" + "\n".join(body) + "</main></body></html>\n")


def write_report(report: dict, out_dir: str | Path, pick: FramePick | None = None,
                 quality: list[dict] | None = None, matched: dict | None = None) -> dict:
    """Write ``report.html`` and the figure PNGs into ``out_dir``; return what was written."""
    started, cpu = time.monotonic(), time.process_time()
    out = Path(out_dir)
    page = render_html(report, pick, quality, matched, out)
    target = out / "report.html"
    write_atomic(target, page)
    figures = sorted(p.name for p in out.glob("*.png"))
    # The frame pass ran before (while the encodes existed): its time counts too.
    return {"file": target.name, "bytes": target.stat().st_size,
            "seconds": round(time.monotonic() - started + (pick.seconds if pick else 0.0), 3),
            "cpu_seconds": round(time.process_time() - cpu + (pick.cpu_seconds if pick else 0.0),
                                 3),
            "figures": figures}
