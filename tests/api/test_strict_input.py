"""Hostile numbers and text are client errors that change nothing (issue 12 items 4 and 5).

Amounts: only plain ASCII decimal strings are Decimals; anything else fails coercion with
INVALID_INPUT, on the generic and the compiled placeBid path alike. Text: NUL, unpaired
surrogates and control characters never reach PostgreSQL or Redis. Cursors, page sizes,
times and ids a client forges answer INVALID_* codes, never INTERNAL.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.helpers import (
    BID,
    CREATE,
    LOGIN,
    PASSWORD,
    PUBLISH,
    REGISTER,
    create_auction,
    iso,
    listing,
    register,
)

# Written as escapes: every entry is a string Python's Decimal() accepts or nearly does.
BAD_DECIMALS = [
    "1_000",
    "\uff11\uff10",  # full-width 10
    "\u0661\u0660\u0660",  # Arabic-Indic 100
    "\u0661\u0660\u0660.\u0665",  # Arabic-Indic 100.5
    "\u06f1\u06f0",  # Extended Arabic-Indic 10
    "\u0967\u0966",  # Devanagari 10
    "\u0e51\u0e50",  # Thai 10
    "1\u00b2",  # superscript two
    "\U0001d7cf\U0001d7ce",  # mathematical bold 10
    "1e1",
    "1E+2",
    "1e-2",
    "1e999999",
    " 10",
    "10 ",
    "10\n",
    "\t10",
    "+10",
    "10.",
    ".5",
    "0x10",
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1,000",
    "10.5.1",
    "--1",
    "",
    "1" * 33,
    "0." + "0" * 40 + "1",
]
# JSON numbers (as raw request text: Python would already have rounded them).
BAD_JSON_NUMBERS = ["100.5", "100", "100.000000000000001", "1e2", "true", "[100]", '{"a":1}']

BID_GENERIC = BID  # a request with "extensions" is never compiled: the generic path answers


async def post_raw(
    client: httpx.AsyncClient, body: str, token: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Posts `body` as the exact bytes of a JSON request (raw escapes like \\ud800 intact)."""
    headers = {"content-type": "application/json", **extra}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await client.post("/graphql", content=body.encode(), headers=headers)
    assert response.headers["content-type"].startswith("application/json"), response.text
    result: dict[str, Any] = response.json()
    return result


def request(query: str, variables_json: str, *, generic: bool = False) -> str:
    extensions = ', "extensions": {"path": "generic"}' if generic else ""
    return f'{{"query": {json.dumps(query)}, "variables": {variables_json}{extensions}}}'


def error_code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0].get("extensions", {}).get("code") if errors else None


@pytest.fixture
async def seller(gql):
    return await register(gql, seller=True)


async def live_auction(gql, seller) -> str:
    created = await create_auction(gql, seller)
    published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published
    return str(created["id"])


async def bid_count(gql, auction_id: str) -> int:
    body = await gql("query($id: ID!) { auction(id: $id) { bidCount } }", {"id": auction_id})
    count: int = body["data"]["auction"]["bidCount"]
    return count


async def count_rows(app, table: str) -> int:
    async with app.state.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


# --- Item 4: amounts -------------------------------------------------------------------


@pytest.mark.parametrize("generic", [False, True], ids=["compiled", "generic"])
async def test_bad_bid_amounts_are_not_decimals_and_change_nothing(client, gql, seller, generic):
    bidder = await register(gql)
    auction = await live_auction(gql, seller)
    for field in ("amount", "max"):
        bads = [json.dumps(v) for v in BAD_DECIMALS] + BAD_JSON_NUMBERS
        for bad in bads:
            amount = bad if field == "amount" else '"100"'
            maximum = bad if field == "max" else "null"
            variables = f'{{"id": "{auction}", "amount": {amount}, "max": {maximum}}}'
            body = await post_raw(
                client, request(BID, variables, generic=generic), token=bidder.token
            )
            assert error_code(body) == "INVALID_INPUT", (field, bad, body)
            assert body.get("data") is None, (field, bad, body)
    assert await bid_count(gql, auction) == 0


