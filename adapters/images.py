"""Local object storage for item images: files under one directory, served at /media.

An upload is never stored as sent. Its real type comes from its bytes (the client's
Content-Type is ignored); it is refused if it carries markup a browser could render
(a GIF/HTML or JPEG/HTML polyglot, SVG), decoded in full by Pillow (a truncated or
malformed file, a decompression bomb, a type mismatch are refused) and re-encoded from
its pixels alone. Re-encoding drops everything that is not the picture: comments, EXIF
(camera GPS positions included, after applying its orientation), XMP, ICC profiles,
trailing bytes. SVG is never accepted: it is a document that runs scripts, not a picture.
"""

from __future__ import annotations

import asyncio
import io
import re
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from domain.errors import ValidationFailed

# Stored file extension per content type: the media route derives the Content-Type it
# serves from this extension, which only this module chooses.
ALLOWED = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
CONTENT_TYPES = {ext: kind for kind, ext in ALLOWED.items()}
PILLOW_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
}
MAGIC = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
MAX_BYTES = 5 * 1024 * 1024
MAX_IMAGES = 10
MAX_PIXELS = 40_000_000  # per frame: 8000 x 5000
MAX_FRAMES = 200
MAX_TOTAL_PIXELS = 200_000_000  # all frames of an animation together
JPEG_QUALITY = 90  # also WebP's
# Tags browsers sniff as HTML/XML documents; no genuine picture carries them.
MARKUP = re.compile(
    rb"<(?:!doctype|html|head|body|script|svg|iframe|object|embed|\?xml-stylesheet|\?php)"
    rb"[\s/>]",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class StoredImage:
    key: str
    content_type: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class CleanImage:
    """An upload re-encoded from its pixels: `data` is what gets stored."""

    data: bytes
    content_type: str


def sniff(data: bytes) -> str | None:
    """The content type the bytes really have (never trust the client's header)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, kind in MAGIC.items():
        if data.startswith(magic):
            return kind
    return None


def clean(data: bytes, index: int = 0) -> CleanImage:
    """Validate one upload in full and re-encode it; CPU-bound (call it off the loop).

    Raises ValidationFailed (INVALID_INPUT or TOO_LONG, field imageUploads)."""
    label = f"image {index + 1}"
    if len(data) > MAX_BYTES:
        raise ValidationFailed(f"{label} is over 5 MB", code="TOO_LONG", field="imageUploads")
    kind = sniff(data)
    if kind is None:
        raise ValidationFailed(f"{label} is not a JPEG, PNG, WebP or GIF", field="imageUploads")
    if MARKUP.search(data):
        raise ValidationFailed(f"{label} contains HTML or SVG markup", field="imageUploads")
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own pixel limit; ours is lower anyway.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return CleanImage(_reencode(data, kind, label), kind)
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationFailed(f"{label} is not a valid image", field="imageUploads") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError):
        # Pillow reports malformed data with any of these (SyntaxError: broken headers).
        raise ValidationFailed(f"{label} is not a valid image", field="imageUploads") from None


def _reencode(data: bytes, kind: str, label: str) -> bytes:
    fmt = PILLOW_FORMATS[kind]
    with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
        frames = getattr(probe, "n_frames", 1)
        pixels = probe.width * probe.height
        if pixels > MAX_PIXELS or frames > MAX_FRAMES or pixels * frames > MAX_TOTAL_PIXELS:
            raise ValidationFailed(f"{label} has too many pixels", field="imageUploads")
        probe.verify()  # checksums and structure, before decoding anything
    out = io.BytesIO()
    with Image.open(io.BytesIO(data), formats=[fmt]) as image:
        if frames > 1:
            _save_animation(image, fmt, out)
        else:
            _save_still(image, fmt, out)
    return out.getvalue()


def _pixels_only(image: Image.Image, keep_transparency: bool = True) -> Image.Image:
    """`image` with no metadata left: Pillow writes whatever `info` holds."""
    kept = image.info.get("transparency") if keep_transparency else None
    image.info = {} if kept is None else {"transparency": kept}
    return image


def _save_still(image: Image.Image, fmt: str, out: io.BytesIO) -> None:
    image.load()
    picture = ImageOps.exif_transpose(image)  # a copy, the orientation applied
    if fmt == "JPEG" and picture.mode not in ("L", "RGB", "CMYK"):
        picture = picture.convert("RGB")
    elif fmt == "WEBP" and picture.mode not in ("RGB", "RGBA"):
        picture = picture.convert("RGBA")
    picture = _pixels_only(picture, keep_transparency=fmt in ("PNG", "GIF"))
    if fmt in ("JPEG", "WEBP"):  # lossy: one quality for both
        picture.save(out, fmt, quality=JPEG_QUALITY)
    else:
        picture.save(out, fmt)


def _save_animation(image: Image.Image, fmt: str, out: io.BytesIO) -> None:
    frames: list[Image.Image] = []
    durations: list[int] = []
    loop = image.info.get("loop", 0)
    for frame in ImageSequence.Iterator(image):
        durations.append(int(frame.info.get("duration", 100)))
        frames.append(_pixels_only(frame.convert("RGBA"), keep_transparency=False))
    first, rest = frames[0], frames[1:]
    first.save(out, fmt, save_all=True, append_images=rest, duration=durations, loop=int(loop))


class ImageStore:
    def __init__(self, root: Path, url_prefix: str = "/media") -> None:
        self.root = root
        self.url_prefix = url_prefix

    async def prepare(self, blobs: list[bytes]) -> list[CleanImage]:
        """Every upload validated and re-encoded (see the module doc), in a worker thread.

        Raises ValidationFailed for the first bad one; nothing is stored then."""
        if len(blobs) > MAX_IMAGES:
            raise ValidationFailed(f"at most {MAX_IMAGES} images", field="imageUploads")
        if not blobs:
            return []
        return await asyncio.to_thread(lambda: [clean(d, i) for i, d in enumerate(blobs)])

    async def save(self, image: CleanImage) -> StoredImage:
        key = f"items/{uuid.uuid4().hex}.{ALLOWED[image.content_type]}"
        path = self.root / key
        await asyncio.to_thread(self._write, path, image.data)
        return StoredImage(key=key, content_type=image.content_type, size_bytes=len(image.data))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def url(self, key: str) -> str:
        return f"{self.url_prefix}/{key}"
