"""Fraud signals a client can forge (issue 15 attack findings 4 and 11, trial T6): a
client-chosen fingerprint or an address never holds an account by itself, a sprayer of
fingerprints is flagged and links nobody, a value many accounts share links nobody,
and a shill ring that shares nothing is still held by its repeated pattern."""

from __future__ import annotations

from collections import Counter

from fastapi import FastAPI

from domain.fraud.rules import FraudPolicy
from schema.admin_types import signals_of
from services.fraud.scorer import score_pass
from settings import Settings
from tests.helpers import LOGIN, PASSWORD
from tests.integration.test_fraud_scorer import (  # noqa: F401  (fixtures)
    POLICY,
    People,
    Person,
    bid_minimum,
    drained,
    flags_of,
    held,
    people,
    persisted,
    rows,
)


async def login_as(person: Person, device: str) -> None:
    answer = await person.client.post(
        "/graphql",
        json={
            "query": LOGIN,
            "variables": {"email": person.account.email, "password": PASSWORD},
        },
        headers={"X-Device-Fingerprint": device},
    )
    assert answer.json()["data"]["login"]["errors"] == [], answer.text


async def score_all(app: FastAPI) -> None:
    while (await score_pass(app.state.deps, POLICY)).auctions:
        pass


async def devices_of(app: FastAPI, person: Person) -> int:
    found = await rows(
        app,
        "SELECT count(*) AS n FROM fraud_sightings WHERE user_id = :u AND kind = 'device'",
        u=person.id,
    )
    return int(found[0].n)


async def test_a_seller_spraying_fingerprints_cannot_hold_an_honest_bidder(app, people):  # noqa: F811
    await drained(app.state.deps)
    victim_device = "web-5f2c9a"  # README's own example value
    victim = await people.person("10.77.0.9", victim_device)
    seller = await people.person("10.77.0.1", "seller-own-device", seller=True)
    for guess in [f"web-{i:06x}" for i in range(20)] + [victim_device]:
        await login_as(seller, guess)
    auction = await people.auction(seller)
    await bid_minimum(victim, auction, {})
    await persisted(app, auction)
    await score_all(app)

    assert not await held(app, victim.id), "the seller's sprayed fingerprint held the victim"
    assert not await flags_of(app, victim.id)  # the victim's value was never stored
    assert await devices_of(app, seller) == POLICY.device_limit
    spraying = [f for f in await flags_of(app, seller.id) if f.rule == "fingerprint_spraying"]
    assert len(spraying) == 1 and spraying[0].status == "OPEN", spraying
    assert spraying[0].score == POLICY.flag_threshold
    assert not await held(app, seller.id)


async def test_a_seller_claiming_the_victims_fingerprint_first_only_opens_a_flag(app, people):  # noqa: F811
    """Within the bound (the victim's value claimed on the first login), the link is
    stored, but a shared fingerprint alone flags: the victim's one bid is not held."""
    await drained(app.state.deps)
    victim = await people.person("10.77.1.9", "web-5f2c9a-first")
    seller = await people.person("10.77.1.1", seller=True)
    await login_as(seller, "web-5f2c9a-first")
    auction = await people.auction(seller)
    state: dict[str, str] = {}
    for _ in range(2):  # even twice: the seller's own auction, the shared device
        await bid_minimum(victim, auction, state)
    await persisted(app, auction)
    await score_all(app)

    assert not await held(app, victim.id)
    flags = await flags_of(app, victim.id)
    assert {f.rule for f in flags} == {"shared_identity"}, flags
    assert all(f.score < POLICY.hold_threshold for f in flags)


async def test_a_sprayers_fingerprints_link_nobody_even_the_ones_it_kept(app, people):  # noqa: F811
    """The victim's value claimed first (kept: within the bound), then more sprayed: the
    account is flagged fingerprint_spraying and none of its fingerprints is a link."""
    await drained(app.state.deps)
    victim = await people.person("10.77.2.9", "web-5f2c9a-kept")
    seller = await people.person("10.77.2.1", seller=True)
    for guess in ["web-5f2c9a-kept"] + [f"spray-{i}" for i in range(POLICY.device_limit + 1)]:
        await login_as(seller, guess)
    auction = await people.auction(seller)
    await bid_minimum(victim, auction, {})
    await persisted(app, auction)
    await score_all(app)
    assert {f.rule for f in await flags_of(app, seller.id)} == {"fingerprint_spraying"}
    assert not await flags_of(app, victim.id)
    assert not await held(app, victim.id)


async def test_an_address_many_accounts_share_links_nobody(app, people):  # noqa: F811
    """A proxy's address (no GAVEL_TRUSTED_PROXIES) or a carrier's NAT: more than
    `shared_value_accounts` accounts on one address; nobody is flagged for it."""
    await drained(app.state.deps)
    proxy = "10.79.0.1"
    seller = await people.person(proxy, seller=True)
    crowd = [await people.person(proxy) for _ in range(POLICY.shared_value_accounts)]
    auction = await people.auction(seller)
    state: dict[str, str] = {}
    for bidder in crowd[:3]:
        await bid_minimum(bidder, auction, state)
    await persisted(app, auction)
    await score_all(app)
    for bidder in crowd[:3]:
        assert not await flags_of(app, bidder.id), bidder.account.username


