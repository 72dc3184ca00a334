"""The fixed category taxonomy. A category is a slash path; filters match a whole subtree."""

from __future__ import annotations

from domain.errors import ValidationFailed

_TREE: dict[str, tuple[str, ...]] = {
    "antiques": ("furniture", "silver", "clocks", "maps"),
    "art": ("paintings", "prints", "sculpture", "photography"),
    "books": ("rare", "comics", "textbooks"),
    "cameras": ("digital", "film", "lenses", "drones"),
    "coins": ("us", "world", "bullion"),
    "collectibles": ("trading-cards", "stamps", "toys", "memorabilia"),
    "computers": ("laptops", "desktops", "components", "vintage"),
    "electronics": ("phones", "audio", "tv-video", "gaming"),
    "fashion": ("watches", "jewelry", "bags", "shoes", "clothing"),
    "home": ("kitchen", "garden", "tools", "decor"),
    "music": ("instruments", "vinyl", "equipment"),
    "sports": ("cycling", "golf", "fitness", "outdoor"),
    "vehicles": ("cars", "motorcycles", "parts"),
}

CATEGORIES: tuple[str, ...] = tuple(
    path
    for top, children in _TREE.items()
    for path in (top, *(f"{top}/{child}" for child in children))
)
_KNOWN = frozenset(CATEGORIES)


def parent_of(category: str) -> str | None:
    head, sep, _ = category.rpartition("/")
    return head if sep else None


def check_category(category: str, *, field: str = "category") -> str:
    slug = category.strip().lower() if isinstance(category, str) else ""
    if slug not in _KNOWN:
        raise ValidationFailed(
            f"unknown category {category!r}; see the `categories` query",
            code="UNKNOWN_CATEGORY",
            field=field,
        )
    return slug


def subtree(category: str) -> tuple[str, ...]:
    """The category and every category below it."""
    root = check_category(category)
    return tuple(c for c in CATEGORIES if c == root or c.startswith(root + "/"))
