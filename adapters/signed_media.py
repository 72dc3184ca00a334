"""Private media (dispute evidence) behind short-lived signed URLs.

`ImageStore.save(..., private=True)` stores a file under `evidence/<32 hex>.<ext>`, which
the public `/media/items/...` route never serves. Whoever may read the dispute gets
`/media/evidence/<name>?exp=<unix seconds>&sig=<64 hex>` from `url`: `sig` is
HMAC-SHA256, under a key derived from the server secret (GAVEL_JWT_SECRET), of the key
and the expiry; `exp` is now + GAVEL_EVIDENCE_URL_TTL_SECONDS. The URL can be
neither forged, moved to another file, nor stretched, and leaked, it dies with `exp`.

`serve` answers 404 alike to a missing, malformed, tampered, foreign or expired
signature and to an unknown file (nothing says which, nor that the file exists); a good
one gets the file with the public route's safe headers (adapters/media.py) but
`Cache-Control: private, no-store`, so no shared cache keeps it past its expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from adapters.images import PRIVATE_FOLDER
from adapters.media import MEDIA_HEADERS, NAME, file_response, not_found

_KEY = re.compile(rf"{PRIVATE_FOLDER}/{NAME}")
_EXP = re.compile(r"[0-9]{1,12}")
_SIG = re.compile(r"[0-9a-f]{64}")
PRIVATE_HEADERS = {
    **MEDIA_HEADERS,
    "Cache-Control": "private, no-store",
    # The URL is a bearer credential until it expires: never hand it on as a Referer.
    "Referrer-Policy": "no-referrer",
}


class SignedMedia:
    """Signs and serves the private files under `root/evidence`.

    `secret`: the server secret; a key of its own is derived from it, so a media
    signature is never valid as anything else. `ttl_seconds`: a URL's life.
    `clock`: unix seconds (tests move it)."""

    def __init__(
        self,
        root: Path,
        secret: str,
        ttl_seconds: int = 300,
        *,
        url_prefix: str = "/media",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.ttl_seconds = ttl_seconds
        self.url_prefix = url_prefix
        self.clock = clock
        self._key = hmac.new(secret.encode(), b"gavel signed media v1", hashlib.sha256).digest()

    def holds(self, key: str) -> bool:
        """Whether `key` is a private file's (so only `url` may name it)."""
        return _KEY.fullmatch(key) is not None

    def _sign(self, key: str, exp: int) -> str:
        return hmac.new(self._key, f"{key}\n{exp}".encode(), hashlib.sha256).hexdigest()

    def url(self, key: str) -> str:
        """`/media/<key>?exp=<unix seconds>&sig=<hex>`, valid for `ttl_seconds`."""
        exp = int(self.clock()) + self.ttl_seconds
        return f"{self.url_prefix}/{key}?exp={exp}&sig={self._sign(key, exp)}"

    def verify(self, key: str, exp: str | None, sig: str | None) -> bool:
        """Whether `sig` signs `key` until `exp` and `exp` has not passed (constant-time)."""
        if exp is None or sig is None or not _EXP.fullmatch(exp) or not _SIG.fullmatch(sig):
            return False
        good = hmac.compare_digest(self._sign(key, int(exp)), sig)
        return good and self.clock() < int(exp)

    async def serve(self, request: Request) -> Response:
        """The starlette endpoint for `/media/evidence/{name}` (GET and HEAD)."""
        key = f"{PRIVATE_FOLDER}/{request.path_params.get('name', '')}"
        match = _KEY.fullmatch(key)
        params = request.query_params
        if match is None or not self.verify(key, params.get("exp"), params.get("sig")):
            return not_found()
        path = self.root / PRIVATE_FOLDER / match["name"]
        if not path.is_file():
            return not_found()
        return file_response(path, match["name"], match["ext"], PRIVATE_HEADERS)
