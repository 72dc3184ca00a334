"""QR images for MFA enrolment (segno): an `otpauth://` URI as an SVG data URI.

SVG because it is text (no image library on the request path), small (~3 KB for a
provisioning URI) and scales crisply; browsers show a `data:image/svg+xml` URI in an
`<img src>` directly. Error correction "M" (15 %) survives a phone camera's blur.
"""

from __future__ import annotations

import segno


def svg_data_uri(text: str) -> str:
    """`text` encoded as a QR code: 'data:image/svg+xml;charset=utf-8,<url-escaped SVG>'."""
    code = segno.make(text, error="m", micro=False)
    return str(code.svg_data_uri(scale=4, border=4))
