"""Data shipped with salcodec: the embedded default clip."""

from pathlib import Path

#: The default input of ``salcodec demo``: a 4 s talking head (see README.md here).
DEFAULT_CLIP = Path(__file__).with_name("carphone.mp4")
