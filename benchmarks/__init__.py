"""Reproducible benchmarks of salcodec against plain libx264: ``python -m benchmarks.run``.

Modules (each section is a plain function returning a JSON-ready dict):

``common``
    Machine and version description, child processes measured with ``wait4``,
    lossless cuts and real frames taken from the data folder.
``plain_x264``
    The baseline: decode with PyAV, encode with libx264 via PyAV, copy audio, mux.
``arm``
    Child-process entry point that runs one encode arm and prints JSON.
``throughput``
    Saliency-model frames/s, numba compile time, cold start with an empty and a
    populated numba cache.
``overhead``
    Encode wall time and peak RSS of salcodec vs the plain baseline, and peak
    RSS in the video's length.
``compression``
    BD-rate tables of ``salcodec.compare`` on clips, and EW-PSNR BD-rate on the
    fixation image sets.
``profile_encode``
    One salcodec encode in a child: memory per import, saliency worker time,
    cProfile of the main thread.
``report``
    RESULTS.md rendering.
``run``
    The entry point: plan, sections, targets, RESULTS.md and results.json.
``saliency_speed`` (kept separately)
    Warm frames/s of each model; ``throughput`` reuses its ``fps()``.

This package's ``__init__`` imports nothing heavy: the child processes that
time the plain baseline must not pay for salcodec's imports.
"""
