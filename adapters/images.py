"""Local object storage for item images: files under one directory, served at /media.

An upload is never stored as sent. Its real type comes from its bytes (the client's
Content-Type is ignored); it is refused if it carries markup a browser could render
(a GIF/HTML or JPEG/HTML polyglot, SVG), decoded by Pillow (a truncated or malformed
file, a decompression bomb, a type mismatch are refused) and re-encoded from its pixels
alone. Re-encoding drops everything that is not the picture: comments, EXIF (camera GPS
positions included, after applying its orientation), XMP, ICC profiles, trailing bytes.
SVG is never accepted: it is a document that runs scripts, not a picture.

CPU is bounded in three steps, so one request, or many, cannot pin the cores:

1. caps read from the headers alone, before any pixel is decoded (`probe`): at most
   MAX_BYTES per file, MAX_IMAGES per listing, MAX_SIDE pixels a side, MAX_PIXELS per
   image, MAX_LISTING_PIXELS for all images of one listing together, and MAX_JPEG_SCANS
   scans in a JPEG (each progressive scan is another pass over the whole image);
2. an animation (GIF, APNG, animated WebP) is stored as its first frame: a listing photo
   need not move, and decoding frame n of a GIF means compositing every frame before it,
   so the frame count would multiply the cost. Only that frame is ever decoded;
3. the decoding and re-encoding run in a pool of `workers` threads per process
   (`ImageWork`, GAVEL_IMAGE_WORKERS, default 1: on two cores the event loop keeps the
   other one); an upload that waits longer than GAVEL_IMAGE_WAIT_SECONDS for a worker
   is answered UNAVAILABLE with `retryAfter`, not held. createAuction, the one upload
   entry point, is also rate limited per user (GAVEL_RATE_LISTING_USER).
"""

from __future__ import annotations

import asyncio
import io
import re
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from PIL import Image, ImageOps, UnidentifiedImageError

from domain.errors import ValidationFailed
from services.unavailable import Unavailable

# Stored file extension per content type: the media route derives the Content-Type it
# serves from this extension, which only this module chooses.
ALLOWED = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
CONTENT_TYPES = {ext: kind for kind, ext in ALLOWED.items()}
PUBLIC_FOLDER = "items"  # listing photos: /media/items/<name>, to anyone
PRIVATE_FOLDER = "evidence"  # dispute evidence: signed URLs only (adapters/signed_media.py)
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
MAX_BYTES = 5 * 1024 * 1024  # per file
MAX_IMAGES = 10  # per listing
MAX_SIDE = 10_000  # pixels, width or height
MAX_PIXELS = 25_000_000  # per image (its first frame): 6000 x 4000 fits
MAX_LISTING_PIXELS = 60_000_000  # all images of one listing together
MAX_JPEG_SCANS = 32  # baseline: 1; libjpeg's progressive: 10
BUSY_RETRY_AFTER_SECONDS = 5
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


@dataclass(frozen=True, slots=True)
class Probed:
    """An upload whose headers passed the caps; no pixel has been decoded yet."""

    data: bytes
    content_type: str
    pixels: int
    label: str


def _invalid(label: str) -> ValidationFailed:
    return ValidationFailed(f"{label} is not a valid image", field="imageUploads")


def probe(data: bytes, index: int = 0) -> Probed:
    """Type, markup and size caps of one upload, from its bytes and headers only.

    Raises ValidationFailed (INVALID_INPUT or TOO_LONG, field imageUploads)."""
    label = f"image {index + 1}"
    if len(data) > MAX_BYTES:
        raise ValidationFailed(f"{label} is over 5 MB", code="TOO_LONG", field="imageUploads")
    kind = sniff(data)
    if kind is None:
        raise ValidationFailed(f"{label} is not a JPEG, PNG, WebP or GIF", field="imageUploads")
    if MARKUP.search(data):
        raise ValidationFailed(f"{label} contains HTML or SVG markup", field="imageUploads")
    # 0xFFDA starts a scan; inside entropy-coded data a 0xFF byte is always stuffed.
    if kind == "image/jpeg" and data.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise ValidationFailed(f"{label} has too many JPEG scans", field="imageUploads")
    try:
        with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[kind]]) as image:
            width, height = image.size
            if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise ValidationFailed(
                    f"{label} is {width}x{height}: at most {MAX_PIXELS // 1_000_000} "
                    f"megapixels and {MAX_SIDE} pixels a side",
                    field="imageUploads",
                )
            image.verify()  # checksums and structure, before decoding anything
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _invalid(label) from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError):
        raise _invalid(label) from None
    return Probed(data, kind, width * height, label)


