"""The inbox over GraphQL: unread count, markNotificationsRead (the viewer's rows only),
email preferences (the viewer's own; bad input changes nothing)."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from storage.notification_writer import NewNotification, add_notifications
from tests.conftest import GQL
from tests.helpers import Account, register

INBOX = """{ me { unreadNotificationCount
  notifications(first: 50) { edges { node { id sequence kind read } } } } }"""
MARK = """mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) {
  ok errors { code field } } }"""
PREFS = "{ me { notificationPreferences { kind email } } }"
UPDATE = """mutation($p: [NotificationPreferenceInput!]!) {
  updateNotificationPreferences(preferences: $p) {
    preferences { kind email } errors { code field message } } }"""


async def _notify(app: FastAPI, account: Account, count: int) -> None:
    async with app.state.deps.uow() as uow:
        await add_notifications(
            uow.session,
            [
                NewNotification(user_id=uuid.UUID(account.id), kind="OUTBID", message=f"n{i}")
                for i in range(count)
            ],
        )
        await uow.commit()


async def _inbox(gql: GQL, account: Account) -> dict[str, object]:
    body = await gql(INBOX, token=account.token)
    me: dict[str, object] = body["data"]["me"]
    return me


async def test_mark_read_touches_only_the_viewers_rows(gql: GQL, app: FastAPI):
    alice, mallory = await register(gql), await register(gql)
    await _notify(app, alice, 3)
    await _notify(app, mallory, 1)
    inbox = await _inbox(gql, alice)
    assert inbox["unreadNotificationCount"] == 3
    alice_ids = [e["node"]["id"] for e in inbox["notifications"]["edges"]]  # type: ignore[index]
    seqs = sorted(e["node"]["sequence"] for e in inbox["notifications"]["edges"])  # type: ignore[index]
    assert seqs == [1, 2, 3]

    # Mallory names alice's notifications: nothing of alice's changes.
    body = await gql(MARK, {"ids": alice_ids}, token=mallory.token)
    assert body["data"]["markNotificationsRead"]["ok"] is True
    assert (await _inbox(gql, alice))["unreadNotificationCount"] == 3
    assert (await _inbox(gql, mallory))["unreadNotificationCount"] == 1

    body = await gql(MARK, {"ids": alice_ids[:2]}, token=alice.token)
    assert body["data"]["markNotificationsRead"]["ok"] is True
    assert (await _inbox(gql, alice))["unreadNotificationCount"] == 1
    assert (await _inbox(gql, mallory))["unreadNotificationCount"] == 1

    anonymous = await gql(MARK, {"ids": alice_ids})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    assert (await _inbox(gql, alice))["unreadNotificationCount"] == 1


async def test_email_preferences_are_the_viewers_own(gql: GQL):
    alice, bob = await register(gql), await register(gql)
    defaults = (await gql(PREFS, token=alice.token))["data"]["me"]["notificationPreferences"]
    choices = {p["kind"]: p["email"] for p in defaults}
    assert choices["OUTBID"] is True and choices["ENDING_SOON"] is False
    assert "SAVED_SEARCH_MATCH" in choices

    body = await gql(UPDATE, {"p": [{"kind": "OUTBID", "email": False}]}, token=alice.token)
    payload = body["data"]["updateNotificationPreferences"]
    assert payload["errors"] == []
    assert {p["kind"]: p["email"] for p in payload["preferences"]}["OUTBID"] is False
    read = (await gql(PREFS, token=alice.token))["data"]["me"]["notificationPreferences"]
    assert {p["kind"]: p["email"] for p in read}["OUTBID"] is False
    others = (await gql(PREFS, token=bob.token))["data"]["me"]["notificationPreferences"]
    assert {p["kind"]: p["email"] for p in others}["OUTBID"] is True


async def test_bad_preferences_change_nothing(gql: GQL):
    alice = await register(gql)
    before = (await gql(PREFS, token=alice.token))["data"]["me"]["notificationPreferences"]
    for bad in (
        [{"kind": "OUTBID", "email": False}, {"kind": "NO_SUCH_KIND", "email": True}],
        [{"kind": "OUTBID", "email": False}, {"kind": "OUTBID", "email": True}],
    ):
        body = await gql(UPDATE, {"p": bad}, token=alice.token)
        errors = body["data"]["updateNotificationPreferences"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", "preferences")]
    after = (await gql(PREFS, token=alice.token))["data"]["me"]["notificationPreferences"]
    assert after == before
    anonymous = await gql(UPDATE, {"p": [{"kind": "OUTBID", "email": False}]})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
