"""Strategies for Gavel's custom scalars, loaded by the schemathesis CLI
(`SCHEMATHESIS_HOOKS=tests.e2e.schemathesis_hooks`): without them schemathesis skips every
operation taking a Decimal or DateTime (placeBid, createAuction, ...)."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

# Amounts as clients send them (strings), valid or not: negative, zero, over-precise, huge.
_amounts = st.one_of(
    st.decimals(min_value=Decimal(-1000), max_value=Decimal(10**9), places=2),
    st.decimals(allow_nan=False, allow_infinity=False, places=6),
    st.sampled_from(["0", "1e30", "-0.01", "100.005"]).map(Decimal),
)
schemathesis.graphql.scalar("Decimal", _amounts.map(lambda d: nodes.String(str(d))))
schemathesis.graphql.scalar(
    "DateTime", st.datetimes(timezones=st.just(UTC)).map(lambda d: nodes.String(d.isoformat()))
)
