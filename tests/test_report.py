"""The HTML comparison report, its figures, and a real browser opening it.

The browser check drives Debian's ``chromium`` over the DevTools protocol on a
pipe (``--remote-debugging-pipe``: no port, no Python driver), with the
network off; it is skipped, saying why, where chromium is not installed.
Set SALCODEC_INSTALL_CHROMIUM=1 to let the test install it with apt-get
(as root).

Regenerate docs/report.png (the embedded clip, default settings)::

    salcodec compare salcodec/data/carphone.mp4 --out /tmp/carphone --html
    python -m tests.test_report /tmp/carphone/report.html docs/report.png
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from salcodec.errors import SalcodecError
from salcodec.report import matched_points, pick_frames, rd_ticks
from salcodec.report.frames import _Recorder, crop_boxes, saliency_contrast
from salcodec.settings import EncodeSettings

from .media import CARPHONE

FAST = EncodeSettings(preset="veryfast", model="lc")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  # Any request that escaped the page's CSP would go to a dead proxy.
                  "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]


# ---------------------------------------------------------------- a DevTools pipe client

def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class DevTools:
    """Chromium driven over --remote-debugging-pipe (fd 3 commands, fd 4 replies, NUL-ended)."""

    def __init__(self, exe: str, user_data_dir: str, width: int = 1280, height: int = 900):
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()

        def wire():  # in the child: the pipe ends on the fds chromium expects
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.proc = subprocess.Popen(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}",
             f"--window-size={width},{height}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # fds 3 and 4 are made by ``wire`` after the fork; kept through the exec.
            preexec_fn=wire, pass_fds=(3, 4))
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        self.session: str | None = None

    def send(self, method: str, params: dict | None = None, timeout: float = 60.0) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._next(timeout)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 60.0) -> dict:
        for e in self.events:
            if e.get("method") == method:
                return e
        while True:
            e = self._next(timeout)
            self.events.append(e)
            if e.get("method") == method:
                return e

    def _next(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def attach_page(self) -> None:
        pages = [t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page"]
        target = pages[0]["targetId"] if pages else self.send(
            "Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._r, self._w):
            os.close(fd)


CHECK_PAGE = """
(async () => {
  const imgs = [...document.images];
  const decoded = await Promise.all(imgs.map(i => i.decode().then(() => "", e => String(e))));
  return {
    images: imgs.map((i, k) => ({alt: i.alt, w: i.naturalWidth, h: i.naturalHeight,
                                 error: decoded[k], src: i.src.slice(0, 22)})),
    headline: [...document.querySelectorAll("table.headline td.bd")].map(c => ({
      arm: c.dataset.arm, metric: c.dataset.metric, value: c.dataset.value,
      text: c.textContent.trim()})),
    circular: !!document.getElementById("circular"),
    title: document.title,
    height: document.documentElement.scrollHeight,
  };
})()
"""


def open_report(html: Path, screenshot: Path, exe: str, clip_height: int | None = None,
                scale: float = 1.0) -> dict:
    """Load ``html`` offline in headless chromium; page facts, errors, and a PNG screenshot."""
    with tempfile.TemporaryDirectory(prefix="salcodec-chromium-") as profile:
        dt = DevTools(exe, profile)
        try:
            dt.attach_page()
            for domain in ("Page", "Runtime", "Log", "Network"):
                dt.send(f"{domain}.enable")
            dt.send("Network.emulateNetworkConditions", {
                "offline": True, "latency": 0, "downloadThroughput": -1,
                "uploadThroughput": -1})
            dt.send("Page.navigate", {"url": html.resolve().as_uri()})
            dt.wait_event("Page.loadEventFired")
            facts = dt.send("Runtime.evaluate", {"expression": CHECK_PAGE, "awaitPromise": True,
                                                 "returnByValue": True})["result"]["value"]
            size = dt.send("Page.getLayoutMetrics")["cssContentSize"]
            height = min(size["height"], clip_height or size["height"])
            shot = dt.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": height,
                         "scale": scale}})
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            time.sleep(0.2)  # late console/log events
            dt.send("Runtime.evaluate", {"expression": "1"})
        finally:
            dt.close()
    errors = []
    for e in dt.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(f"console.{p['type']}: {p.get('args')}")
        elif m == "Runtime.exceptionThrown":
            errors.append(f"exception: {p['exceptionDetails'].get('text')}")
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif m == "Network.loadingFailed":
            errors.append(f"network: {p.get('errorText')}")
        elif m == "Network.requestWillBeSent":
            url = p["request"]["url"]
            if not url.startswith(("data:", "file:")):
                errors.append(f"outside request: {url}")
    facts["errors"] = errors
    return facts


def _chromium() -> str:
    exe = find_chromium()
    if exe is None and os.environ.get("SALCODEC_INSTALL_CHROMIUM") == "1" and shutil.which(
            "apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
        exe = find_chromium()
    if exe is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium; or set "
                    "SALCODEC_INSTALL_CHROMIUM=1 as root): the browser check cannot run")
    return exe


# ---------------------------------------------------------------- the report itself

@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    from salcodec.compare import compare

    out = tmp_path_factory.mktemp("report")
    # The report reads the maps the saliency encode exported; rerunning the model fails.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_Recorder, "step", _model_rerun)
        report = compare(CARPHONE, out, crfs=(24, 32), settings=FAST,
                         eval_weights="model:spectral", html=True)
    return out, report


def _model_rerun(*args, **kwargs):
    raise AssertionError("the report ran the saliency model again")


def test_frame_pass_reads_the_exported_maps_instead_of_the_model(tmp_path, monkeypatch):
    from salcodec import encode
    from salcodec.mapfile import MapReader

    plain, sal, maps = tmp_path / "p.mkv", tmp_path / "s.mkv", tmp_path / "s.map.jsonl"
    encode(CARPHONE, plain, FAST, saliency=False)
    encode(CARPHONE, sal, FAST, export_map=maps)
    reran = pick_frames(CARPHONE, plain, sal, FAST)
    monkeypatch.setattr(_Recorder, "step", _model_rerun)
    read = pick_frames(CARPHONE, plain, sal, FAST, maps=maps)
    # The same cuts (the encoder's detector on the same thumbnails), bits and types.
    assert (read.cuts, read.bits, read.types) == (reran.cuts, reran.bits, reran.types)
    records = list(MapReader(maps, 176, 144))
    assert read.frames
    for f in read.frames:  # what the page draws is the encoder's exported importance
        np.testing.assert_allclose(f.saliency, np.clip(records[f.index].importance, 0, 1))
    short = tmp_path / "short.map.jsonl"
    short.write_text("".join(maps.read_text().splitlines(keepends=True)[:5]))
    with pytest.raises(SalcodecError, match="the map ends before the video"):
        pick_frames(CARPHONE, plain, sal, FAST, maps=short)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_report_html_is_self_contained_and_light(compared):
    out, report = compared
    page = (out / "report.html").read_text(encoding="utf-8")
    info = report["html"]
    assert info["bytes"] == len(page.encode()) and info["bytes"] < 5e6
    assert json.loads((out / "report.json").read_text())["html"] == info
    tags = _Tags()
    tags.feed(page)
    names = [t for t, _ in tags.tags]
    assert "script" not in names and "link" not in names and "iframe" not in names
    srcs = [a["src"] for t, a in tags.tags if t == "img"]
    assert srcs and all(s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,"))
                        for s in srcs)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "url(" not in page and "@import" not in page and "@font-face" not in page
    csp = [a for t, a in tags.tags if t == "meta" and a.get("http-equiv")]
    assert csp and "default-src 'none'" in csp[0]["content"]
    # Figures for people who script, beside report.json.
    for name in ("rd.png", "perframe.png", *info["figures"]):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    shown = report["html"] and json.loads((out / "report.json").read_text())
    assert shown["provenance"]["equivalent_command"].startswith("salcodec compare ")
    assert "--model lc" in shown["provenance"]["equivalent_command"]
    assert shown["provenance"]["versions"]["libx264"].startswith("x264 - core")


def test_report_frames_and_matched_pair(compared):
    out, report = compared
    page = (out / "report.html").read_text(encoding="utf-8")
    i, j = matched_points(report)
    sizes = [p["bytes"] for p in report["arms"][0]["points"]], \
        [p["bytes"] for p in report["arms"][1]["points"]]
    best = min(abs(np.log(a / b)) for a in sizes[0] for b in sizes[1])
    assert abs(np.log(sizes[0][i] / sizes[1][j])) == best
    frames = report["html"]["figures"]
    picked = [int(m) for m in re.findall(r'id="frame-(\d+)"', page)]
    assert 1 <= len(picked) <= 3 and picked == sorted(picked)
    assert [f"frame-{k:05d}.png" for k in picked] == [f for f in frames if f.startswith("frame")]
    for k in picked:  # each card: 3 pictures, 6 crops, saliency, 2 QP maps, 2 colour bars
        card = re.split(r'class="card"|<h2>', page.split(f'id="frame-{k}"')[1])[0]
        assert card.count("<img") == 3 + 6 + 3 + 3
        assert "-frame" in card and "realised QP" in card


def test_report_opens_in_chromium_offline(compared, tmp_path):
    exe = _chromium()
    out, report = compared
    facts = open_report(out / "report.html", tmp_path / "shot.png", exe)
    assert facts["errors"] == []
    assert facts["images"] and all(i["w"] > 0 and i["h"] > 0 and i["error"] == ""
                                   for i in facts["images"])
    shot = (tmp_path / "shot.png").read_bytes()
    assert shot[:4] == b"\x89PNG" and len(shot) > 10_000
    # The headline in the page is report.json's, cell for cell.
    on_disk = json.loads((out / "report.json").read_text())
    want = {(arm, m): v for arm, per in on_disk["bd_rate"].items() for m, v in per.items()}
    got = {(c["arm"], c["metric"]): c for c in facts["headline"]}
    assert set(got) == set(want)
    for key, v in want.items():
        cell = got[key]
        if v["pchip"] is None:
            assert cell["value"] == "" and cell["text"].startswith("n/a")
        else:
            assert float(cell["value"]) == v["pchip"]
            assert cell["text"] == f"{v['pchip']:+.1f}%" + (" *" if v["low_overlap"] else "")
    assert facts["circular"] is on_disk["evaluation_weights"]["circular"] is False


def test_browser_check_catches_an_outside_request(tmp_path):
    """The check is not blind: a page that fetches from the network fails it."""
    exe = _chromium()
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
                    '<img src="http://example.invalid/x.png" alt="x"></body></html>')
    facts = open_report(page, tmp_path / "bad.png", exe)
    assert facts["errors"]
    assert facts["images"][0]["w"] == 0


# ---------------------------------------------------------------- pieces

def test_compare_cli_documents_html(capsys):
    from salcodec.cli import main

    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    assert "--html" in capsys.readouterr().out



def test_rd_ticks_are_few_and_plain():
    assert rd_ticks(180, 520) == [200, 300, 500]
    for lo, hi in ((12, 13), (3, 3000), (0.5, 0.9), (150, 260)):
        t = rd_ticks(lo, hi)
        assert 2 <= len(t) <= 7 and all(lo <= x <= hi for x in t) or len(t) == 2
        assert t == sorted(t)


def _fake_report(metrics=("psnr", "ssim", "wpsnr"), circular=False) -> dict:
    arms = []
    for k, (name, scale) in enumerate((("x264", 1.0), ("salcodec s=2", 0.85))):
        pts = [{"crf": c, "bytes": int(scale * b),
                "metrics": {m: (40 - c / 4 - k if "psnr" in m else 0.99 - c / 1000)
                            for m in metrics}}
               for c, b in ((18, 1_540_000), (23, 1_010_000), (28, 620_000), (33, 380_000))]
        arms.append({"name": name, "points": pts, "settings": {}})
    bd = {m: {"pchip": -12.345 if m != "ssim" else None, "low_overlap": m == "wpsnr"}
          for m in metrics}
    return {"input": "/data/clip.mp4", "metrics": list(metrics), "arms": arms,
            "evaluation_weights": {"spec": "model:spectral", "circular": circular},
            "bd_rate": {"salcodec s=2": bd}}


def _texts(canvas):
    return [i for i in canvas.items if i[0] == "text"]


def test_rd_figure_is_readable_without_a_plotting_library():
    import cv2

    from salcodec.report import rd_figure
    from salcodec.report.canvas import text_width

    c = rd_figure(_fake_report())
    texts = _texts(c)
    words = [t[3] for t in texts]
    # BD-rates printed on each panel, the legend, the weighting named.
    assert words.count("salcodec s=2: BD-rate -12.3%") == 1  # psnr
    assert "salcodec s=2: BD-rate n/a" in words  # ssim: no value
    assert "salcodec s=2: BD-rate -12.3% (low overlap)" in words  # wpsnr
    assert {"x264", "salcodec s=2"} <= set(words)
    assert "wpsnr (weighted by model:spectral)" in words
    # x tick labels (centred, one row per panel): plain numbers that do not touch.
    rows: dict[float, list] = {}
    for t in texts:
        if t[6] == "middle" and t[3].replace(",", "").isdigit():
            rows.setdefault(t[2], []).append((t[1], text_width(t[3], t[4])))
    assert len(rows) == 1 and all(len(r) >= 3 for r in rows.values())
    for r in rows.values():
        spans = sorted((x - w / 2, x + w / 2) for x, w in r)
        assert all(a[1] + 4 <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    # Both renderings: SVG text in the page, a PNG of the canvas's size.
    svg = c.svg("RD curves")
    assert svg.startswith("<svg") and "BD-rate -12.3%" in svg and "<script" not in svg
    png = cv2.imdecode(np.frombuffer(c.png(), np.uint8), cv2.IMREAD_COLOR)
    assert png.shape[:2] == (c.height, c.width)
    assert len(np.unique(png.reshape(-1, 3), axis=0)) > 20  # curves drawn, not a blank
    circular = [t[3] for t in _texts(rd_figure(_fake_report(circular=True)))]
    assert "wpsnr (weighted by model:spectral) CIRCULAR" in circular


def test_perframe_figure_of_a_long_video_stays_small_and_keeps_spikes():
    from salcodec.report import perframe_figure
    from salcodec.report.figures import _envelope

    n = 200_000  # about 2 h at 25 fps
    rng = np.random.default_rng(1)
    psnr = [rng.normal(38, 0.5, n), rng.normal(36, 0.5, n)]
    psnr[1][123_456] = 20.0  # one bad frame
    bits = [rng.integers(1000, 90_000, n), rng.integers(1000, 90_000, n)]
    series = {"arms": ["x264", "salcodec s=2"], "metrics": {"psnr": psnr}, "bits": bits,
              "cuts": [5000], "picked": {100: ["salient"]}}
    svg = perframe_figure(series).svg()
    assert len(svg) < 300_000
    x, y = _envelope(psnr[1], 1000)
    assert len(x) == 2000 and y.min() == 20.0 and y.max() == psnr[1].max()
    assert 123_000 <= x[np.argmin(y)] <= 124_000
    short = np.arange(10.0)
    assert np.array_equal(_envelope(short, 1000)[1], short)


def test_frame_sheet_holds_each_panel_in_place(tmp_path):
    import cv2

    from salcodec.report.html import _sheet

    rng = np.random.default_rng(2)
    full = [rng.integers(0, 255, (40, 64, 3), dtype=np.uint8) for _ in range(3)]
    crops = [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(6)]
    maps = [rng.integers(0, 255, (40, 64, 3), dtype=np.uint8) for _ in range(3)]
    _sheet(tmp_path / "s.png", full, crops[:3], crops[3:], maps, zoom=3)
    sheet = cv2.cvtColor(cv2.imread(str(tmp_path / "s.png")), cv2.COLOR_BGR2RGB)
    assert sheet.shape == (40 + 24 + 24 + 40 + 4 * 8, 3 * (64 + 8), 3)
    assert np.array_equal(sheet[:40, 72:136], full[1])
    assert np.array_equal(sheet[48:72, 32:56], crops[1].repeat(3, 0).repeat(3, 1))
    assert np.array_equal(sheet[80:104, 0:24], crops[3].repeat(3, 0).repeat(3, 1))
    assert np.array_equal(sheet[112:152, 144:208], maps[2])
    assert (sheet[40:48] == 255).all() and (sheet[:40, 64:72] == 255).all()


def test_kept_frames_decoded_from_the_idr_before_them_are_bit_exact(tmp_path, monkeypatch):
    from salcodec.report import frames
    from salcodec.transcode import encode

    path = tmp_path / "k12.mp4"
    encode(CARPHONE, path, FAST.with_(crf=30, params="keyint=12:min-keyint=12"), progress=False)
    rows = frames._coded_index(path)
    idr = [r[0] for r in rows if r[3]]
    assert len(idr) >= 8 and idr[0] == rows[0][0]
    picks = [3, 25, 26, 57, len(rows) - 1]  # same GOP twice, then further ones
    wanted = {rows[i][0]: i for i in picks}
    landed = []
    chain = frames._chain
    monkeypatch.setattr(frames, "_chain", lambda first, rest: landed.append(first.pts) or
                        chain(first, rest))
    seeking = frames._decode_kept(path, wanted, idr)
    assert landed == [idr[2], idr[4], idr[-1]]  # a seek per GOP after the first
    whole = frames._decode_kept(path, wanted)  # from the start, no index
    for i in picks:
        assert np.array_equal(seeking[i][0], whole[i][0])
        assert np.array_equal(seeking[i][1], whole[i][1])


def test_sidecar_importance_text():
    from salcodec.report.frames import _importance_text

    line = '{"frame": 3, "pts": 6, "importance": [0.1, 0.25], "offsets": [-1, 0]}\n'
    assert _importance_text(line) == "[0.1, 0.25"
    assert _importance_text('{"frame": 3, "importance": null, "offsets": [1]}') is None
    assert _importance_text('{"frame": 3, "offsets": [1]}') is None
    # Rows of a 2-D list share their first row's text: never reused, always parsed.
    assert _importance_text('{"importance": [[0.1, 0.2], [0.3, 0.4]], "offsets": [1]}') is None


def test_linear_tick_labels_say_their_values():
    from salcodec.report.axes import linear_ticks, tick_label

    for lo, hi in ((27.3, 40.2), (0.88, 0.985), (33.1, 41.7), (-3.0, 2.0), (100, 2600)):
        t = linear_ticks(lo, hi, most=6)
        assert 2 <= len(t) <= 6 and all(lo <= v <= hi for v in t)
        labels = [tick_label(v, t[1] - t[0]) for v in t]
        assert [float(x.replace(",", "")) for x in labels] == pytest.approx(t)
        assert len({len(x.split(".")[-1]) for x in labels if "." in x}) <= 1  # same decimals


def test_crops_sit_on_the_peak_and_away_from_it():
    sal = np.zeros((36, 44), np.float32)
    sal[4:10, 30:38] = 1.0  # a salient patch, top right
    (sx, sy, c), (px, py, pc) = crop_boxes(sal, 176, 144)
    assert c == pc == 48
    cx, cy = (sx + c / 2) * 44 / 176, (sy + c / 2) * 36 / 144
    assert 28 <= cx <= 40 and 2 <= cy <= 12
    assert abs(px - sx) >= c or abs(py - sy) >= c
    assert saliency_contrast(sal) > saliency_contrast(np.full_like(sal, 0.5))


def test_inspect_png_has_colour_bar_and_frame_type(tmp_path, capsys):
    from salcodec.cli import main
    from salcodec.transcode import encode

    out = tmp_path / "c.mp4"
    encode(CARPHONE, out, FAST.with_(crf=30), progress=False)
    png = tmp_path / "qp.png"
    assert main(["inspect", str(out), "--png", str(png), "--frame", "1", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["kept"]["type"] in ("I", "P", "B") and stats["kept"]["index"] == 1
    import cv2

    img = cv2.imread(str(png))
    assert img is not None and img.shape[1] > img.shape[0] * 0.8
    # A colour bar: a tall strip right of the map whose colours run through the scale.
    right = img[img.shape[0] // 4: 3 * img.shape[0] // 4, int(img.shape[1] * 0.8):]
    assert len(np.unique(right.reshape(-1, 3), axis=0)) > 50
    # Refused before decoding anything (checked like every verb's output).
    assert main(["inspect", str(out), "--png", str(tmp_path / "no" / "qp.png")]) == 1
    assert "no/qp.png: directory" in capsys.readouterr().err


if __name__ == "__main__":  # python -m tests.test_report REPORT.html SCREENSHOT.png
    exe = find_chromium()
    if exe is None:
        sys.exit("chromium is not installed")
    facts = open_report(Path(sys.argv[1]), Path(sys.argv[2]), exe, clip_height=2300,
                        scale=0.5)
    print(json.dumps({"errors": facts["errors"], "images": len(facts["images"])}))


def test_perframe_figure_leaves_gaps_for_frames_without_a_score():
    from salcodec.report import perframe_figure

    psnr = [np.array([38.0, 37.5, np.nan, 37.0, 36.5, np.inf, 35.0, 34.5]),
            np.array([np.nan, 36.0, 35.5, 35.0, 34.0, 33.0, 32.0, 31.0])]
    series = {"arms": ["x264", "salcodec s=2"], "metrics": {"psnr": psnr},
              "bits": [np.full(8, 8000), np.full(8, 6000)], "cuts": [], "picked": {}}
    canvas = perframe_figure(series)
    svg = canvas.svg()
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    png = canvas.png()  # rasterising must not meet a NaN either
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # Arm 0's psnr is three runs (38, 37.5 | 37, 36.5 | 35, 34.5): two lines more than whole.
    from salcodec.report.axes import COLOURS

    whole = dict(series, metrics={"psnr": [np.arange(8.0) + 30, psnr[1]]})
    stroke = f'stroke="{COLOURS[0]}"'
    assert svg.count(stroke) == perframe_figure(whole).svg().count(stroke) + 2
