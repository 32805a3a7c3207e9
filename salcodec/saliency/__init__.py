"""Saliency models behind one protocol, and a registry to pick them by name."""

from __future__ import annotations

import numpy as np

from .base import SaliencyModel, normalize_map, validate_rgb
from .bms import BMSModel
from .fusion import DefaultModel
from .hc import HCModel
from .lc import LCModel
from .motion import MotionModel
from .priors import CentreModel, FaceModel
from .region import RegionModel
from .spectral import SpectralModel
from .temporal import SaliencyDifferenceModel, TemporalContrastModel

#: name -> model class. Models register here; ``default`` is the encoder's default.
MODELS: dict[str, type[SaliencyModel]] = {
    cls.name: cls
    for cls in (
        DefaultModel,
        BMSModel,
        LCModel,
        HCModel,
        RegionModel,
        SpectralModel,
        CentreModel,
        FaceModel,
        MotionModel,
        TemporalContrastModel,
        SaliencyDifferenceModel,
    )
}
DEFAULT_MODEL = "default"


def available_models() -> list[str]:
    """Names accepted by :func:`get_model`."""
    return sorted(MODELS)


def get_model(name: str = DEFAULT_MODEL, **options) -> SaliencyModel:
    """Instantiate a saliency model by name (a fresh one: temporal state is per video)."""
    if name == "default":
        name = DEFAULT_MODEL
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown saliency model {name!r}; choose from {', '.join(available_models())}"
        ) from None
    return cls(**options)


def saliency_map(image: np.ndarray, model: str | SaliencyModel = "default") -> np.ndarray:
    """Saliency of one RGB uint8 image: a float32 (H, W) map in [0, 1].

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
        RGB image.
    model : str or SaliencyModel
        Model name (see :func:`available_models`) or an instance.

    Returns
    -------
    ndarray, shape (H, W), float32
        Higher values mark regions more likely to be looked at.
    """
    image = validate_rgb(image)
    m = get_model(model) if isinstance(model, str) else model
    return m(image)


__all__ = [
    "MODELS",
    "DEFAULT_MODEL",
    "SaliencyModel",
    "available_models",
    "get_model",
    "normalize_map",
    "saliency_map",
    "validate_rgb",
]