@pytest.mark.parametrize("literal", ["100.5", "100", '"1e1"', '"1_000"', '" 10"', '"+10"'])
async def test_bad_inline_amounts_are_refused_with_a_code(gql, seller, literal):
    bidder = await register(gql)
    auction = await live_auction(gql, seller)
    query = f'mutation {{ placeBid(auctionId: "{auction}", amount: {literal}) {{ __typename }} }}'
    body = await gql(query, token=bidder.token)
    assert error_code(body) == "INVALID_INPUT", body
    assert await bid_count(gql, auction) == 0


async def test_plain_amounts_still_bid(gql, seller):
    bidder = await register(gql)
    auction = await live_auction(gql, seller)
    for amount in ("100", "101.5", "102.50"):
        body = await gql(BID, {"id": auction, "amount": amount}, token=bidder.token)
        assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body
    rejected = await gql(BID, {"id": auction, "amount": "-110"}, token=bidder.token)
    assert rejected["data"]["placeBid"]["reason"] == "INVALID_AMOUNT"  # parsed, then refused


PRICE_FIELDS = ["startingPrice", "reservePrice", "buyNowPrice", "dutchStep", "dutchFloor"]


@pytest.mark.parametrize("field", PRICE_FIELDS)
async def test_bad_listing_prices_create_nothing(client, app, gql, seller, field):
    before = await count_rows(app, "auctions")
    kind = "DUTCH" if field.startswith("dutch") else "ENGLISH"
    base = listing(type=kind, startingPrice="1000")
    if kind == "DUTCH":
        base.update(dutchStep="10", dutchStepSeconds=60, dutchFloor="400")
    for bad in [json.dumps(v) for v in BAD_DECIMALS] + BAD_JSON_NUMBERS:
        fields = {k: json.dumps(v) for k, v in base.items()} | {field: bad}
        input_json = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
        body = await post_raw(client, request(CREATE, f'{{"input": {input_json}}}'), seller.token)
        assert error_code(body) == "INVALID_INPUT", (bad, body)
    assert await count_rows(app, "auctions") == before


async def test_bad_update_prices_change_nothing(client, gql, seller):
    created = await create_auction(gql, seller, startingPrice="100")
    update = """mutation($id: ID!, $input: UpdateAuctionInput!) {
      updateAuction(auctionId: $id, input: $input) { auction { id } errors { code } } }"""
    for field in ("startingPrice", "reservePrice", "buyNowPrice"):
        for bad in ["1_000", "\u0661\u0660\u0660", "1e3", "NaN", " 200"]:
            body = await gql(
                update, {"id": created["id"], "input": {field: bad}}, token=seller.token
            )
            assert error_code(body) == "INVALID_INPUT", (field, bad, body)
    check = """query($id: ID!) { auction(id: $id) { startingPrice { amount } } }"""
    state = await gql(check, {"id": created["id"]}, token=seller.token)
    assert state["data"]["auction"]["startingPrice"]["amount"] == "100.00"


@pytest.mark.parametrize("field", ["minPrice", "maxPrice"])
async def test_price_filters_never_overflow(gql, field):
    query = "query($f: AuctionFilter) { auctions(filter: $f) { totalCount } }"
    for bad in ["1e999999", "-1e999999", "1e-999999", "NaN", "Infinity", "1_0", "\uff11"]:
        body = await gql(query, {"f": {field: bad}})
        assert error_code(body) == "INVALID_INPUT", (bad, body)
    inline = await gql(f'{{ auctions(filter: {{{field}: "1e999999"}}) {{ totalCount }} }}')
    assert error_code(inline) == "INVALID_INPUT", inline
    for fine in ["9" * 32, "0." + "0" * 29 + "1", "0"]:
        body = await gql(query, {"f": {field: fine}})
        assert "errors" not in body, (fine, body)


# --- Item 4: cursors, page sizes, times, ids --------------------------------------------


def raw_cursor(text_: str) -> str:
    return base64.urlsafe_b64encode(text_.encode()).decode().rstrip("=")


