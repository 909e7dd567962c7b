"""Photos: real images built with Pillow, checked for what survives processing and what does not."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from urbis.citizens.photos import ProcessedPhoto, process_photo
from urbis.core.errors import BadRequestData, PayloadTooLarge

MB = 1024 * 1024
XMP_PACKET = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="Alice Example"/>'
    "</rdf:RDF></x:xmpmeta>"
)


def two_colour_image(width: int = 400, height: int = 200, mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: shows which way the picture was turned."""
    image = Image.new(mode, (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


def camera_exif(
    *,
    orientation: int | None = 6,
    latitude: tuple[float, float, float] | None = (52.0, 31.0, 12.0),
    latitude_ref: str = "N",
    longitude: tuple[float, float, float] | None = (13.0, 24.0, 36.0),
    longitude_ref: str = "E",
) -> Image.Exif:
    """EXIF as a phone writes it: camera, serial number, owner, orientation, GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 12"
    exif[ExifTags.Base.BodySerialNumber] = "SN-0042-SECRET"
    exif[ExifTags.Base.Artist] = "Alice Example"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    gps: dict[int, object] = {
        ExifTags.GPS.GPSProcessingMethod: b"ASCII\x00\x00\x00GPS",
        ExifTags.GPS.GPSAltitude: 34.0,
    }
    if latitude is not None:
        gps[ExifTags.GPS.GPSLatitudeRef] = latitude_ref
        gps[ExifTags.GPS.GPSLatitude] = latitude
    if longitude is not None:
        gps[ExifTags.GPS.GPSLongitudeRef] = longitude_ref
        gps[ExifTags.GPS.GPSLongitude] = longitude
    exif[ExifTags.IFD.GPSInfo] = gps
    return exif


def jpeg_bytes(image: Image.Image | None = None, exif: Image.Exif | None = None, **options: object) -> bytes:
    buffer = io.BytesIO()
    (image or two_colour_image()).save(buffer, "JPEG", exif=exif or Image.Exif(), **options)
    return buffer.getvalue()


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def reopened(photo: ProcessedPhoto) -> Image.Image:
    image = Image.open(io.BytesIO(photo.content))
    image.load()
    return image


def assert_no_metadata(photo: ProcessedPhoto) -> None:
    image = reopened(photo)
    assert len(image.getexif()) == 0
    assert "exif" not in image.info
    assert "xmp" not in image.info
    assert "comment" not in image.info
    for trace in (b"Exif", b"GPS", b"PhoneMaker", b"SN-0042", b"Alice", b"ns.adobe.com/xap", b"xmpmeta"):
        assert trace not in photo.content, trace


# -- JPEG: orientation, stripping, resizing, GPS ------------------------------------------------------


def test_a_phone_jpeg_is_turned_upright_shrunk_and_stripped_of_all_metadata() -> None:
    original = jpeg_bytes(exif=camera_exif(), comment=b"Alice Example's holiday", xmp=XMP_PACKET.encode())
    # The input really carries what must go (else the test below proves nothing).
    for trace in (b"Exif", b"GPS", b"PhoneMaker", b"SN-0042", b"Alice", b"xmpmeta"):
        assert trace in original

    photo = process_photo(original, max_bytes=MB, max_edge=100)

    assert photo.media_type == "image/jpeg"
    assert_no_metadata(photo)
    image = reopened(photo)
    assert image.format == "JPEG"
    # Stored 400×200 with orientation 6 (turn 90° clockwise to view): 200×400, then shrunk to fit 100.
    assert (photo.width, photo.height) == (50, 100) == image.size
    # Turned clockwise, the left (red) half becomes the top, the right (blue) half the bottom.
    top_red, _, top_blue = image.convert("RGB").getpixel((25, 10))  # type: ignore[misc]
    bottom_red, _, bottom_blue = image.convert("RGB").getpixel((25, 90))  # type: ignore[misc]
    assert top_red > 200 and top_blue < 60
    assert bottom_blue > 200 and bottom_red < 60


def test_orientation_8_turns_the_other_way() -> None:
    photo = process_photo(jpeg_bytes(exif=camera_exif(orientation=8)), max_bytes=MB, max_edge=400)
    image = reopened(photo).convert("RGB")
    assert image.size == (200, 400)
    # Turned counter-clockwise, the left (red) half ends at the bottom.
    assert image.getpixel((100, 390))[0] > 200  # type: ignore[index]
    assert image.getpixel((100, 10))[2] > 200  # type: ignore[index]


def test_gps_position_is_handed_back_in_decimal_degrees() -> None:
    photo = process_photo(jpeg_bytes(exif=camera_exif()), max_bytes=MB, max_edge=100)
    # 52° 31' 12" N = 52 + 31/60 + 12/3600 = 52.52; 13° 24' 36" E = 13 + 24/60 + 36/3600 = 13.41.
    assert photo.gps_hint == pytest.approx((52.52, 13.41), abs=1e-9)


def test_southern_and_western_positions_are_negative() -> None:
    exif = camera_exif(latitude=(22.0, 54.0, 30.0), latitude_ref="S", longitude=(43.0, 10.0, 21.0), longitude_ref="W")
    photo = process_photo(jpeg_bytes(exif=exif), max_bytes=MB, max_edge=100)
    # 22 + 54/60 + 30/3600 = 22.908333…; 43 + 10/60 + 21/3600 = 43.1725.
    assert photo.gps_hint == pytest.approx((-22.9083333333, -43.1725), abs=1e-9)


def test_fractional_seconds_count() -> None:
    exif = camera_exif(latitude=(48.0, 8.0, 37.8), longitude=(11.0, 34.0, 30.6))
    photo = process_photo(jpeg_bytes(exif=exif), max_bytes=MB, max_edge=100)
    # 48 + 8/60 + 37.8/3600 = 48.1438333…; 11 + 34/60 + 30.6/3600 = 11.575166…
    assert photo.gps_hint == pytest.approx((48.1438333333, 11.5751666667), abs=1e-6)


@pytest.mark.parametrize(
    "exif",
    [
        pytest.param(Image.Exif(), id="no EXIF"),
        pytest.param(camera_exif(latitude=None), id="longitude only"),
        pytest.param(camera_exif(latitude_ref="X"), id="bad reference"),
        pytest.param(camera_exif(latitude=(95.0, 0.0, 0.0)), id="latitude beyond the pole"),
        pytest.param(camera_exif(latitude=(52.0, 75.0, 0.0)), id="75 minutes"),
        pytest.param(camera_exif(latitude=(0.0, 0.0, 0.0), longitude=(0.0, 0.0, 0.0)), id="no fix (zeros)"),
    ],
)
def test_missing_or_invalid_gps_gives_no_hint(exif: Image.Exif) -> None:
    photo = process_photo(jpeg_bytes(exif=exif), max_bytes=MB, max_edge=100)
    assert photo.gps_hint is None
    assert_no_metadata(photo)


def test_the_colour_profile_is_kept() -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = process_photo(jpeg_bytes(exif=camera_exif(), icc_profile=profile), max_bytes=MB, max_edge=100)
    assert reopened(photo).info.get("icc_profile") == profile
    assert_no_metadata(photo)


def test_a_small_photo_is_never_enlarged() -> None:
    photo = process_photo(jpeg_bytes(two_colour_image(40, 30)), max_bytes=MB, max_edge=2048)
    assert (photo.width, photo.height) == (40, 30)


def test_the_longer_edge_is_the_one_that_fits() -> None:
    photo = process_photo(jpeg_bytes(two_colour_image(300, 1200)), max_bytes=MB, max_edge=600)
    # Portrait 300×1200 → the height becomes 600, the width halves with it: 150.
    assert (photo.width, photo.height) == (150, 600)


def test_a_multi_picture_jpeg_from_a_phone_is_read_as_its_first_picture() -> None:
    first, second = two_colour_image(), Image.new("RGB", (80, 80), "green")
    data = encoded(first, "MPO", save_all=True, append_images=[second], exif=camera_exif(orientation=1))
    photo = process_photo(data, max_bytes=MB, max_edge=1000)
    assert photo.media_type == "image/jpeg"
    assert (photo.width, photo.height) == (400, 200)
    assert_no_metadata(photo)
    assert reopened(photo).format == "JPEG"


# -- PNG and WebP ------------------------------------------------------------------------------------


def test_png_text_chunks_and_exif_are_dropped_and_transparency_kept() -> None:
    image = two_colour_image(mode="RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 40, 40))  # a transparent corner
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Alice Example")
    text.add_text("Comment", "taken at home", zip=True)
    text.add_itxt("Description", "PhoneMaker GPS trace", lang="en")
    data = encoded(image, "PNG", pnginfo=text, exif=camera_exif(orientation=None))
    assert b"tEXt" in data and b"zTXt" in data and b"iTXt" in data and b"eXIf" in data

    photo = process_photo(data, max_bytes=MB, max_edge=200)

    assert photo.media_type == "image/png"
    assert_no_metadata(photo)
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
        assert chunk not in photo.content
    out = reopened(photo)
    assert out.format == "PNG"
    assert out.text == {}  # type: ignore[attr-defined]
    assert out.mode == "RGBA"
    assert out.size == (200, 100)
    assert out.getpixel((5, 5))[3] == 0  # type: ignore[index]
    assert out.getpixel((150, 50))[3] == 255  # type: ignore[index]
    assert photo.gps_hint == pytest.approx((52.52, 13.41), abs=1e-9)


def test_a_palette_png_becomes_true_colour_so_shrinking_blends() -> None:
    data = encoded(two_colour_image().convert("P"), "PNG")
    out = reopened(process_photo(data, max_bytes=MB, max_edge=100))
    assert out.mode == "RGB"
    assert out.size == (100, 50)


def test_webp_stays_webp_without_its_exif_and_xmp() -> None:
    data = encoded(two_colour_image(), "WEBP", exif=camera_exif(orientation=6), xmp=XMP_PACKET.encode())
    assert b"EXIF" in data and b"XMP " in data

    photo = process_photo(data, max_bytes=MB, max_edge=100)

    assert photo.media_type == "image/webp"
    assert_no_metadata(photo)
    assert b"EXIF" not in photo.content and b"XMP " not in photo.content
    out = reopened(photo)
    assert out.format == "WEBP"
    assert out.size == (50, 100)  # turned upright, then shrunk
    assert photo.gps_hint == pytest.approx((52.52, 13.41), abs=1e-9)


# -- refused -----------------------------------------------------------------------------------------


def test_larger_than_the_limit_is_refused_as_too_large() -> None:
    data = jpeg_bytes()
    with pytest.raises(PayloadTooLarge):
        process_photo(data, max_bytes=len(data) - 1, max_edge=100)
    assert process_photo(data, max_bytes=len(data), max_edge=100).media_type == "image/jpeg"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(encoded(two_colour_image(), "GIF"), id="GIF"),
        pytest.param(encoded(two_colour_image(), "BMP"), id="BMP"),
        pytest.param(encoded(two_colour_image(), "TIFF"), id="TIFF"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', id="SVG"),
        pytest.param(b"This is not a picture at all.\n", id="text"),
        pytest.param(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", id="HEIC header"),
        pytest.param(b"", id="empty"),
    ],
)
def test_anything_but_jpeg_png_or_webp_is_refused(data: bytes) -> None:
    with pytest.raises(BadRequestData):
        process_photo(data, max_bytes=MB, max_edge=100)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_image_is_refused(fmt: str) -> None:
    noisy = Image.effect_noise((300, 300), 64).convert("RGB")  # noise: no run compresses away
    data = encoded(noisy, fmt)
    with pytest.raises(BadRequestData, match="truncated or corrupt"):
        process_photo(data[: len(data) // 2], max_bytes=MB, max_edge=100)


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width``×``height`` pixels (a decompression bomb's header)."""
    data = bytearray(encoded(Image.new("L", (8, 8)), "PNG"))
    ihdr_start = 8 + 4  # signature, then the chunk length
    body = b"IHDR" + struct.pack(">II", width, height) + bytes(data[ihdr_start + 12 : ihdr_start + 17])
    data[ihdr_start : ihdr_start + 17] = body
    data[ihdr_start + 17 : ihdr_start + 21] = struct.pack(">I", zlib.crc32(body))
    return bytes(data)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("width", "height"),
    [(8000, 8000), (10000, 10000), (30000, 30000)],  # above our limit; above Pillow's warning; its error
)
def test_a_decompression_bomb_is_refused_from_its_header(width: int, height: int) -> None:
    with pytest.raises(BadRequestData, match="pixels"):
        process_photo(png_declaring(width, height), max_bytes=MB, max_edge=100)


def test_the_pixel_limit_is_a_parameter() -> None:
    data = jpeg_bytes(two_colour_image(200, 100))
    with pytest.raises(BadRequestData, match="200×100"):
        process_photo(data, max_bytes=MB, max_edge=100, max_pixels=200 * 100 - 1)
    assert process_photo(data, max_bytes=MB, max_edge=100, max_pixels=200 * 100).width == 100


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns of the corrupt EXIF it skips
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_garbled_images_are_refused_or_cleaned_never_crash() -> None:
    # Random damage to real images: each outcome must be a clean photo or a 400, never another error.
    sources = [encoded(two_colour_image(120, 80), fmt, exif=camera_exif()) for fmt in ("JPEG", "PNG", "WEBP")]
    rng = random.Random(20261125)
    outcomes = {"accepted": 0, "refused": 0}
    for _ in range(300):
        damaged = bytearray(rng.choice(sources))
        if rng.random() < 0.3:
            damaged = damaged[: rng.randrange(len(damaged))]
        else:
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            photo = process_photo(bytes(damaged), max_bytes=MB, max_edge=60)
        except BadRequestData:
            outcomes["refused"] += 1
        else:
            outcomes["accepted"] += 1
            assert b"Exif" not in photo.content and b"PhoneMaker" not in photo.content
    assert outcomes["refused"] > 0 and outcomes["accepted"] > 0
