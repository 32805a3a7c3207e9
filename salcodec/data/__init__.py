"""Data shipped with salcodec: the embedded default clip and three small networks."""

from pathlib import Path

#: The default input of ``salcodec demo``: a 4 s talking head (see README.md here).
DEFAULT_CLIP = Path(__file__).with_name("carphone.mp4")
#: MediaPipe's BlazeFace face detector (the ``faces`` prior; see README.md here).
FACE_DETECTOR = Path(__file__).with_name("blazeface_back.tflite")
#: PaddleOCR's PP-OCRv4 text detector (the ``text`` prior; see README.md here).
TEXT_DETECTOR = Path(__file__).with_name("ppocr_v4_det.onnx")
#: FastGaze, a pruned DeepGaze II (the ``gaze`` model; see README.md here).
GAZE_NETWORK = Path(__file__).with_name("fastgaze.onnx")