FORGED_INT_CURSORS = [
    raw_cursor(f'[{2**63}, "{uuid.uuid4()}"]'),
    raw_cursor(f'[{2**64 - 1}, "{uuid.uuid4()}"]'),
    raw_cursor(f'[{-(2**63) - 1}, "{uuid.uuid4()}"]'),
    raw_cursor(f'[{10**40}, "{uuid.uuid4()}"]'),
    raw_cursor('[1.5, "' + str(uuid.uuid4()) + '"]'),
    raw_cursor('[1, "not-a-uuid"]'),
    raw_cursor('[1, "\\u0000"]'),
    raw_cursor('[1, "\\ud800"]'),
    "A" * 10_000,
    "\u0661\u0660",
    "!!!",
]
FORGED_TIME_CURSORS = [
    raw_cursor(f'[{{"t": "0001-01-01T00:00:00+14:00"}}, "{uuid.uuid4()}"]'),
    raw_cursor(f'[{{"t": "9999-12-31T23:59:59-14:00"}}, "{uuid.uuid4()}"]'),
    raw_cursor(f'[{{"t": "2024-01-01T00:00:00"}}, "{uuid.uuid4()}"]'),  # no offset
    raw_cursor(f'[{{"t": "not a time"}}, "{uuid.uuid4()}"]'),
    raw_cursor(f'[{{"x": 1}}, "{uuid.uuid4()}"]'),
]


@pytest.mark.parametrize(
    "sort", ["ENDING_SOON", "NEWLY_LISTED", "RELEVANCE", "PRICE_ASC", "PRICE_DESC", "MOST_BIDS"]
)
async def test_forged_auction_cursors_are_invalid_cursor(gql, sort):
    query = f"query($a: String) {{ auctions(sort: {sort}, after: $a) {{ totalCount }} }}"
    forged = FORGED_INT_CURSORS + FORGED_TIME_CURSORS
    if sort == "MOST_BIDS":  # bid_count is a 32-bit column
        forged = [*forged, raw_cursor(f'[{2**31}, "{uuid.uuid4()}"]')]
        forged.append(raw_cursor(f'[{-(2**31) - 1}, "{uuid.uuid4()}"]'))
    for after in forged:
        body = await gql(query, {"a": after})
        assert error_code(body) in ("INVALID_CURSOR", "INVALID_INPUT"), (after[:80], body)


async def test_forged_cursors_on_every_connection(gql, seller):
    auction = await create_auction(gql, seller)
    connections = [
        ("query($a: String) { me { watchlist(after: $a) { totalCount } } }", None),
        ("query($a: String) { me { bids(after: $a) { totalCount } } }", None),
        ("query($a: String) { me { notifications(after: $a) { totalCount } } }", None),
        ("query($a: String) { me { purchases(after: $a) { totalCount } } }", None),
        (
            "query($a: String, $id: ID!) { auction(id: $id) { bids(after: $a) { totalCount } } }",
            auction["id"],
        ),
    ]
    for query, auction_id in connections:
        for after in FORGED_INT_CURSORS + FORGED_TIME_CURSORS:
            variables = {"a": after} | ({"id": auction_id} if auction_id else {})
            body = await gql(query, variables, token=seller.token)
            assert error_code(body) in ("INVALID_CURSOR", "INVALID_INPUT"), (query, body)


@pytest.mark.parametrize("first", [-1, -(2**31), 2**31 - 1, 2**31, 2**63, 10**30])
async def test_page_sizes_out_of_range_are_client_errors(gql, seller, first):
    for query in (
        "query($n: Int) { auctions(first: $n) { totalCount } }",
        "query($n: Int) { me { bids(first: $n) { totalCount } } }",
    ):
        body = await gql(query, {"n": first}, token=seller.token)
        assert error_code(body) in ("INVALID_PAGE_SIZE", "INVALID_INPUT"), body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("endsAt", "9999-12-31T23:59:59-14:00"),
        ("startsAt", "0001-01-01T00:00:00+14:00"),
        ("hardCloseAt", "9999-12-31T23:59:59-14:00"),
        ("endsAt", "+275760-09-13T00:00:00Z"),
        ("endsAt", "2030-13-01T00:00:00Z"),
        ("endsAt", 1e20),
    ],
)
async def test_times_out_of_range_create_nothing(app, gql, seller, field, value):
    before = await count_rows(app, "auctions")
    overrides: dict[str, Any] = {field: value}
    if field == "hardCloseAt":
        overrides["endsAt"] = iso(timedelta(days=3))
    body = await gql(CREATE, {"input": listing(**overrides)}, token=seller.token)
    assert body.get("data") is None or body["data"]["createAuction"]["auction"] is None, body
    codes = (
        [error_code(body)]
        if body.get("errors")
        else [e["code"] for e in body["data"]["createAuction"]["errors"]]
    )
    assert codes and codes[0] in ("INVALID_INPUT", "INVALID_SCHEDULE"), body
    assert await count_rows(app, "auctions") == before


