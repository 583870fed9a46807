"""Typed failures. Every bad frame raises a `FrameError`; the engine stays usable for the next frame."""


class FrameError(ValueError):
    """A frame that cannot be analysed. The message is safe to show to the person who sent it."""

    code = "invalid_frame"


class InvalidImage(FrameError):
    """Empty, garbage or truncated image data."""

    code = "invalid_image"


class UnsupportedFormat(FrameError):
    """A real image in a format fermonitor does not accept (only JPEG and PNG are)."""

    code = "unsupported_format"


class ImageTooLarge(FrameError):
    """More pixels than the configured limit, refused from the header before decoding (decompression bombs)."""

    code = "image_too_large"


class ModelsMissing(RuntimeError):
    """A model file is not in the models directory. Run the setup command."""


class VideoError(ValueError):
    """A recording that cannot be analysed. The message is safe to show to the person who uploaded it."""

    code = "invalid_video"


class NotAVideo(VideoError):
    """Not a video file at all, or a file without a video stream (audio only)."""

    code = "not_a_video"


class UnsupportedCodec(VideoError):
    """A real video whose codec this build cannot decode."""

    code = "unsupported_codec"


class TruncatedVideo(VideoError):
    """A video cut short (an interrupted upload or recording) or damaged in the middle."""

    code = "truncated_video"
