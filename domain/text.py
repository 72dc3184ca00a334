"""Text a client sends must be storable and make sense where it goes.

PostgreSQL `text` cannot hold NUL, and a lone UTF-16 surrogate (JSON `"\\ud800"` decodes to
one in Python) cannot be encoded as UTF-8 at all, so neither asyncpg nor Redis can take it.
Control characters (Unicode category Cc: C0, DEL, C1) are storable but never meant in a
title, a name, an email, a key or a token; multi-line text (descriptions, messages) may
hold tab, line feed and carriage return. Source: issue 12 item 5.
"""

from __future__ import annotations

import re

from domain.errors import ValidationFailed

# Surrogates, C0 and C1 controls and DEL, minus what multi-line text may carry.
_NOT_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def is_storable(value: str) -> bool:
    """True if `value` is acceptable anywhere: no NUL, no lone surrogate, no control
    character but tab, line feed and carriage return."""
    return _NOT_MULTILINE.search(value) is None


def check_text(value: str, field: str, *, multiline: bool = False) -> str:
    """`value` unchanged, or ValidationFailed(INVALID_INPUT, field).

    Single-line text (the default) refuses every control character, tab and line breaks
    included; multi-line text allows tab, LF and CR. Both refuse NUL and lone surrogates.
    """
    pattern = _NOT_MULTILINE if multiline else _NOT_SINGLE_LINE
    if pattern.search(value) is not None:
        kind = "NUL, control characters or unpaired surrogates"
        if not multiline:
            kind += " (line breaks and tabs included)"
        # The value is not echoed: it may hold characters no JSON encoder accepts.
        raise ValidationFailed(f"{field} must not contain {kind}", field=field)
    return value


def first_unstorable(value: object, path: str = "") -> str | None:
    """The path ("input.title", "ids[2]") of the first string inside a JSON-like value
    (dicts, lists, strings; keys included) that is_storable refuses, or None.

    On the bid path for every request: paths are only built on the way to a refusal."""
    search = _NOT_MULTILINE.search
    if isinstance(value, str):
        return None if search(value) is None else path
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and search(key) is not None:
                return path or "(key)"
            if isinstance(item, str):
                if search(item) is not None:
                    return f"{path}.{key}" if path else str(key)
            elif isinstance(item, dict | list):
                found = first_unstorable(item, f"{path}.{key}" if path else str(key))
                if found is not None:
                    return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = first_unstorable(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