@pytest.mark.parametrize("bad", ["nope", "\u0000", "1" * 5000, str(uuid.uuid4()) + "0"])
async def test_bad_ids_in_arguments_and_filters(gql, bad):
    single = await gql("query($id: ID!) { auction(id: $id) { id } }", {"id": bad})
    assert error_code(single) in ("INVALID_ID", "INVALID_INPUT"), single
    listed = await gql(
        "query($s: ID) { auctions(filter: {sellerId: $s}) { totalCount } }", {"s": bad}
    )
    assert error_code(listed) in ("INVALID_ID", "INVALID_INPUT"), listed


# --- Item 5: text -------------------------------------------------------------------------

# Raw JSON escapes, sent byte for byte: "\ud800" decodes to a lone surrogate.
UNSTORABLE = ["\\u0000", "\\ud800", "\\udfff", "\\u001b", "\\u007f", "\\u0085", "\\u0008"]


def jstr(value: str, bad: str) -> str:
    """A JSON string literal of `value` with the raw escape `bad` spliced into its middle."""
    half = len(value) // 2
    return json.dumps(value[:half])[:-1] + bad + json.dumps(value[half:])[1:]


async def test_unstorable_text_in_register_creates_no_user(client, app):
    before = await count_rows(app, "users")
    for field in ("username", "email", "password"):
        for bad in UNSTORABLE:
            name = f"u{uuid.uuid4().hex[:10]}"
            values = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
            fields = {k: json.dumps(v) for k, v in values.items()} | {
                field: jstr(values[field], bad)
            }
            input_json = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
            body = await post_raw(client, request(REGISTER, f'{{"input": {input_json}}}'))
            assert error_code(body) == "INVALID_INPUT", (field, bad, body)
    assert await count_rows(app, "users") == before


async def test_unstorable_text_in_login_is_a_client_error(client, gql):
    account = await register(gql)
    for field in ("email", "password", "otp"):
        for bad in UNSTORABLE:
            values = {"email": account.email, "password": PASSWORD, "otp": "123456"}
            fields = {k: json.dumps(v) for k, v in values.items()} | {
                field: jstr(values[field], bad)
            }
            variables = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
            body = await post_raw(client, request(LOGIN, variables))
            assert error_code(body) == "INVALID_INPUT", (field, bad, body)


@pytest.mark.parametrize("field", ["title", "description", "category", "currency"])
async def test_unstorable_text_in_create_auction_creates_nothing(client, app, seller, field):
    before = await count_rows(app, "auctions")
    for bad in UNSTORABLE:
        fields = {k: json.dumps(v) for k, v in listing().items()}
        fields[field] = jstr(listing()[field], bad)
        input_json = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
        body = await post_raw(client, request(CREATE, f'{{"input": {input_json}}}'), seller.token)
        assert error_code(body) == "INVALID_INPUT", (bad, body)
    assert await count_rows(app, "auctions") == before


PROFILE = """mutation($name: String, $address: AddressInput) {
  updateProfile(displayName: $name, address: $address) { ok errors { code field } } }"""
ME = "{ me { displayName address { line1 line2 city postalCode country } } }"


