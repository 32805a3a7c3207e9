"""Spectral residual saliency (Hou & Zhang, CVPR 2007).

The log amplitude spectrum of natural images is smooth; what sticks out of
it (the *residual* after a 3x3 local average) carries the unexpected parts
of the image. Recombined with the original phase and transformed back, the
squared magnitude, blurred, is the saliency map. Computed on a thumbnail
(long side 64, as in the paper) where it is a fraction of a millisecond;
each Lab channel contributes, so colour pop-out counts as well as luminance.
"""

from __future__ import annotations

import cv2
import numpy as np

from .base import SaliencyModel, downscale, validate_rgb


def spectral_residual(gray: np.ndarray, blur_sigma: float = 0.045) -> np.ndarray:
    """Spectral residual saliency of one 2-D channel.

    Parameters
    ----------
    gray : ndarray, shape (H, W)
        One channel, any real dtype; typically 64 px on the long side.
    blur_sigma : float
        Gaussian blur of the result as a fraction of the long side.

    Returns
    -------
    ndarray, shape (H, W), float32
        Raw (unnormalised) saliency.
    """
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or min(gray.shape) < 2:
        raise ValueError(f"expected a 2-D channel of at least 2x2, got shape {gray.shape}")
    spectrum = np.fft.fft2(gray)
    amplitude = np.abs(spectrum)
    log_amp = np.log(amplitude + 1e-9).astype(np.float32)
    residual = log_amp - cv2.blur(log_amp, (3, 3), borderType=cv2.BORDER_REFLECT)
    phase = spectrum / (amplitude + 1e-9)
    sal = np.abs(np.fft.ifft2(np.exp(residual) * phase)) ** 2
    sigma = max(blur_sigma * max(gray.shape), 0.5)
    return cv2.GaussianBlur(sal.astype(np.float32), (0, 0), sigma)


def spectral_saliency(image: np.ndarray, side: int = 64, blur_sigma: float = 0.045) -> np.ndarray:
    """Spectral residual of an RGB uint8 image, summed over its Lab channels.

    Returns a raw float32 map of the image's own size.
    """
    image = validate_rgb(image)
    small = downscale(image, side)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2Lab).astype(np.float32)
    sal = np.zeros(small.shape[:2], dtype=np.float32)
    for c in range(3):
        channel = spectral_residual(lab[..., c], blur_sigma)
        peak = float(channel.max())
        if peak > 0:
            sal += channel / peak  # each channel on an equal footing
    if sal.shape != image.shape[:2]:
        sal = cv2.resize(sal, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return sal


class SpectralModel(SaliencyModel):
    """Spectral residual (Hou & Zhang 2007) on Lab channels at 64 px."""

    name = "spectral"

    def __init__(self, side: int = 64, blur_sigma: float = 0.045) -> None:
        self.analysis_side = side
        self.side = side
        self.blur_sigma = blur_sigma

    def compute(self, image: np.ndarray) -> np.ndarray:
        return spectral_saliency(image, self.side, self.blur_sigma)
