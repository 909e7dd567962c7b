"""Photos sent with citizen reports: checked, turned upright, shrunk, and stripped of every trace of metadata.

A phone photo carries where it was taken (EXIF GPS), the camera and its serial number, the owner's name
(XMP, IPTC), comments and thumbnails that may show the uncropped picture. None of it may reach the public
pages, so the pixels are decoded and encoded anew into an image that carries nothing else. Only the GPS
position is read first and handed back, so that the app can offer it as a location hint with the
user's consent.

Pure: bytes in, bytes out; no files, no clock.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any, cast

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from urbis.core.errors import BadRequestData, PayloadTooLarge

#: Most pixels a photo may have before it is decoded (about 8,700 × 5,800). Decoding costs 3-4 bytes a
#: pixel whatever the file size, so a small file declaring a huge canvas (a decompression bomb) is refused
#: from its header alone. Pillow's own global guard (``Image.MAX_IMAGE_PIXELS``, about 89 million) stays
#: as it is for the rest of the process and never fires below this limit.
MAX_PIXELS = 50_000_000

#: Decoded format (as Pillow names it) → the media type it is served with. MPO is the JPEG variant
#: that many phones write (a JPEG with extra pictures appended); it is read as its first picture.
_ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

#: Format each accepted format is written back as: the same kind, so a PNG keeps its transparency and
#: sharp edges (screenshots, drawings) and a photo stays a photo; converting everything to one lossy format
#: would blur the former and gain nothing for the latter.
_OUTPUT_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP"}

#: What Pillow's decoders raise for data that is cut short or garbled.
_DECODING_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, Image.DecompressionBombError)

JPEG_QUALITY = 85
WEBP_QUALITY = 85


@dataclass(frozen=True)
class ProcessedPhoto:
    """A photo ready to store and serve: metadata-free pixels plus what was learnt before stripping."""

    content: bytes
    media_type: str
    width: int
    height: int
    gps_hint: tuple[float, float] | None


def process_photo(data: bytes, *, max_bytes: int, max_edge: int, max_pixels: int = MAX_PIXELS) -> ProcessedPhoto:
    """Check, orient, shrink and re-encode ``data`` (JPEG, PNG or WebP), dropping all its metadata.

    The format is the one the bytes decode as, never a file name or a client's content type. The image is
    turned by its EXIF orientation, shrunk to fit ``max_edge`` on its longer edge (never enlarged), and
    written anew without EXIF, XMP, IPTC, comments or text chunks; the ICC colour profile is kept, since
    without it a wide-gamut phone photo shows washed-out colours and it tells nothing about the person.
    An animated PNG or WebP keeps its first frame only.

    Raises PayloadTooLarge when ``data`` is longer than ``max_bytes``, BadRequestData for anything that is
    not a whole, decodable JPEG, PNG or WebP of at most ``max_pixels`` pixels.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"The photo is {len(data)} bytes; at most {max_bytes} bytes are accepted.")
    if not data:
        raise BadRequestData("The photo is empty.")
    image = _open(data, max_pixels)
    media_type = _ACCEPTED_FORMATS[str(image.format)]
    output_format = _OUTPUT_FORMATS[str(image.format)]
    gps_hint = _gps_hint(image)
    icc_profile = image.info.get("icc_profile")
    # A JPEG can be decoded at 1/2, 1/4 or 1/8 of its size directly: far less memory for big photos. Both
    # edges stay at least max_edge, so the final shrink still has all the pixels it needs.
    if output_format == "JPEG":
        image.draft(image.mode, (max_edge, max_edge))
    try:
        image.load()
    except _DECODING_ERRORS as exc:
        raise BadRequestData(f"The photo could not be read (truncated or corrupt): {exc}") from exc
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a broken orientation tag leaves the photo as taken, not refused
        upright = image.copy()
    pixels, keeps_colour_profile = _normalised(upright, output_format)
    pixels.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    content = _encode(pixels, output_format, icc_profile if keeps_colour_profile else None)
    return ProcessedPhoto(
        content=content, media_type=media_type, width=pixels.width, height=pixels.height, gps_hint=gps_hint
    )


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The image ``data`` holds, header read but pixels not yet decoded; refused unless accepted."""
    try:
        # Only the accepted decoders are even tried: no exotic format parser sees untrusted bytes.
        image = Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"])
    except UnidentifiedImageError as exc:
        raise BadRequestData("The photo must be a JPEG, PNG or WebP image.") from exc
    except Image.DecompressionBombError as exc:
        raise BadRequestData("The photo has too many pixels.") from exc
    except _DECODING_ERRORS as exc:
        raise BadRequestData(f"The photo could not be read (truncated or corrupt): {exc}") from exc
    if image.format not in _ACCEPTED_FORMATS:
        raise BadRequestData("The photo must be a JPEG, PNG or WebP image.")
    width, height = image.size
    if width < 1 or height < 1:
        raise BadRequestData("The photo has no pixels.")
    if width * height > max_pixels:
        raise BadRequestData(f"The photo has {width}×{height} pixels; at most {max_pixels} pixels are accepted.")
    return image


def _normalised(image: Image.Image, output_format: str) -> tuple[Image.Image, bool]:
    """The image in a mode ``output_format`` stores and resizes well, and whether its colours are unchanged.

    Palette and bilevel images become RGB(A) so that shrinking blends pixels instead of picking them;
    JPEG has no alpha, so transparency is laid on white.
    """
    mode = image.mode
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info)
    if output_format == "JPEG":
        if mode in ("RGB", "L", "CMYK"):
            return image, True
        if has_alpha:
            flattened = Image.new("RGB", image.size, "white")
            rgba = image.convert("RGBA")
            flattened.paste(rgba, mask=rgba.getchannel("A"))
            return flattened, mode in ("RGBA", "LA")
        return image.convert("RGB"), False
    if mode in ("RGB", "RGBA") or (output_format == "PNG" and mode in ("L", "LA")):
        return image, True
    if mode.startswith("I") or mode == "F":
        # 16- and 32-bit greyscale: scaled to 8 bits (phones never write these; scans might).
        return _eight_bit_grey(image), False
    target = "RGBA" if has_alpha else "RGB"
    # A palette holds RGB colours, so an RGB profile still fits; a grey profile would not fit RGB pixels.
    return image.convert(target), mode == "P"


def _eight_bit_grey(image: Image.Image) -> Image.Image:
    """A high-depth greyscale image scaled into 8-bit ``L`` by its own range of values."""
    wide = image.convert("F")
    low, high = cast(tuple[float, float], wide.getextrema())
    span = high - low or 1.0
    return wide.point(lambda value: (value - low) * 255.0 / span).convert("L")


def _encode(image: Image.Image, output_format: str, icc_profile: bytes | None) -> bytes:
    """``image``'s pixels, and nothing else but the colour profile, written as ``output_format``."""
    # A fresh image from the raw pixels: no info dictionary, EXIF, XMP or comment of the original can
    # travel along (some encoders fall back to the source image's info for fields not given to save()).
    fresh = Image.frombytes(image.mode, image.size, image.tobytes())
    options: dict[str, Any] = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if output_format == "JPEG":
        options.update(quality=JPEG_QUALITY, optimize=True)
    elif output_format == "WEBP":
        options.update(quality=WEBP_QUALITY)
    buffer = io.BytesIO()
    fresh.save(buffer, format=output_format, **options)
    return buffer.getvalue()


