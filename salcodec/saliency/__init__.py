"""Saliency models behind one protocol, and a registry to pick them by name."""

from __future__ import annotations

import importlib

import numpy as np

from .base import SaliencyModel, normalize_map, validate_rgb

#: name -> "module:Class" of every model; imported on first use, so that
#: ``import salcodec`` does not load numba or every model's tables.
MODELS: dict[str, str] = {
    "default": "fusion:DefaultModel",
    "bms": "bms:BMSModel",
    "lc": "lc:LCModel",
    "hc": "hc:HCModel",
    "region": "region:RegionModel",
    "spectral": "spectral:SpectralModel",
    "centre": "priors:CentreModel",
    "faces": "priors:FaceModel",
    "text": "text:TextModel",
    "motion": "motion:MotionModel",
    "temporal": "temporal:TemporalContrastModel",
    "saldiff": "temporal:SaliencyDifferenceModel",
    "gaze": "gaze:GazeModel",
}
DEFAULT_MODEL = "default"


def available_models() -> list[str]:
    """Names accepted by :func:`get_model`."""
    return sorted(MODELS)


def get_model(name: str = DEFAULT_MODEL, **options) -> SaliencyModel:
    """Instantiate a saliency model by name (a fresh one: temporal state is per video)."""
    return model_class(name)(**options)


def model_class(name: str) -> type[SaliencyModel]:
    """The class registered under ``name`` (imports its module)."""
    if name == "default":
        name = DEFAULT_MODEL
    try:
        module, cls = MODELS[name].split(":")
    except KeyError:
        raise ValueError(
            f"unknown saliency model {name!r}; choose from {', '.join(available_models())}"
        ) from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


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
    "model_class",
    "normalize_map",
    "saliency_map",
    "validate_rgb",
]
