"""Output containers: which muxer a name means, its options, and what it can hold."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError, SalcodecError

#: Output file extensions and their FFmpeg muxers.
EXTENSIONS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
              ".ts": "mpegts", ".nut": "nut", ".webm": "webm"}

#: ``-f`` names (FFmpeg's, plus the extensions) and their muxers.
FORMATS = {"matroska": "matroska", "mkv": "matroska", "mp4": "mp4", "m4v": "mp4", "mov": "mov",
           "mpegts": "mpegts", "ts": "mpegts", "nut": "nut", "webm": "webm"}

#: Streams MP4/MOV/MPEG-TS hold by their specifications. FFmpeg's mp4 muxer also
#: accepts e.g. Vorbis, which players then refuse: a file that looks fine and
#: plays silent, so these containers are checked against this list.
_MP4_AUDIO = {"aac", "mp3", "mp2", "mp1", "ac3", "eac3", "alac", "flac", "opus", "dts",
              "truehd"}
_VIDEO = {"h264", "hevc", "mpeg4", "mpeg2video", "mpeg1video", "av1", "vp9", "mjpeg", "png"}
_HOLDS = {
    "mp4": {"audio": _MP4_AUDIO, "subtitle": {"mov_text"}, "video": _VIDEO,
            "attachment": set()},
    # FFmpeg's mov muxer: "FLAC/Opus/TrueHD only supported in MP4".
    "mov": {"audio": _MP4_AUDIO - {"flac", "opus", "truehd"} | {"pcm_*", "adpcm_ima_qt"},
            "subtitle": {"mov_text"},
            "video": _VIDEO | {"prores", "dnxhd", "qtrle", "rawvideo"}, "attachment": set()},
    # WebM: VP8/VP9/AV1 video, Vorbis/Opus audio, WebVTT subtitles (FFmpeg's webm muxer).
    "webm": {"audio": {"vorbis", "opus"}, "subtitle": {"webvtt"}, "video": {"vp8", "vp9", "av1"},
             "attachment": set()},
    # FFmpeg's nut muxer writes no attachments ("Invalid argument").
    "nut": {"attachment": set()},
    "mpegts": {"audio": {"aac", "aac_latm", "mp3", "mp2", "ac3", "eac3", "opus", "dts",
                         "truehd", "s302m"},
               "subtitle": {"dvb_subtitle", "dvb_teletext"},
               "video": {"h264", "hevc", "mpeg2video", "mpeg1video", "mpeg4", "av1", "vc1"},
               "attachment": set(), "data": {"smpte_klv", "timed_id3", "epg"}},
}

#: What each container can carry besides streams.
_HOLDS_ROTATION = {"mp4", "mov", "matroska"}
_HOLDS_CHAPTERS = {"mp4", "mov", "matroska", "nut"}


def output_format(name: str | os.PathLike, fmt: str | None = None) -> str:
    """The FFmpeg muxer for an output: ``fmt`` (``-f``) if given, else the extension.

    Raises
    ------
    SalcodecError
        Unknown ``-f`` name, or no ``-f`` and an unknown or missing extension
        (a pipe has none).
    """
    if fmt is not None:
        key = fmt.lower()
        if key not in FORMATS:
            raise SalcodecError(f"-f {fmt}: unknown output format; use one of "
                                f"{', '.join(sorted(set(FORMATS.values())))}")
        return FORMATS[key]
    suffix = Path(str(name)).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    what = f"unsupported output extension {suffix!r}" if suffix else "no extension"
    raise SalcodecError(f"{name}: {what}; use one of {', '.join(sorted(EXTENSIONS))} "
                        f"or name the format with -f (matroska, mp4, mov, mpegts, nut, webm)")


def check_codec_fits(codec: str, fmt: str, name: str | os.PathLike) -> None:
    """One-line error when the chosen encoder's stream cannot go into the output container."""
    from ..codecs import get_codec

    spec = get_codec(codec)
    if fmt not in spec.containers:
        holders = ", ".join(sorted(spec.containers))
        vp9 = "; or --codec libvpx-vp9" if fmt == "webm" else ""
        raise SalcodecError(f"{name}: {fmt} cannot hold {spec.label} ({codec}); use one of "
                            f"{holders}{vp9}")


