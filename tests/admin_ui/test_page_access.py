"""Every page of the admin app, tried by every kind of visitor (SPEC §9).

The pages come from the registry, so a page added later is tried too: nobody signed in
is sent to sign in; a bidder gets "Not for this account" on admin and seller pages; a
seller gets it on admin pages; and none of them sees anything of the page itself.
Path parameters are filled with ids that exist nowhere (pages of objects that exist are
tried with another owner's objects in each page's own tests).
"""

from __future__ import annotations

import re
import uuid

from nicegui.testing.user import User

from admin_ui.shell import PageSpec, declared_pages
from tests.admin_ui.steps import sign_in
from tests.conftest import GQL
from tests.helpers import register

_PARAM = re.compile(r"\{(\w+)\}")


def concrete(path: str) -> str:
    return _PARAM.sub(lambda _: str(uuid.uuid4()), path)


def pages(*audiences: str) -> list[PageSpec]:
    return [s for s in declared_pages() if s.audience in audiences]


def content_markers(user: User) -> set[str]:
    """Markers of what was drawn in the page's content column: only the refusal's."""
    client = user.client
    assert client is not None
    return {m for element in client.elements.values() for m in element._markers}


async def _refused_everywhere(user: User, specs: list[PageSpec]) -> list[str]:
    failures = []
    for spec in specs:
        await user.open(concrete(spec.path))
        try:
            await user.should_see("Not for this account", retries=20)
        except AssertionError:
            failures.append(f"{spec.path}: no refusal")
            continue
        extra = content_markers(user) - {"error-state", "sign-out"}
        if extra:
            failures.append(f"{spec.path}: drew {sorted(extra)}")
    return failures


async def test_anonymous_visitors_are_sent_to_sign_in(ui_user: User) -> None:
    failures = []
    for spec in pages("admin", "seller", "signed_in"):
        await ui_user.open(concrete(spec.path))
        try:
            await ui_user.should_see(marker="sign-in")
        except AssertionError:
            failures.append(spec.path)
    assert not failures, f"pages shown to nobody signed in: {failures}"


async def test_bidders_get_nothing_of_admin_and_seller_pages(ui_user: User, gql: GQL) -> None:
    await sign_in(ui_user, await register(gql))
    failures = await _refused_everywhere(ui_user, pages("admin", "seller"))
    assert not failures, failures


async def test_sellers_get_nothing_of_admin_pages(ui_user: User, gql: GQL) -> None:
    await sign_in(ui_user, await register(gql, seller=True))
    failures = await _refused_everywhere(ui_user, pages("admin"))
    assert not failures, failures