async def test_unstorable_text_in_update_profile_changes_nothing(client, gql):
    account = await register(gql)
    before = await gql(ME, token=account.token)
    address = {"line1": "1 Main St", "line2": "Flat 2", "city": "Bern", "postalCode": "3000"}
    for bad in UNSTORABLE:
        body = await post_raw(
            client, request(PROFILE, f'{{"name": {jstr("Ada Lovelace", bad)}}}'), account.token
        )
        assert error_code(body) == "INVALID_INPUT", (bad, body)
        for field, value in address.items():
            fields = {k: json.dumps(v) for k, v in address.items()} | {field: jstr(value, bad)}
            fields["country"] = '"CH"'
            address_json = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
            body = await post_raw(
                client, request(PROFILE, f'{{"address": {address_json}}}'), account.token
            )
            assert error_code(body) == "INVALID_INPUT", (field, bad, body)
    assert await gql(ME, token=account.token) == before


async def test_unstorable_text_everywhere_else(client, gql, seller):
    created = await create_auction(gql, seller)
    cases = [
        ("mutation($t: String!) { verifyEmail(token: $t) { ok } }", "t", "abc.def.ghi"),
        ("mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }", "t", "abc"),
        ("mutation($t: String!) { logout(refreshToken: $t) { ok } }", "t", "abcdef"),
        (
            "mutation($r: String) { cancelAuction(auctionId: "
            f'"{created["id"]}", reason: $r) {{ auction {{ status }} }} }}',
            "r",
            "changed my mind",
        ),
        (
            "mutation($t: String) { updateAuction(auctionId: "
            f'"{created["id"]}", input: {{title: $t}}) {{ auction {{ id }} }} }}',
            "t",
            "A new title",
        ),
        ("query($c: String) { auctions(filter: {category: $c}) { totalCount } }", "c", "cameras"),
        ("mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { ok } }", "ids", None),
    ]
    for query, name, value in cases:
        for bad in UNSTORABLE:
            literal = f"[{jstr('abc', bad)}]" if value is None else jstr(value, bad)
            body = await post_raw(client, request(query, f'{{"{name}": {literal}}}'), seller.token)
            assert error_code(body) == "INVALID_INPUT", (query, bad, body)
    state = await gql(
        "query($id: ID!) { auction(id: $id) { status item { title } } }",
        {"id": created["id"]},
        token=seller.token,
    )
    assert state["data"]["auction"] == {"status": "DRAFT", "item": {"title": listing()["title"]}}


@pytest.mark.parametrize("generic", [False, True], ids=["compiled", "generic"])
async def test_unstorable_idempotency_key_places_no_bid(client, gql, seller, generic):
    bidder = await register(gql)
    auction = await live_auction(gql, seller)
    for bad in [*UNSTORABLE, "\\n", "\\t"]:
        variables = f'{{"id": "{auction}", "amount": "100", "key": {jstr("retry-1", bad)}}}'
        body = await post_raw(client, request(BID, variables, generic=generic), bidder.token)
        refused = error_code(body) == "INVALID_INPUT" or (
            (body.get("data") or {}).get("placeBid") is None and body.get("errors")
        )
        assert refused, (bad, body)
        assert error_code(body) == "INVALID_INPUT", (bad, body)
    assert await bid_count(gql, auction) == 0


async def test_escapes_in_document_literals_are_refused(gql, seller):
    for bad in ("\\u0000", "\\b", "\\u001f", "\\u0085", "\\uD800"):
        query = f'{{ auctions(filter: {{category: "cam{bad}eras"}}) {{ totalCount }} }}'
        body = await gql(query)
        assert body.get("errors") and error_code(body) != "INTERNAL", (bad, body)
    created = await create_auction(gql, seller)
    query = (
        f'mutation {{ updateAuction(auctionId: "{created["id"]}", '
        'input: {title: "bad\\u0000title"}) { auction { id } } }'
    )
    body = await gql(query, token=seller.token)
    assert error_code(body) == "INVALID_INPUT", body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "two\nlines"),
        ("title", "tab\there"),
        ("title", "bell\x07"),
        ("title", "nul\x00"),
    ],
)
async def test_control_characters_in_single_line_fields(app, gql, seller, field, value):
    before = await count_rows(app, "auctions")
    body = await gql(CREATE, {"input": listing(**{field: value})}, token=seller.token)
    refused = body.get("errors") or body["data"]["createAuction"]["errors"]
    assert refused, body
    assert await count_rows(app, "auctions") == before


