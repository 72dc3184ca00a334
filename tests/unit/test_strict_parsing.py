"""The strict amount parser and the text checks (issue 12 items 4 and 5) against tiny models."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.errors import ValidationFailed
from domain.money import MAX_DECIMAL_LENGTH, parse_decimal
from domain.text import check_text, first_unstorable, is_storable

# The reference: what the wire grammar says, spelled as plainly as possible.
_MODEL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)


def model_accepts(text: str) -> bool:
    return len(text) <= MAX_DECIMAL_LENGTH and _MODEL.fullmatch(text) is not None


# Arabic-Indic one, full-width one, superscript two, Arabic decimal separator, NKo one.
decimal_alphabet = st.sampled_from([*"0123456789-+.eE_ \n\t,x", *"\u0661\uff11\u00b2\u066b\u07c1"])
plain = st.from_regex(r"\A-?[0-9]{1,20}(\.[0-9]{1,12})?\Z", fullmatch=True)


@given(text=st.one_of(st.text(decimal_alphabet, max_size=40), st.text(max_size=40), plain))
@example("1_000")
@example("\uff11\uff10")  # full-width 10
@example("\u0661\u0660\u0660")  # Arabic-Indic 100
@example("\u0661\u0660\u0660.\u0665")  # Arabic-Indic 100.5
@example("1e1")
@example(" 10")
@example("10\n")
@example("+10")
@example("10.")
@example(".5")
@example("0x10")
@example("NaN")
@example("Infinity")
@example("1e-2")
@example("\u00b2")  # superscript two
@example("1" * (MAX_DECIMAL_LENGTH + 1))
def test_parse_decimal_matches_the_regex_model(text: str) -> None:
    if model_accepts(text):
        assert parse_decimal(text) == Decimal(text)
    else:
        with pytest.raises(ValidationFailed) as err:
            parse_decimal(text, field="bid")
        assert (err.value.code, err.value.field) == ("INVALID_AMOUNT", "bid")


@given(value=st.one_of(st.floats(), st.integers(), st.booleans(), st.none(), st.just(b"10")))
def test_parse_decimal_refuses_non_strings(value: object) -> None:
    with pytest.raises(ValidationFailed):
        parse_decimal(value)


def test_every_unicode_decimal_digit_but_ascii_is_refused() -> None:
    digits = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Nd"]
    foreign = [d for d in digits if not "0" <= d <= "9"]
    assert len(foreign) > 500  # every other digit system
    for digit in foreign:
        with pytest.raises(ValidationFailed):
            parse_decimal(f"1{digit}")


def _model_storable(value: str, *, multiline: bool) -> bool:
    allowed = {"\t", "\n", "\r"} if multiline else set()
    return not any((unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed) for ch in value)


text_alphabet = st.one_of(
    st.characters(codec=None),
    st.sampled_from(["\x00", "\ud800", "\udfff", "\t", "\n", "\r", "\x7f", "\x85", "\x1b"]),
)


@given(value=st.text(text_alphabet, max_size=30), multiline=st.booleans())
@example("a\x00b", False)
@example("\ud800", True)
@example("line one\nline two\ttabbed\r\n", True)
def test_check_text_matches_the_category_model(value: str, multiline: bool) -> None:
    if _model_storable(value, multiline=multiline):
        assert check_text(value, "title", multiline=multiline) is value
    else:
        with pytest.raises(ValidationFailed) as err:
            check_text(value, "title", multiline=multiline)
        assert (err.value.code, err.value.field) == ("INVALID_INPUT", "title")
    assert is_storable(value) == _model_storable(value, multiline=True)


def test_first_unstorable_walks_nested_values_and_keys() -> None:
    assert first_unstorable({"input": {"title": "ok", "tags": ["a", "b\x00"]}}) == ("input.tags[1]")
    assert first_unstorable({"json": {"k\ud800": 1}}) == "json"
    assert first_unstorable({"input": {"description": "two\nlines", "n": 3, "x": None}}) is None
