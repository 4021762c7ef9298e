"""Reading photos safely and writing images, with OpenCV. No Qt.

Photos are checked before they are decoded: the format (PNG or JPEG, by content, not by file
name), the pixel count and the smallest side (``MIN_SIDE``) from the header (so a 30000 x 30000 photo is refused before OpenCV
allocates gigabytes) and truncation (a PNG needs its IEND chunk, a JPEG its end marker).
Every error is an :class:`ImageFileError` whose message names the file.
"""
from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

MAX_PIXELS = 100_000_000
# A smaller photo cannot show a hand (and a crop of it would be a few pixels blown up).
MIN_SIDE = 16
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class ImageFileError(ValueError):
    """A file that cannot be used as a photo (the message says which and why)."""


def image_format_and_size(data: bytes) -> tuple[str, int, int]:
    """("png" | "jpeg", width, height) from the file header; raises ValueError otherwise."""
    if data.startswith(_PNG_MAGIC):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise ValueError("PNG header is incomplete")
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 4 <= len(data):
            if data[pos] != 0xFF:
                raise ValueError("JPEG header is corrupt")
            marker = data[pos + 1]
            if marker == 0xFF:  # fill byte
                pos += 1
                continue
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
                pos += 2
                continue
            (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            if marker in _JPEG_SOF:
                if pos + 9 > len(data):
                    break
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return "jpeg", width, height
            pos += 2 + length
        raise ValueError("JPEG header ends before the image size")
    raise ValueError("not a PNG or JPEG image")


def load_photo(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A photo as (H, W, 3) uint8 RGB. Raises :class:`ImageFileError` naming ``path``."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise ImageFileError(f"Cannot read {path}: {err.strerror or err}") from err
    raw = data.tobytes()
    try:
        fmt, width, height = image_format_and_size(raw[: 1 << 20])
    except ValueError as err:
        raise ImageFileError(f"{path.name} is not a usable image: {err}.") from err
    if width * height > max_pixels:
        raise ImageFileError(f"{path.name} is {width} x {height} pixels, more than the "
                             f"{max_pixels / 1e6:.0f} megapixels this app opens.")
    if width == 0 or height == 0:
        raise ImageFileError(f"{path.name} has an empty size ({width} x {height}).")
    if min(width, height) < MIN_SIDE:
        raise ImageFileError(f"{path.name} is {width} x {height} pixels, too small for a hand: "
                             f"photos need at least {MIN_SIDE} x {MIN_SIDE}.")
    if (fmt == "png" and b"IEND" not in raw[-1024:]) or (fmt == "jpeg" and b"\xff\xd9" not in raw[-1024:]):
        raise ImageFileError(f"{path.name} is truncated (the file ends before the image does).")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageFileError(f"{path.name} could not be decoded (corrupt {fmt.upper()} data).")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def save_image(path: str | Path, image: np.ndarray) -> None:
    """Write (H, W, 3) uint8 RGB as PNG/JPEG (by suffix). Raises :class:`ImageFileError`."""
    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageFileError(f"Cannot encode an image as {path.suffix!r} for {path}")
    try:
        buf.tofile(path)
    except OSError as err:
        raise ImageFileError(f"Cannot write {path}: {err.strerror or err}") from err


def save_animation(path: str | Path, frames: list[np.ndarray], fps: float = 25.0) -> None:
    """Write RGB frames (H, W, 3) uint8 as an animated GIF or an MP4 (mp4v), by suffix."""
    path = Path(path)
    bgr = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR) for f in frames]
    if not bgr:
        raise ImageFileError(f"No frames to write to {path}")
    suffix = path.suffix.lower()
    if suffix == ".gif":
        animation = cv2.Animation()
        animation.frames = bgr
        animation.durations = [int(round(1000 / fps))] * len(bgr)
        animation.loop_count = 0
        if not cv2.imwriteanimation(str(path), animation):
            raise ImageFileError(f"Cannot write the GIF {path}")
    elif suffix == ".mp4":
        h, w = bgr[0].shape[:2]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        if not writer.isOpened():
            raise ImageFileError(f"Cannot open {path} for writing an MP4 video")
        for frame in bgr:
            writer.write(frame)
        writer.release()
    else:
        raise ImageFileError(f"{path.name}: choose a .gif or .mp4 file name for an animation")