async def test_descriptions_keep_line_breaks_and_tabs(gql, seller):
    description = "Line one.\nLine two,\ttabbed.\r\nLine three."
    created = await create_auction(gql, seller, description=description)
    body = await gql(
        "query($id: ID!) { auction(id: $id) { item { description } } }",
        {"id": created["id"]},
        token=seller.token,
    )
    assert body["data"]["auction"]["item"]["description"] == description


@pytest.mark.parametrize("value", ["Ada\nLovelace", "Ada\tLovelace", "Ada\x1bLovelace"])
async def test_single_line_display_name(gql, value):
    account = await register(gql)
    body = await gql(PROFILE, {"name": value}, token=account.token)
    refused = body.get("errors") or body["data"]["updateProfile"]["errors"]
    assert refused, body
    codes = (
        [error_code(body)]
        if body.get("errors")
        else [e["code"] for e in body["data"]["updateProfile"]["errors"]]
    )
    assert codes == ["INVALID_INPUT"], body


@pytest.mark.parametrize("bad", UNSTORABLE)
async def test_unstorable_operation_names_and_variable_names(client, bad):
    for body in (
        f'{{"query": "query A {{ categories }}", "operationName": "A{bad}"}}',
        f'{{"query": "{{ categories }}", "variables": {{"x{bad}": "1"}}}}',
        f'{{"query": "{{ categories }}", "variables": {{"x": {{"y{bad}": 1}}}}}}',
    ):
        answer = await post_raw(client, body)
        assert error_code(answer) == "INVALID_INPUT", (body, answer)


@pytest.mark.parametrize("value", [2**31 - 1, -(2**31), 2**31, -(2**63), 10**20])
async def test_int_arguments_at_and_beyond_32_bits_are_client_errors(app, gql, seller, value):
    filtered = await gql(
        "query($n: Int) { auctions(filter: {endingWithinSeconds: $n}) { totalCount } }",
        {"n": value},
    )
    assert error_code(filtered) != "INTERNAL", filtered
    before = await count_rows(app, "auctions")
    for field, kind in (
        ("dutchStepSeconds", "DUTCH"),
        ("softCloseWindowSeconds", "ENGLISH"),
        ("softCloseExtensionSeconds", "ENGLISH"),
    ):
        extra = {"dutchStep": "10", "dutchFloor": "400"} if kind == "DUTCH" else {}
        fields = listing(type=kind, startingPrice="1000", **extra) | {field: value}
        body = await gql(CREATE, {"input": fields}, token=seller.token)
        payload = (body.get("data") or {}).get("createAuction")
        codes = [e["code"] for e in payload["errors"]] if payload else [error_code(body)]
        assert codes and codes[0] == "INVALID_INPUT", (field, body)
    assert await count_rows(app, "auctions") == before


async def test_lists_longer_than_any_argument_takes_are_client_errors(gql, client):
    # 32,767 filter values once became as many statement parameters: asyncpg refused the
    # statement and the client was told the database was down (UNAVAILABLE).
    query = "query($t: [AuctionType!]) { auctions(filter: {types: $t}) { totalCount } }"
    body = await gql(query, {"t": ["ENGLISH"] * 40_000})
    assert error_code(body) == "INVALID_INPUT", str(body)[:300]
    fine = await gql(query, {"t": ["ENGLISH", "DUTCH"]})
    assert "errors" not in fine, fine
    seller = await register(gql)
    many = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { ok } }"
    ids = [str(uuid.uuid4()) for _ in range(40_000)]  # under the 2 MiB body limit
    refused = await gql(many, {"ids": ids}, token=seller.token)
    assert error_code(refused) == "INVALID_INPUT", str(refused)[:300]
    nested = await gql(query, {"t": [["ENGLISH"] * 2_000]})
    assert error_code(nested) is not None and error_code(nested) != "INTERNAL"