async def test_local_runs_on_the_loopback_address_record_no_address(app, people):  # noqa: F811
    """Trial T6: locally every account comes from 127.0.0.1, the server's own host;
    no address is recorded, so no bid opens a shared_identity flag."""
    await drained(app.state.deps)
    seller = await people.person("127.0.0.1", seller=True)
    bidder = await people.person("::1")
    auction = await people.auction(seller)
    await bid_minimum(bidder, auction, {})
    await persisted(app, auction)
    await score_all(app)
    seen = await rows(
        app,
        "SELECT count(*) AS n FROM fraud_sightings WHERE user_id IN (:a, :b)",
        a=seller.id,
        b=bidder.id,
    )
    assert seen[0].n == 0
    assert not await flags_of(app, bidder.id)


async def ring_sharing_nothing(app: FastAPI, people: People, auctions: int) -> list[Person]:  # noqa: F811
    """The ring of test_fraud_scorer.py (two friends bidding early, often and in minimum
    steps on the seller's auctions, rarely winning), except that the friends send their
    own fingerprints and come from their own addresses; `auctions` of one seller, all
    bid on before anyone is scored. Returns friend, housemate and three honest."""
    await drained(app.state.deps)
    net = f"10.{78 + auctions}"
    seller = await people.person(f"{net}.0.1", "seller-dev", seller=True)
    friend = await people.person(f"{net}.0.2", "friend-dev")
    housemate = await people.person(f"{net}.0.3", "housemate-dev")
    honest = [await people.person(f"{net}.1.{i}", f"h{i}") for i in range(3)]
    ids = [await people.auction(seller) for _ in range(auctions)]
    state: dict[str, str] = {}
    for auction_id in ids:
        ring_and_crowd = (friend, housemate, honest[0], friend, housemate, friend, housemate)
        for bidder in (*ring_and_crowd, honest[1]):
            await bid_minimum(bidder, auction_id, state)
    await persisted(app, *ids)
    await score_all(app)
    return [friend, housemate, *honest]


async def test_a_shill_ring_that_just_changes_device_and_address_is_flagged_on_two_auctions(
    app,
    people,  # noqa: F811
):
    """Attack finding 11, decided: on two auctions the ring's flag-level shill signals do
    not combine (an honest bidder outbid in small steps by a shill on two auctions looks
    the same: docs/fraud.md "What the rules do not catch"); they are OPEN flags for the
    admin queue. (Whether one auction's score alone reaches the hold threshold depends
    on the market, every ACTIVE auction of the database: not asserted here; the unit
    tests pin two auctions at 60-69 to flags only.)"""
    friend, housemate, *honest = await ring_sharing_nothing(app, people, 2)
    for member in (friend, housemate):
        flags = await flags_of(app, member.id)
        assert "repeated_shill_bidding" not in {f.rule for f in flags}, flags
        shill = [f for f in flags if f.rule == "shill_bidding"]
        assert len(shill) == 2, flags
        assert all(f.status == "OPEN" and f.score >= POLICY.flag_threshold for f in shill)
    for person in honest:
        assert not await held(app, person.id), person.account.username


async def test_a_shill_ring_that_just_changes_device_and_address_is_still_held(app, people):  # noqa: F811
    """The same ring on `repeat_auctions` (3) auctions of one seller: its flag-level shill
    signals combine (`repeated_shill_bidding`) and it is held; the crowd is not."""
    friend, housemate, *honest = await ring_sharing_nothing(app, people, POLICY.repeat_auctions)
    for member in (friend, housemate):
        assert await held(app, member.id), member.account.username
        rules = {f.rule for f in await flags_of(app, member.id)}
        assert {"repeated_shill_bidding", "combined_score"} <= rules, rules
        assert "shared_identity" not in rules
    for person in honest:
        assert not await held(app, person.id), person.account.username


async def test_a_scored_flag_lists_each_signal_once(app, people):  # noqa: F811
    """Trial T6: the admin queue's `signals` of a scorer-made flag name each signal once,
    the flag's own first."""
    await drained(app.state.deps)
    seller = await people.person("10.80.0.1", seller=True)
    friend = await people.person("10.80.0.2")
    honest = await people.person("10.80.0.3")
    auctions = [await people.auction(seller), await people.auction(seller)]
    state: dict[str, str] = {}
    for auction_id in auctions:
        for bidder in (friend, honest, friend, honest, friend, friend):
            await bid_minimum(bidder, auction_id, state)
    await persisted(app, *auctions)
    await score_all(app)
    flags = await flags_of(app, friend.id)
    assert flags
    for flag in flags:
        names = [s.name for s in signals_of(flag.details)]
        assert names, flag
        assert (
            max(Counter((s["rule"], s["auction_id"]) for s in flag.details["signals"]).values())
            == 1
        )
        if flag.rule != "combined_score":
            assert names[0] == flag.rule and names.count(flag.rule) == 1, names


def test_the_bounds_are_settings() -> None:
    policy = Settings.model_validate(
        {
            "GAVEL_FRAUD_DEVICE_LIMIT": 3,
            "GAVEL_FRAUD_SHARED_VALUE_ACCOUNTS": 20,
            "GAVEL_FRAUD_SHILL_CORROBORATION": 50,
            "GAVEL_FRAUD_REPEAT_AUCTIONS": 4,
        }
    ).fraud_policy
    assert (policy.device_limit, policy.shared_value_accounts) == (3, 20)
    assert (policy.shill_corroboration, policy.repeat_auctions) == (50, 4)
    assert FraudPolicy().device_limit == 5
