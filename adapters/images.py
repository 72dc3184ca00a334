"""Local object storage for item images: files under one directory, served at /media."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

from domain.errors import ValidationFailed

ALLOWED = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
MAGIC = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
MAX_BYTES = 5 * 1024 * 1024
MAX_IMAGES = 10


@dataclass(frozen=True, slots=True)
class StoredImage:
    key: str
    content_type: str
    size_bytes: int


def sniff(data: bytes) -> str | None:
    """The content type the bytes really have (never trust the client's header)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, kind in MAGIC.items():
        if data.startswith(magic):
            return kind
    return None


class ImageStore:
    def __init__(self, root: Path, url_prefix: str = "/media") -> None:
        self.root = root
        self.url_prefix = url_prefix

    def check(self, blobs: list[bytes]) -> list[str]:
        if len(blobs) > MAX_IMAGES:
            raise ValidationFailed(f"at most {MAX_IMAGES} images", field="imageUploads")
        kinds = []
        for i, data in enumerate(blobs):
            if len(data) > MAX_BYTES:
                raise ValidationFailed(
                    f"image {i + 1} is over 5 MB", code="TOO_LONG", field="imageUploads"
                )
            kind = sniff(data)
            if kind is None:
                raise ValidationFailed(
                    f"image {i + 1} is not a JPEG, PNG, WebP or GIF", field="imageUploads"
                )
            kinds.append(kind)
        return kinds

    async def save(self, data: bytes, content_type: str) -> StoredImage:
        key = f"items/{uuid.uuid4().hex}.{ALLOWED[content_type]}"
        path = self.root / key
        await asyncio.to_thread(self._write, path, data)
        return StoredImage(key=key, content_type=content_type, size_bytes=len(data))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def url(self, key: str) -> str:
        return f"{self.url_prefix}/{key}"
