"""Reading and writing media: pipes, containers and what each container can hold.

``pipes`` names stdin/stdout and FIFOs the way FFmpeg does; ``containers``
picks a muxer and checks that every stream fits in it; ``metadata`` carries
rotation, colour, aspect ratio, tags and chapters from input to output.
"""