def _gps_hint(image: Image.Image) -> tuple[float, float] | None:
    """The EXIF GPS position as (latitude, longitude) in decimal degrees, or None when absent or invalid."""
    try:
        gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        latitude = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "N", "S")
        longitude = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "E", "W")
    except Exception:  # noqa: BLE001 - broken EXIF only means "no hint", never a refused photo
        return None
    if latitude is None or longitude is None:
        return None
    if abs(latitude) > 90 or abs(longitude) > 180:
        return None
    # Cameras without a fix often write zeros: a position in the Gulf of Guinea is no hint.
    if latitude == 0 and longitude == 0:
        return None
    return latitude, longitude


def _degrees(value: object, reference: object, positive: str, negative: str) -> float | None:
    """Degrees, minutes and seconds (EXIF rationals) with their N/S or E/W reference as signed degrees."""
    if not isinstance(value, tuple | list) or len(value) != 3:
        return None
    if isinstance(reference, bytes):
        reference = reference.decode("ascii", "replace")
    if not isinstance(reference, str):
        return None
    reference = reference.strip("\x00 ").upper()
    if reference not in (positive, negative):
        return None
    degrees, minutes, seconds = (float(part) for part in value)
    if not all(math.isfinite(part) and part >= 0 for part in (degrees, minutes, seconds)):
        return None
    if minutes >= 60 or seconds >= 60:
        return None
    decimal = degrees + minutes / 60 + seconds / 3600
    return -decimal if reference == negative else decimal
