"""Child-process entry point: run one encode arm and print one JSON line.

``python -m benchmarks.arm ARM INPUT OUTPUT [--crf N] [--preset P] [--x264-params S]``

ARM is ``plain`` (benchmarks.plain_x264; imports PyAV only), ``salcodec``
(``salcodec.encode`` with saliency) or ``nosal`` (``salcodec.encode`` with
``saliency=False``: salcodec's imports and pipeline without the saliency work).
The JSON has the in-process seconds of the import and of the encode, so the
parent can split a run's wall time into start-up and work.
"""

from __future__ import annotations

import argparse
import json
import time

ARMS = ("plain", "salcodec", "nosal")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.arm")
    p.add_argument("arm", choices=ARMS)
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--crf", type=float, default=23)
    p.add_argument("--preset", default="medium")
    p.add_argument("--x264-params", default=None)
    p.add_argument("--model", default="default")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    if a.arm == "plain":
        from benchmarks import plain_x264

        t1 = time.perf_counter()
        r = plain_x264.transcode(a.input, a.output, a.crf, a.preset, a.x264_params)
        info = {"frames": r["frames"], "bytes": r["bytes"], "options": r["options"]}
    else:
        import salcodec
        from salcodec.codecs.x264 import x264_options

        t1 = time.perf_counter()
        r = salcodec.encode(a.input, a.output, crf=a.crf, preset=a.preset,
                            x264_params=a.x264_params, saliency=a.arm == "salcodec",
                            model=a.model, overwrite=True, progress=False)
        info = {"frames": r.frames_out, "bytes": r.bytes,
                "options": x264_options(a.crf, a.preset, a.x264_params, a.arm == "salcodec"),
                "mean_abs_qp_offset": r.mean_abs_qp_offset}
    t2 = time.perf_counter()
    print(json.dumps({"arm": a.arm, "import_s": t1 - t0, "encode_s": t2 - t1, **info}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