def muxer_options(fmt: str, pipe: bool) -> dict[str, str]:
    """Muxer options: MP4/MOV files get their index first (faststart); to a pipe,
    which cannot seek back to write an index, they are fragmented instead, with
    the index held back until the first fragment (``delay_moov``) so that it
    carries the edit lists that keep the timestamps: with an empty index first
    (``empty_moov``) the video started a B-frame delay late and the audio lost
    its priming offset, shifting A/V sync.
    Matroska is bit-exact: no random segment/track UIDs and no muxing date, so
    the same input gives the same bytes (issue 10)."""
    if fmt in ("matroska", "webm"):
        return {"fflags": "+bitexact"}
    if fmt not in ("mp4", "mov"):
        return {}
    if pipe:
        return {"movflags": "+frag_keyframe+delay_moov+default_base_moof"}
    return {"movflags": "+faststart"}


def _fits(stream, fmt: str, supported: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether ``stream`` (an input stream to copy) can go into ``fmt``.

    ``supported`` is FFmpeg's own list for the muxer (``supported_codecs``),
    used where no stricter list is kept here (matroska, nut).
    """
    cc = stream.codec_context
    codec = _codec_name(stream)
    holds = _HOLDS.get(fmt, {}).get(stream.type)
    if holds is not None:
        return codec in holds or any(h.endswith("*") and codec.startswith(h[:-1]) for h in holds)
    # data streams without a codec (timecode...) are left to FFmpeg's own check
    return cc is None or not supported or codec in supported


def _codec_name(stream) -> str:
    cc = stream.codec_context
    return cc.name if cc is not None else getattr(stream, "mimetype", None) or "no codec"


#: Containers a refusal may suggest, with how to ask for each (NUT is not: FFmpeg's
#: muxer takes fewer subtitle and data codecs than its list of them says).
_SUGGESTED = (("mov", ".mov (-f mov)"), ("matroska", ".mkv (-f matroska)"))


def check_streams_fit(streams, fmt: str, input: str | os.PathLike,
                      supported: frozenset[str] | set[str] = frozenset()) -> None:
    """One-line error naming every stream to copy that ``fmt`` cannot hold.

    It suggests the containers that hold them all (MOV where it does, else
    Matroska), so one retry is enough.
    """
    misfits = [st for st in streams if not _fits(st, fmt, supported)]
    if not misfits:
        return
    names = " and ".join(f"{st.type} stream #{st.index} ({_codec_name(st)})" for st in misfits)
    why = " (MP4 and MOV hold only mov_text subtitles)" if fmt in ("mp4", "mov") and any(
        st.type == "subtitle" for st in misfits) else ""
    # Matroska takes what FFmpeg can mux there, trusted here without a list; which
    # data streams a muxer takes is known only when writing: none is suggested.
    others = [how for name, how in _SUGGESTED if name != fmt
              and all(st.type != "data" and _fits(st, name) for st in misfits)]
    them = "them" if len(misfits) > 1 else "it"
    hint = f"; use {' or '.join(others[:2])}, which can hold {them}" if others else ""
    flags = sorted({DROP_FLAGS.get(st.type) for st in misfits})
    if None not in flags:  # every misfit is of a kind encode can leave out
        hint += (f"{', or' if hint else ';'} leave {them} out (encode {' '.join(flags)}; "
                 "drop= in Python)")
    raise InputError(f"{input}: {names} cannot go into {fmt}{why}{hint}")


#: encode's flags that leave a kind of stream out (``salcodec.encode(drop=...)``), as ffmpeg's.
DROP_FLAGS = {"audio": "-an", "subtitle": "-sn", "data": "-dn"}


def check_rotation_fits(fmt: str, degrees: float, input: str | os.PathLike) -> None:
    """A rotated input needs a container that stores the display matrix."""
    if fmt not in _HOLDS_ROTATION:
        raise InputError(f"{input}: video is rotated {degrees:g} degrees and {fmt} cannot "
                         "store rotation; use an .mkv or .mp4 output (-f matroska or -f mp4)")


def check_chapters_fit(fmt: str, count: int, input: str | os.PathLike) -> None:
    """Chapters need a container that has them."""
    if count and fmt not in _HOLDS_CHAPTERS:
        raise InputError(f"{input}: has {count} chapters and {fmt} cannot store chapters; "
                         "use an .mkv or .mp4 output (-f matroska or -f mp4)")
