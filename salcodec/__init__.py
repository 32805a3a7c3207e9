"""salcodec: saliency-guided video compression with libx264 through PyAV."""

__version__ = "0.1.0"
