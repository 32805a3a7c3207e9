"""Numba kernels for the per-pixel hot loops of the metrics.

Each kernel has a plain-numpy reference in :mod:`salcodec.quality.metrics`
(the ``*_reference`` functions) and tests that hold them equal. They exist
because numpy's temporaries dominate at 720p and above (the fused SSIM
is about 4x faster than blurring whole planes).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def sse_u8(a: np.ndarray, b: np.ndarray) -> int:
    """Sum of squared differences of two uint8 planes, exact in int64."""
    h, w = a.shape
    total = 0
    for y in range(h):
        for x in range(w):
            d = np.int64(a[y, x]) - np.int64(b[y, x])
            total += d * d
    return total


@numba.njit(cache=True, nogil=True)
def ssim_valid(x: np.ndarray, y: np.ndarray, k: np.ndarray, c1: float, c2: float) -> np.ndarray:
    """Gaussian SSIM map at the window centres that fit, blurs and combination fused.

    ``k`` is the normalised 1-D window. Row by row: the window's rows are
    summed into four row buffers (x, y, x^2 + y^2, xy), then along each
    buffer; the var_x + var_y the formula needs is the blur of x^2 + y^2
    less both squared means, so four blurs do the work of five. No border
    is ever read, and no full-size temporary is made: at 720p this is about
    4x faster than blurring whole float64 planes with OpenCV.
    """
    h, w = x.shape
    n = k.size
    oh = h - n + 1
    ow = w - n + 1
    out = np.empty((oh, ow), dtype=np.float64)
    col = np.empty((4, w), dtype=np.float64)
    acc = np.empty((4, ow), dtype=np.float64)
    for i in range(oh):
        col[:] = 0.0
        for t in range(n):
            kt = k[t]
            for j in range(w):
                a = np.float64(x[i + t, j])
                b = np.float64(y[i + t, j])
                col[0, j] += kt * a
                col[1, j] += kt * b
                col[2, j] += kt * (a * a + b * b)
                col[3, j] += kt * (a * b)
        acc[:] = 0.0
        for t in range(n):
            kt = k[t]
            for q in range(4):
                for j in range(ow):
                    acc[q, j] += kt * col[q, j + t]
        for j in range(ow):
            mx = acc[0, j]
            my = acc[1, j]
            mxy = mx * my
            mm = mx * mx + my * my
            out[i, j] = ((2.0 * mxy + c1) * (2.0 * (acc[3, j] - mxy) + c2)) / (
                (mm + c1) * (acc[2, j] - mm + c2)
            )
    return out


@numba.njit(cache=True, nogil=True)
def ssim_8x8_u8(a: np.ndarray, b: np.ndarray) -> float:
    """FFmpeg/x264 SSIM: 8x8 box windows every 4 pixels, integer sums, float32 ratio."""
    h4 = a.shape[0] // 4
    w4 = a.shape[1] // 4
    # Per 4x4 block: s1, s2, ss (a^2 + b^2), s12.
    sums = np.zeros((h4, w4, 4), dtype=np.int64)
    for by in range(h4):
        for bx in range(w4):
            s1 = 0
            s2 = 0
            ss = 0
            s12 = 0
            for y in range(4 * by, 4 * by + 4):
                for x in range(4 * bx, 4 * bx + 4):
                    p = np.int64(a[y, x])
                    q = np.int64(b[y, x])
                    s1 += p
                    s2 += q
                    ss += p * p + q * q
                    s12 += p * q
            sums[by, bx, 0] = s1
            sums[by, bx, 1] = s2
            sums[by, bx, 2] = ss
            sums[by, bx, 3] = s12
    c1 = np.int64(0.01 * 0.01 * 255 * 255 * 64 + 0.5)
    c2 = np.int64(0.03 * 0.03 * 255 * 255 * 64 * 63 + 0.5)
    total = 0.0
    for by in range(h4 - 1):
        for bx in range(w4 - 1):
            t = sums[by, bx] + sums[by + 1, bx] + sums[by, bx + 1] + sums[by + 1, bx + 1]
            s1, s2, ss, s12 = t[0], t[1], t[2], t[3]
            var = ss * 64 - s1 * s1 - s2 * s2
            cov = s12 * 64 - s1 * s2
            num = np.float32(2 * s1 * s2 + c1) * np.float32(2 * cov + c2)
            den = np.float32(s1 * s1 + s2 * s2 + c1) * np.float32(var + c2)
            total += num / den
    return total / ((h4 - 1) * (w4 - 1))


@numba.njit(cache=True, nogil=True)
def xpsnr_luma_blocks(
    org: np.ndarray,
    rec: np.ndarray,
    m1: np.ndarray,
    m2: np.ndarray,
    b: int,
    b_val: int,
    order: int,
    act_min: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-block luma SSE and squared visual activity, as FFmpeg's vf_xpsnr.c computes them.

    ``org`` is the reference frame, ``m1``/``m2`` the one and two frames
    before it (zeros at the start), ``b`` the block side, ``b_val`` 2 above
    2048x1152 (high-pass on a 2x2 downsampled grid) else 1, ``order`` the
    temporal difference order (1 below 32 fps, else 2), ``act_min`` the floor
    of the activity. A block too small for the high-pass gets activity 1.
    """
    h, w = org.shape
    nby = (h + b - 1) // b
    nbx = (w + b - 1) // b
    sse = np.zeros((nby, nbx), dtype=np.float64)
    act = np.ones((nby, nbx), dtype=np.float64)
    for iby in range(nby):
        oy = iby * b
        bh = min(b, h - oy)
        for ibx in range(nbx):
            ox = ibx * b
            bw = min(b, w - ox)
            s = 0
            for y in range(oy, oy + bh):
                for x in range(ox, ox + bw):
                    d = np.int64(org[y, x]) - np.int64(rec[y, x])
                    s += d * d
            sse[iby, ibx] = s
            x_act = 0 if ox > 0 else b_val
            y_act = 0 if oy > 0 else b_val
            w_act = bw if ox + bw < w else bw - b_val
            h_act = bh if oy + bh < h else bh - b_val
            if w_act <= x_act or h_act <= y_act:
                continue  # FFmpeg returns before the activity: weight 1
            sa = 0
            if b_val > 1:
                if w_act > 12:  # FFmpeg discards the narrow-block result
                    for y in range(oy + y_act, oy + h_act, 2):
                        for x in range(ox + x_act, ox + w_act, 2):
                            o = org
                            f = (
                                12 * (np.int64(o[y, x]) + o[y, x + 1] + o[y + 1, x]
                                      + o[y + 1, x + 1])
                                - 3 * (np.int64(o[y - 1, x]) + o[y - 1, x + 1] + o[y + 2, x]
                                       + o[y + 2, x + 1])
                                - 3 * (np.int64(o[y, x - 1]) + o[y, x + 2] + o[y + 1, x - 1]
                                       + o[y + 1, x + 2])
                                - 2 * (np.int64(o[y - 1, x - 1]) + o[y - 1, x + 2]
                                       + o[y + 2, x - 1] + o[y + 2, x + 2])
                                - (np.int64(o[y - 2, x - 1]) + o[y - 2, x] + o[y - 2, x + 1]
                                   + o[y - 2, x + 2] + o[y + 3, x - 1] + o[y + 3, x]
                                   + o[y + 3, x + 1] + o[y + 3, x + 2] + o[y - 1, x - 2]
                                   + o[y, x - 2] + o[y + 1, x - 2] + o[y + 2, x - 2]
                                   + o[y - 1, x + 3] + o[y, x + 3] + o[y + 1, x + 3]
                                   + o[y + 2, x + 3])
                            )
                            sa += abs(f)
            else:
                for y in range(oy + y_act, oy + h_act):
                    for x in range(ox + x_act, ox + w_act):
                        f = (
                            12 * np.int64(org[y, x])
                            - 2 * (np.int64(org[y, x - 1]) + org[y, x + 1] + org[y - 1, x]
                                   + org[y + 1, x])
                            - (np.int64(org[y - 1, x - 1]) + org[y - 1, x + 1]
                               + org[y + 1, x - 1] + org[y + 1, x + 1])
                        )
                        sa += abs(f)
            ms = sa / (float(w_act - x_act) * float(h_act - y_act))
            ta = 0
            step = 2 if b_val > 1 else 1
            for y in range(oy, oy + bh, step):
                for x in range(ox, ox + bw, step):
                    c0 = np.int64(org[y, x])
                    c1 = np.int64(m1[y, x])
                    c2 = np.int64(m2[y, x])
                    if b_val > 1:
                        c0 += np.int64(org[y, x + 1]) + org[y + 1, x] + org[y + 1, x + 1]
                        c1 += np.int64(m1[y, x + 1]) + m1[y + 1, x] + m1[y + 1, x + 1]
                        c2 += np.int64(m2[y, x + 1]) + m2[y + 1, x] + m2[y + 1, x + 1]
                    t = c0 - c1 if order == 1 else c0 - 2 * c1 + c2
                    ta += abs(t)
            ms += (2 * ta) / (float(bw) * float(bh))
            if ms < act_min:
                ms = act_min
            act[iby, ibx] = ms * ms
    return sse, act


@numba.njit(cache=True, nogil=True)
def xpsnr_min_smooth(weights: np.ndarray, b: int, w: int, h: int) -> None:
    """FFmpeg's in-line "min-smoothing" of block weights (frames up to 640x480), in place.

    ``weights`` is the flat row-major block array; the pass visits blocks in
    FFmpeg's order and reads values it has already changed, as FFmpeg does.
    """
    w_blk = (w + b - 1) // b
    idx = 0
    for y in range(0, h, b):
        for x in range(0, w, b):
            if x == 0:
                prev = weights[idx - 2] if idx > 1 else 0.0
            elif x > b:
                prev = max(weights[idx - 2], weights[idx])
            else:
                prev = weights[idx]
            if idx > w_blk:
                prev = max(prev, weights[idx - 1 - w_blk])
            if idx > 0 and weights[idx - 1] > prev:
                weights[idx - 1] = prev
            if x + b >= w and y + b >= h and idx > w_blk:
                prev = max(weights[idx - 1], weights[idx - w_blk])
                if weights[idx] > prev:
                    weights[idx] = prev
            idx += 1