def probe_all(blobs: list[bytes]) -> list[Probed]:
    """`probe` of every upload of one listing, and the listing's caps.

    Raises ValidationFailed for the first bad one."""
    if len(blobs) > MAX_IMAGES:
        raise ValidationFailed(f"at most {MAX_IMAGES} images", field="imageUploads")
    probed = [probe(data, i) for i, data in enumerate(blobs)]
    total = sum(p.pixels for p in probed)
    if total > MAX_LISTING_PIXELS:
        raise ValidationFailed(
            f"the images have {total / 1_000_000:.1f} megapixels together: at most "
            f"{MAX_LISTING_PIXELS // 1_000_000}",
            field="imageUploads",
        )
    return probed


def reencode(upload: Probed) -> CleanImage:
    """Decode the first frame of a probed upload and re-encode it; CPU-bound (run it in
    `ImageWork`). Raises ValidationFailed (INVALID_INPUT) if the pixels are malformed."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own pixel limit; ours is lower anyway.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            out = io.BytesIO()
            fmt = PILLOW_FORMATS[upload.content_type]
            with Image.open(io.BytesIO(upload.data), formats=[fmt]) as image:
                _save_still(image, fmt, out)  # the first frame only (module doc)
            return CleanImage(out.getvalue(), upload.content_type)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _invalid(upload.label) from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError):
        # Pillow reports malformed data with any of these (SyntaxError: broken headers).
        raise _invalid(upload.label) from None


def clean(data: bytes, index: int = 0) -> CleanImage:
    """`probe` then `reencode` one upload, in the calling thread (tools and tests)."""
    return reencode(probe(data, index))


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


T = TypeVar("T")


class ImageWork:
    """At most `workers` images decoded at once in this process; an upload waits for a
    worker at most `wait_seconds`, then answers UNAVAILABLE (`retryAfter`).

    A worker stays taken until its thread is done, even if the request that started it
    was cancelled meanwhile, so the bound holds for the CPU and not only for requests."""

    def __init__(self, workers: int = 1, wait_seconds: float = 20.0) -> None:
        self.workers = workers
        self.wait_seconds = wait_seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gavel-images")
        self._free: asyncio.Semaphore | None = None

    async def run(self, work: Callable[[], T]) -> T:
        if self._free is None:
            self._free = asyncio.Semaphore(self.workers)
        free = self._free
        try:
            await asyncio.wait_for(free.acquire(), self.wait_seconds)
        except TimeoutError:
            raise Unavailable(
                "image processing is busy; retry shortly", retry_after=BUSY_RETRY_AFTER_SECONDS
            ) from None
        try:
            future = asyncio.get_running_loop().run_in_executor(self._pool, work)
        except BaseException:
            free.release()
            raise
        future.add_done_callback(lambda _: free.release())
        return await asyncio.shield(future)


class ImageStore:
    def __init__(
        self, root: Path, url_prefix: str = "/media", work: ImageWork | None = None
    ) -> None:
        self.root = root
        self.url_prefix = url_prefix
        self.work = work or ImageWork()

    async def prepare(self, blobs: list[bytes]) -> list[CleanImage]:
        """Every upload checked and re-encoded (see the module doc): the header caps in a
        thread of their own, the pixels one image at a time in `ImageWork`.

        Raises ValidationFailed for the first bad one (nothing is stored then), or
        Unavailable when no image worker came free in time."""
        if len(blobs) > MAX_IMAGES:
            raise ValidationFailed(f"at most {MAX_IMAGES} images", field="imageUploads")
        if not blobs:
            return []
        probed = await asyncio.to_thread(probe_all, blobs)
        return [await self.work.run(partial(reencode, upload)) for upload in probed]

    async def save(self, image: CleanImage, *, private: bool = False) -> StoredImage:
        """Stores `image` under a new key: `items/<32 hex>.<ext>`, served to anyone at
        `url(key)`, or with `private`, `evidence/<32 hex>.<ext>`, which only a signed,
        short-lived URL serves (adapters/signed_media.py)."""
        folder = PRIVATE_FOLDER if private else PUBLIC_FOLDER
        key = f"{folder}/{uuid.uuid4().hex}.{ALLOWED[image.content_type]}"
        path = self.root / key
        await asyncio.to_thread(self._write, path, image.data)
        return StoredImage(key=key, content_type=image.content_type, size_bytes=len(image.data))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def url(self, key: str) -> str:
        return f"{self.url_prefix}/{key}"
