"""Report photos: uploaded with an Open311 POST (multipart ``media``), served at the request's ``media_url``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image
from report_builders import jpeg_with_gps
from test_open311_support import API, LAMP_FORM, api_key, assert_errors, created_id, open311_app

from conftest import login_headers


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (20, 10), (0, 0, 255, 128)).save(buffer, "PNG")
    return buffer.getvalue()


def _post_with_photos(client: TestClient, key: str, *photos: tuple[str, bytes, str]) -> Response:
    files = [("media", photo) for photo in photos]
    return client.post(f"{API}/requests.json", data={**LAMP_FORM, "api_key": key}, files=files)


def test_a_public_reports_photos_are_served_with_their_type(db_url: str, tenant: str) -> None:
    app = open311_app(db_url, tenant, citizen_confirm_anonymous=False)
    with TestClient(app) as client:
        key = api_key(app, tenant)
        response = _post_with_photos(
            client, key, ("lamp.jpg", jpeg_with_gps(), "image/jpeg"), ("sky.png", _png(), "image/png")
        )
        report_id = created_id(response)
        [item] = client.get(f"{API}/requests/{report_id}.json", params={"extensions": "true"}).json()
        urls = item["extended_attributes"]["media_urls"]
        assert len(urls) == 2 and item["media_url"] == urls[0]
        assert all(url.startswith(app.state.settings.effective_base_url + "/media/reports/") for url in urls)

        jpeg = client.get(urlsplit(urls[0]).path)
        assert jpeg.status_code == 200
        assert jpeg.headers["content-type"] == "image/jpeg"
        assert jpeg.headers["cache-control"] == "public, max-age=86400"
        assert jpeg.headers["x-content-type-options"] == "nosniff"
        assert jpeg.headers["content-disposition"] == "inline"
        assert jpeg.content.startswith(b"\xff\xd8") and b"SecretCam" not in jpeg.content
        png = client.get(urlsplit(urls[1]).path)
        assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")

        assert client.get("/media/reports/nosuchphoto1").status_code == 404
        assert client.get(urlsplit(urls[0]).path, params={"tenant": f"{tenant}-other"}).status_code == 404
        four = _post_with_photos(client, key, *[("lamp.jpg", jpeg_with_gps(), "image/jpeg")] * 4)
        assert four.status_code == 400
        assert four.json()[0]["description"].startswith("a report takes at most 3 photos")


def test_an_unconfirmed_reports_photo_is_for_staff_only(db_url: str, tenant: str) -> None:
    app = open311_app(db_url, tenant)  # anonymous reports wait for their confirmation
    with TestClient(app) as client:
        response = _post_with_photos(client, api_key(app, tenant), ("lamp.jpg", jpeg_with_gps(), "image/jpeg"))
        token = response.json()[0]["token"]
        [photo_id] = app.state.citizen_reports.by_token(token).photos
        path = f"/media/reports/{photo_id}"
        assert client.get(path).status_code == 404
        assert (
            client.get(path, headers=login_headers(client, tenant, "citizen", subject=f"ann-{tenant}")).status_code
            == 404
        )
        assert client.get(path, headers={"Authorization": "Bearer not-a-token"}).status_code == 404
        staff = client.get(path, headers=login_headers(client, tenant, "operator", subject=f"olga-{tenant}"))
        assert staff.status_code == 200
        assert staff.headers["content-type"] == "image/jpeg"
        assert staff.headers["cache-control"] == "private, no-store"


def test_bodies_beyond_the_limits_are_refused_unread(db_url: str, tenant: str) -> None:
    # A form may be max_body_bytes long; a multipart body as much again as three photos.
    app = open311_app(db_url, tenant, max_body_bytes=1024, citizen_photo_max_bytes=1024)
    with TestClient(app) as client:
        key = api_key(app, tenant)
        long_form = client.post(f"{API}/requests.json", data={**LAMP_FORM, "api_key": key, "zipcode": "1" * 1100})
        assert "1024" in assert_errors(long_form, 400, code=413)
        big_photo = _post_with_photos(client, key, ("lamp.jpg", b"\xff\xd8" + b"0" * 5000, "image/jpeg"))
        assert "4096" in assert_errors(big_photo, 400, code=413)

        def chunks() -> Iterator[bytes]:
            boundary = b"--xyz\r\n"
            yield boundary + b'Content-Disposition: form-data; name="media"; filename="a.jpg"\r\n\r\n'
            for _ in range(10):
                yield b"0" * 1000
            yield b"\r\n--xyz--\r\n"

        chunked = client.post(
            f"{API}/requests.xml", content=chunks(), headers={"content-type": "multipart/form-data; boundary=xyz"}
        )
        assert "limit" in assert_errors(chunked, 400, "xml", code=413)
        assert _post_with_photos(client, key).status_code == 200  # no photo at all is fine
