"""Full-reference video quality: PSNR, SSIM, XPSNR and their saliency-weighted forms.

Programmatic entry point::

    from salcodec.quality import measure
    result = measure("ref.mp4", "dist.mp4", weights="model:lc")
    result.summary["wpsnr"]["mean"], result.per_frame[0]["psnr"]

Exact definitions: docs/quality.md. Scoring an encode with the same map that
drove it is circular (it always shows a gain): weight with human fixations or
an independent map, and report the unweighted metrics beside it.
"""

from .ffmpeg import ffmpeg_metrics, vmaf_status
from .measure import (
    DEFAULT_METRICS,
    METRICS,
    PSNR_MAX_DB,
    SCHEMA,
    QualityResult,
    measure,
    resolve_metrics,
    vmaf_error,
)
from .metrics import (
    mse,
    mse_to_psnr,
    pool,
    psnr,
    psnr_yuv,
    ssim,
    ssim_8x8,
    ssim_map,
    weighted_mse,
    weighted_psnr,
    weighted_ssim,
)
from .video import Alignment, FrameAligner, FramePair, StreamInfo, VideoReader, frame_planes
from .weights import WeightSource, WeightSpec, fixation_map, parse_weights, read_fixations
from .xpsnr import XPSNR, block_weights, pool_xpsnr, xpsnr_planes

__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "PSNR_MAX_DB",
    "SCHEMA",
    "Alignment",
    "FrameAligner",
    "FramePair",
    "QualityResult",
    "StreamInfo",
    "VideoReader",
    "XPSNR",
    "block_weights",
    "WeightSource",
    "WeightSpec",
    "ffmpeg_metrics",
    "fixation_map",
    "frame_planes",
    "measure",
    "mse",
    "mse_to_psnr",
    "parse_weights",
    "pool",
    "pool_xpsnr",
    "psnr",
    "psnr_yuv",
    "read_fixations",
    "resolve_metrics",
    "ssim",
    "ssim_8x8",
    "ssim_map",
    "vmaf_error",
    "vmaf_status",
    "weighted_mse",
    "weighted_psnr",
    "weighted_ssim",
    "xpsnr_planes",
]
