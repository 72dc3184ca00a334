"""Requests a browser sends cross-site without a CORS preflight, uploaded media, headers.

A foreign page can make its visitors' browsers POST a form (urlencoded or multipart) or
a text/plain body to Gavel without asking first; none of them may run an operation. The
GraphQL multipart upload path stays open to clients that send `Apollo-Require-Preflight`.
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.helpers import CREATE, PASSWORD, Account, listing, register

FOREIGN = {"Origin": "https://evil.example"}
PREFLIGHT = {"Apollo-Require-Preflight": "true"}
REGISTER_DOC = (
    "mutation($input: RegisterInput!) { register(input: $input) { user { id } errors { code } } }"
)


def _register_body() -> tuple[str, dict[str, Any]]:
    name = f"c{uuid.uuid4().hex[:10]}"
    variables = {"input": {"username": name, "email": f"{name}@example.com", "password": PASSWORD}}
    return name, {"query": REGISTER_DOC, "variables": variables}


async def _exists(gql: Any, name: str) -> bool:
    """Whether an account `name` was made: registering it again says USERNAME/EMAIL taken."""
    body = await gql(
        REGISTER_DOC,
        {"input": {"username": name, "email": f"{name}@example.com", "password": PASSWORD}},
    )
    return bool(body["data"]["register"]["errors"])


def _assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == [code]


def _multipart(operation: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
    """httpx arguments for a GraphQL multipart request (operations, map, then files)."""
    mapping = {key: [f"variables.input.imageUploads.{i}"] for i, key in enumerate(files)}
    return {
        "data": {"operations": json.dumps(operation), "map": json.dumps(mapping)},
        "files": {key: (f"{key}.bin", data, "image/png") for key, data in files.items()},
    }


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "TEXT/PLAIN; boundary=application/json",
        None,
    ],
)
async def test_simple_bodies_run_nothing(client, gql, content_type):
    name, request = _register_body()
    headers = {**FOREIGN, **({"Content-Type": content_type} if content_type else {})}
    response = await client.post("/graphql", content=json.dumps(request), headers=headers)
    _assert_refused(response, 400, "CSRF_PREFLIGHT_REQUIRED")
    assert not await _exists(gql, name)


async def test_a_cross_site_multipart_register_is_refused(client, gql):
    name, request = _register_body()
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(request), "map": "{}"},
        files={"unused": ("x.txt", b"x", "text/plain")},
        headers=FOREIGN,
    )
    _assert_refused(response, 400, "CSRF_PREFLIGHT_REQUIRED")
    assert not await _exists(gql, name)


@pytest.mark.parametrize(
    "header",
    [
        "Apollo-Require-Preflight",
        "X-Apollo-Operation-Name",
        "GraphQL-Preflight",
        "X-Requested-With",
    ],
)
async def test_a_preflight_forcing_header_lets_multipart_run(client, gql, header):
    name, request = _register_body()
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(request), "map": "{}"},
        files={"unused": ("x.txt", b"x", "text/plain")},
        headers={**FOREIGN, header: "1"},
    )
    assert response.json()["data"]["register"]["errors"] == [], response.text
    assert await _exists(gql, name)


async def test_an_empty_preflight_header_does_not_count(client, gql):
    name, request = _register_body()
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(request), "map": "{}"},
        files={"unused": ("x.txt", b"x", "text/plain")},
        headers={**FOREIGN, "Apollo-Require-Preflight": " "},
    )
    _assert_refused(response, 400, "CSRF_PREFLIGHT_REQUIRED")
    assert not await _exists(gql, name)


async def test_a_preflighted_non_graphql_body_type_is_unsupported(client, gql):
    name, request = _register_body()
    response = await client.post(
        "/graphql",
        content=json.dumps(request),
        headers={"Content-Type": "text/plain", **PREFLIGHT},
    )
    _assert_refused(response, 415, "UNSUPPORTED_CONTENT_TYPE")
    assert not await _exists(gql, name)


async def test_a_mutation_over_get_runs_nothing(client, gql):
    name, request = _register_body()
    response = await client.get(
        "/graphql",
        params={"query": request["query"], "variables": json.dumps(request["variables"])},
        headers=FOREIGN,
    )
    # GraphQL over HTTP: an operation GET cannot serve is 405, with the methods that can.
    _assert_refused(response, 405, "OPERATION_NOT_SUPPORTED")
    assert response.headers["allow"] == "POST"
    assert not await _exists(gql, name)


async def test_no_foreign_preflight_is_approved(client):
    # application/json from another site needs a preflight; nothing approves it.
    response = await client.options(
        "/graphql",
        headers={
            **FOREIGN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, apollo-require-preflight",
        },
    )
    assert response.status_code >= 400
    assert not any(name.startswith("access-control-allow") for name in response.headers)


async def test_queries_over_get_still_work(client):
    response = await client.get("/graphql", params={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}


# --- Uploads and media -------------------------------------------------------------------


def _image(fmt: str, size: tuple[int, int] = (8, 6), mode: str = "RGB", **save: Any) -> bytes:
    out = io.BytesIO()
    mode = "P" if fmt == "GIF" else mode
    color = (200, 30, 30) if mode == "RGB" else 3
    Image.new(mode, size, color=color).save(out, fmt, **save)
    return out.getvalue()


async def _create_with_images(
    client: httpx.AsyncClient, seller: Account, blobs: list[bytes], headers: dict[str, str]
) -> httpx.Response:
    operation = {
        "query": CREATE.replace("item { title", "item { imageUrls title"),
        "variables": {"input": {**listing(), "imageUploads": [None] * len(blobs)}},
    }
    return await client.post(
        "/graphql",
        **_multipart(operation, {str(i): blob for i, blob in enumerate(blobs)}),
        headers={"Authorization": f"Bearer {seller.token}", **headers},
    )


@pytest.fixture(scope="module")
async def seller(gql) -> Account:
    return await register(gql, seller=True)


async def test_an_upload_needs_the_preflight_header(client, seller):
    response = await _create_with_images(client, seller, [_image("PNG")], {})
    _assert_refused(response, 400, "CSRF_PREFLIGHT_REQUIRED")


async def test_uploads_are_served_re_encoded_with_safe_headers(client, seller):
    exif = Image.Exif()
    exif[0x010E] = "secret camera note"  # ImageDescription
    jpeg = _image("JPEG", exif=exif.tobytes(), comment=b"a comment")
    gif = _image("GIF", comment=b"gif comment")
    png = _image("PNG", pnginfo=_png_text("Comment", "png text chunk"))
    response = await _create_with_images(client, seller, [jpeg, gif, png], PREFLIGHT)
    body = response.json()
    created = body["data"]["createAuction"]
    assert created["errors"] == [], body
    urls = created["auction"]["item"]["imageUrls"]
    assert [u.rsplit(".", 1)[1] for u in urls] == ["jpg", "gif", "png"]
    for url, kind, marker in zip(
        urls,
        ("image/jpeg", "image/gif", "image/png"),
        (b"secret camera note", b"gif comment", b"png text chunk"),
        strict=True,
    ):
        served = await client.get(url)
        assert served.status_code == 200
        assert served.headers["content-type"] == kind
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
        assert "default-src 'none'" in served.headers["content-security-policy"]
        name = url.rsplit("/", 1)[1]
        assert served.headers["content-disposition"] == f'inline; filename="{name}"'
        assert marker not in served.content  # metadata did not survive re-encoding
        assert b"a comment" not in served.content
        Image.open(io.BytesIO(served.content)).load()  # still a whole picture


def _png_text(key: str, value: str) -> Any:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(key, value)
    return info


def _animation(fmt: str) -> bytes:
    frames = [Image.new("RGB", (8, 8), color=(i * 80, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(
        out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, comment=b"hi"
    )
    return out.getvalue()


async def test_animations_are_stored_as_their_first_frame(client, seller):
    blobs = [_animation("GIF"), _animation("WEBP"), _animation("PNG"), _image("WEBP")]
    response = await _create_with_images(client, seller, blobs, PREFLIGHT)
    body = response.json()
    created = body["data"]["createAuction"]
    assert created["errors"] == [], body
    urls = created["auction"]["item"]["imageUrls"]
    assert [u.rsplit(".", 1)[1] for u in urls] == ["gif", "webp", "png", "webp"]
    frames, reds = [], []
    for url in urls:
        served = await client.get(url)
        assert served.headers["x-content-type-options"] == "nosniff"
        with Image.open(io.BytesIO(served.content)) as image:
            frames.append(getattr(image, "n_frames", 1))
            reds.append(image.convert("RGB").getpixel((0, 0))[0])  # type: ignore[index]
    assert frames == [1, 1, 1, 1]
    assert all(red < 40 for red in reds[:3]), reds  # the first frame is black, not red


POLYGLOTS = {
    # A real GIF whose comment extension is an HTML page.
    "gif comment": lambda: _image("GIF", comment=b"<html><script>alert(1)</script></html>"),
    # A real GIF with a page after its trailer.
    "gif trailer": lambda: _image("GIF") + b"<script>alert(document.domain)</script>",
    # The classic GIF89a/* polyglot head: the bytes are a script and a GIF header at once.
    "gif header": lambda: b"GIF89a/*\x00\x00" + b"*/=1;<svg onload=alert(1)>",
    "jpeg comment": lambda: _image("JPEG", comment=b"<!DOCTYPE html><body onload=alert(1)>"),
    "png text": lambda: _image("PNG", pnginfo=_png_text("x", "<IFRAME src=//evil>")),
    "svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "svg as png": lambda: b"\x89PNG\r\n\x1a\n<svg onload=alert(1)>",
    "html": lambda: b"<html><body>hello</body></html>",
    "truncated png": lambda: _image("PNG", size=(64, 64))[:60],
    "gif claiming png": lambda: b"\x89PNG\r\n\x1a\n" + _image("GIF")[8:],
    "decompression bomb": lambda: _image("PNG", size=(9_000, 5_000), mode="L"),
}


@pytest.mark.parametrize("kind", list(POLYGLOTS))
async def test_polyglots_and_non_images_are_refused(client, seller, kind):
    response = await _create_with_images(client, seller, [POLYGLOTS[kind]()], PREFLIGHT)
    body = response.json()
    created = body["data"]["createAuction"]
    assert created["auction"] is None, body
    assert [(e["code"], e["field"]) for e in created["errors"]] == [
        ("INVALID_INPUT", "imageUploads")
    ]


@pytest.mark.parametrize(
    "path",
    [
        "/media/../settings.py",
        "/media/%2e%2e/settings.py",
        "/media/items/" + "0" * 32 + ".html",
        "/media/items/" + "0" * 32 + ".png",
        "/media/items/../../../gavel_app.py",
        "/media/",
    ],
)
async def test_media_serves_only_stored_image_keys(client, path):
    response = await client.get(path)
    assert response.status_code == 404
    assert not response.headers["content-type"].startswith("text/html")


async def test_graphiql_page_cannot_be_framed(client):
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    api = await client.post("/graphql", json={"query": "{ __typename }"})
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "x-frame-options" not in api.headers
