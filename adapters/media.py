"""Serves stored item images at /media/<key>, so that no browser treats one as a page.

Only keys `adapters/images.py` makes are served (`items/<32 hex>.<jpg|png|webp|gif>`;
anything else is 404, so no path escapes the media directory). The Content-Type comes
from that extension, which the image store chose from the validated, re-encoded bytes;
it is never guessed. Every answer says `X-Content-Type-Options: nosniff` (no browser
second-guesses the type), `Content-Security-Policy: default-src 'none'; sandbox` (were
it rendered as a document anyway, it could load and run nothing, in an opaque origin)
and `Content-Disposition: inline` with the key's own safe file name. Keys are never
reused, so answers may be cached for a year. Dispute evidence is stored under
`evidence/`, which this route never serves: adapters/signed_media.py serves it, only
with a short-lived signature.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from adapters.images import CONTENT_TYPES

# A stored file's name (adapters/images.py `ImageStore.save`): the folder is not part of it.
NAME = r"(?P<name>[0-9a-f]{32}\.(?P<ext>jpg|png|webp|gif))"
_KEY = re.compile(rf"items/{NAME}")
MEDIA_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Cache-Control": "public, max-age=31536000, immutable",
}


def not_found() -> Response:
    return PlainTextResponse(
        "Not Found", status_code=404, headers={"X-Content-Type-Options": "nosniff"}
    )


class MediaFiles:
    """`serve` is the starlette endpoint for `/media/{key:path}` (GET and HEAD)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def serve(self, request: Request) -> Response:
        match = _KEY.fullmatch(request.path_params.get("key", ""))
        if match is None:
            return not_found()
        path = self.root / "items" / match["name"]
        if not path.is_file():
            return not_found()
        return file_response(path, match["name"], match["ext"], MEDIA_HEADERS)


def file_response(path: Path, name: str, ext: str, headers: dict[str, str]) -> Response:
    """The stored file at `path`, its type from `ext` (never guessed), shown inline."""
    return FileResponse(
        path,
        media_type=CONTENT_TYPES[ext],
        headers=headers,
        filename=name,
        content_disposition_type="inline",
    )
