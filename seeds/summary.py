"""The demo logins `python -m seeds` prints: the admin and a few sellers and bidders.

Read from the database, not from the builder, so the list names accounts that exist even
when an earlier run loaded them. Development-only credentials (seeds/builder.py).
"""

from __future__ import annotations

from sqlalchemy import and_, not_, select
from sqlmodel import col

from seeds.builder import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_USERNAME, DEMO_PASSWORD
from storage.db import make_engine
from storage.tables import User

SHOWN_PER_ROLE = 3


async def demo_logins(database_url: str, per_role: int = SHOWN_PER_ROLE) -> list[str]:
    """The admin's login, then `per_role` seeded sellers' and bidders' (verified emails
    first), one line each: `role  email (username …) / password`."""
    roles, seeded = col(User.roles), col(User.email).like("%@gavel.test")
    sellers = and_(seeded, roles.contains(["SELLER"]), not_(roles.contains(["ADMIN"])))
    bidders = and_(seeded, roles == ["BIDDER"])
    lines = [f"admin   {ADMIN_EMAIL} (username {ADMIN_USERNAME}) / {ADMIN_PASSWORD}"]
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            for role, where in (("seller", sellers), ("bidder", bidders)):
                query = (
                    select(col(User.email), col(User.username), col(User.email_verified_at))
                    .where(where)
                    .order_by(col(User.email_verified_at).is_(None), col(User.username))
                    .limit(per_role)
                )
                for email, username, verified_at in (await conn.execute(query)).all():
                    note = "" if verified_at else ", email not verified"
                    lines.append(f"{role:<7} {email} (username {username}{note}) / {DEMO_PASSWORD}")
    finally:
        await engine.dispose()
    return lines
