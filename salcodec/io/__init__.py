"""Reading and writing media: inputs opened, frames conformed, outputs written safely.

``decode`` opens an input (one-line errors for bad files); ``conform`` brings
frames to the encoder's pixel format and size; ``safeio`` checks output paths
and writes through a temporary file renamed on success; ``copies`` copies the
streams that are not re-encoded. ``pipes`` names stdin/stdout and FIFOs the
way FFmpeg does; ``containers`` picks a muxer and checks that every stream fits
in it; ``metadata`` carries rotation, colour, aspect ratio, tags and chapters from input to output.
"""
