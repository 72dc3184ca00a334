"""Relay-style paging: one generic `Connection[T]` / `Edge[T]` for every paged list.

strawberry names each specialisation after its node type, so `Connection[Auction]` is
served as `AuctionConnection` and `Edge[Auction]` as `AuctionEdge` (the contract's names).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from services.paging import Page

T = TypeVar("T")
R = TypeVar("R")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page[Any]) -> PageInfo:
        return cls(
            has_next_page=page.has_next, end_cursor=page.cursors[-1] if page.cursors else None
        )


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int


def edges(page: Page[R], node: Callable[[R], T]) -> list[Edge[T]]:
    """One edge per row of `page`: the row as a node, with its cursor."""
    return [Edge(node=node(r), cursor=c) for r, c in zip(page.rows, page.cursors, strict=True)]


def connection(page: Page[R], node: Callable[[R], T]) -> Connection[T]:
    """`page` as a connection whose nodes are `node(row)`."""
    return Connection(edges=edges(page, node), page_info=PageInfo.of(page), total_count=page.total)
