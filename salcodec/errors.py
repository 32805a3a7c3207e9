"""Errors that reach the user as one line, without a traceback."""


class SalcodecError(Exception):
    """A user-facing failure: bad input, refused overwrite, unsupported option.

    The CLI prints ``salcodec: error: <message>`` and exits non-zero. The
    message should name the file involved and the cause.
    """


class InputError(SalcodecError):
    """The input file cannot be read as a video."""


class RoiBridgeError(SalcodecError):
    """The ctypes bridge to FFmpeg cannot attach ROI side data safely."""


class SalcodecWarning(UserWarning):
    """Something the user should know; the CLI prints it as one line on stderr."""
