"""The fixed category taxonomy: normalisation, errors and subtree filters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.categories import CATEGORIES, check_category, parent_of, subtree
from domain.errors import ValidationFailed

TOP_LEVEL = tuple(c for c in CATEGORIES if "/" not in c)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("art", "art"),
        ("ART", "art"),
        ("  Art/Paintings  ", "art/paintings"),
        ("collectibles/trading-cards", "collectibles/trading-cards"),
        ("Electronics/TV-Video", "electronics/tv-video"),
    ],
)
def test_check_category_normalises(raw: str, expected: str) -> None:
    assert check_category(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "unicorns",
        "art/",
        "/art",
        "art/unicorns",
        "art//paintings",
        "paintings",
        "art/paintings/oil",
        "art paintings",
    ],
)
def test_check_category_rejects_unknown(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        check_category(raw)
    assert (err.value.code, err.value.field) == ("UNKNOWN_CATEGORY", "category")


def test_check_category_uses_given_field_and_rejects_non_strings() -> None:
    with pytest.raises(ValidationFailed) as err:
        check_category("nope", field="filter.category")
    assert err.value.field == "filter.category"
    with pytest.raises(ValidationFailed) as err:
        check_category(None)  # type: ignore[arg-type]
    assert err.value.code == "UNKNOWN_CATEGORY"


def test_taxonomy_shape() -> None:
    assert len(CATEGORIES) == len(set(CATEGORIES))
    assert all(c == c.lower() and c == c.strip() for c in CATEGORIES)
    assert len(TOP_LEVEL) == 13
    for category in CATEGORIES:
        parent = parent_of(category)
        if parent is not None:
            assert parent in CATEGORIES
            assert CATEGORIES.index(parent) < CATEGORIES.index(category)


def test_parent_of() -> None:
    assert parent_of("art") is None
    assert parent_of("art/paintings") == "art"


def test_subtree_of_top_level_category() -> None:
    assert subtree("art") == (
        "art",
        "art/paintings",
        "art/prints",
        "art/sculpture",
        "art/photography",
    )


def test_subtree_of_leaf_is_itself() -> None:
    assert subtree("fashion/watches") == ("fashion/watches",)


def test_subtree_normalises_its_argument() -> None:
    assert subtree("  CAMERAS ") == subtree("cameras")
    assert "cameras/drones" in subtree("Cameras")


def test_subtree_rejects_unknown_category() -> None:
    with pytest.raises(ValidationFailed) as err:
        subtree("unicorns")
    assert (err.value.code, err.value.field) == ("UNKNOWN_CATEGORY", "category")


def test_top_level_subtrees_partition_the_taxonomy() -> None:
    combined = [c for top in TOP_LEVEL for c in subtree(top)]
    assert sorted(combined) == sorted(CATEGORIES)


@given(st.sampled_from(CATEGORIES))
def test_subtree_holds_exactly_the_descendants(category: str) -> None:
    members = subtree(category)
    assert members[0] == category
    for other in CATEGORIES:
        chain: str | None = other
        descends = False
        while chain is not None:
            if chain == category:
                descends = True
            chain = parent_of(chain)
        assert (other in members) == descends
