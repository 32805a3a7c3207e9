"""salcodec: saliency-guided video compression with libx264, libx265 or libvpx-vp9 through PyAV.

Pipeline: decode -> saliency -> macroblock map -> QP offsets -> encoder -> mux.

>>> import salcodec
>>> salcodec.encode("in.mp4", "out.mp4", crf=23)          # doctest: +SKIP

For pipelines, :func:`salcodec.encode_frames` encodes any iterable of PyAV
frames into a file (or a container you own), copying another file's audio;
:class:`salcodec.encoder.SaliencyEncoder` takes decoded frames and returns
packets for a stream in a container you own (:func:`add_video_stream` makes
one for any of the three encoders).
"""

__version__ = "0.1.0"

from .codecs import add_video_stream  # noqa: E402
from .codecs.x264 import add_h264_stream  # noqa: E402
from .encoder import SaliencyEncoder  # noqa: E402
from .errors import InputError, SalcodecError, SalcodecWarning  # noqa: E402
from .pipeline import encode_frames  # noqa: E402
from .transcode import EncodeResult, encode  # noqa: E402

__all__ = [
    "EncodeResult",
    "InputError",
    "SalcodecError",
    "SalcodecWarning",
    "SaliencyEncoder",
    "__version__",
    "add_h264_stream",
    "add_video_stream",
    "encode",
    "encode_frames",
]
