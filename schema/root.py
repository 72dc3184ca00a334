"""The root types, assembled from one class per feature; resolvers live in `resolvers/`."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.permission import BasePermission
from strawberry.tools import merge_types
from strawberry.types import Info

from resolvers import admin as admin_r
from resolvers import auctions as listing_r
from resolvers import auth as auth_r
from resolvers import bidding as bidding_r
from resolvers import discovery as discovery_r
from resolvers import feed as feed_r
from resolvers import notifications as notifications_r
from resolvers import retraction as retraction_r
from resolvers import saved_searches as saved_searches_r
from resolvers import search as search_r
from resolvers import settlement as settlement_r
from resolvers import subscriptions as subscriptions_r
from schema.admin_extra_types import AdminExtraMutations
from schema.admin_types import (
    AdminUserConnection,
    AdminUserPayload,
    AuditEntryConnection,
    FraudFlagConnection,
    FraudFlagPayload,
    VoidBidsPayload,
)
from schema.auction_types import Auction, AuctionConnection
from schema.bid_result_types import PlaceBidResult
from schema.context import GavelContext
from schema.discovery_types import SearchResult
from schema.mfa_types import MfaEnabledPayload, MfaEnrollmentPayload, RecoveryCodesPayload
from schema.notification_types import Notification, NotificationPreferencesPayload
from schema.payloads import AuthPayload, CreateAuctionPayload, SimplePayload
from schema.permissions import IsAdmin, IsAuthenticated
from schema.recommendation_types import Recommendation
from schema.retraction_types import RetractBidPayload
from schema.saved_search_types import SavedSearch, SaveSearchPayload
from schema.settlement_payloads import DisputePayload, SetupIntentPayload, TransactionPayload
from schema.settlement_types import DisputeConnection, Transaction
from schema.user_types import User
from schema.viewer_types import Viewer

signed_in: list[type[BasePermission]] = [IsAuthenticated]
admins: list[type[BasePermission]] = [IsAuthenticated, IsAdmin]


@strawberry.type
class AccountQueries:
    me: Viewer | None = strawberry.field(resolver=auth_r.me)
    user: User | None = strawberry.field(resolver=auth_r.user)


@strawberry.type
class AuctionQueries:
    auction: Auction | None = strawberry.field(resolver=listing_r.auction)
    auctions: AuctionConnection = strawberry.field(resolver=listing_r.auctions)
    categories: list[str] = strawberry.field(
        resolver=listing_r.categories, description="Category paths, parents first."
    )


@strawberry.type
class DiscoveryQueries:
    search_auctions: SearchResult = strawberry.field(resolver=search_r.search_auctions)
    trending_auctions: list[Auction] = strawberry.field(resolver=discovery_r.trending_auctions)
    recommended_auctions: list[Auction] = strawberry.field(
        resolver=discovery_r.recommended_auctions
    )
    recommendations: list[Recommendation] = strawberry.field(
        resolver=discovery_r.recommendations_for_viewer,
        description="Auctions for the viewer, each with its reason: co-bidding, similar "
        "items, trending. Anonymous viewers get trending and popular ones.",
    )


# -- saved searches (issue 16 E; docs/search.md): the viewer's own, nobody else's -------


@strawberry.type
class SavedSearchQueries:
    saved_searches: list[SavedSearch] = strawberry.field(
        resolver=saved_searches_r.my_saved_searches,
        permission_classes=signed_in,
        description="The viewer's saved searches, newest first.",
    )


@strawberry.type
class SavedSearchMutations:
    save_search: SaveSearchPayload = strawberry.mutation(
        resolver=saved_searches_r.save_search,
        permission_classes=signed_in,
        description="Save a query plus filter (validated as searchAuctions's); each listing "
        "published afterwards that matches it notifies once (SAVED_SEARCH_MATCH). Codes: "
        "INVALID_INPUT, UNKNOWN_CATEGORY, INVALID_AMOUNT, LIMIT_REACHED.",
    )
    delete_saved_search: SimplePayload = strawberry.mutation(
        resolver=saved_searches_r.delete_saved_search,
        permission_classes=signed_in,
        description="Delete one of the viewer's saved searches (NOT_FOUND if not theirs).",
    )


@strawberry.type
class AccountMutations:
    register: AuthPayload = strawberry.mutation(resolver=auth_r.register)
    verify_email: SimplePayload = strawberry.mutation(resolver=auth_r.verify_email)
    login: AuthPayload = strawberry.mutation(resolver=auth_r.login)
    refresh_token: AuthPayload = strawberry.mutation(resolver=auth_r.refresh_token)
    logout: SimplePayload = strawberry.mutation(resolver=auth_r.logout)
    become_seller: SimplePayload = strawberry.mutation(
        resolver=auth_r.become_seller, permission_classes=signed_in
    )
    update_profile: SimplePayload = strawberry.mutation(
        resolver=auth_r.update_profile, permission_classes=signed_in
    )


@strawberry.type
class AccountSecurityMutations:
    enroll_mfa: MfaEnrollmentPayload = strawberry.mutation(
        resolver=auth_r.enroll_mfa,
        permission_classes=signed_in,
        description="Start multi-factor login: a TOTP secret, its otpauth:// URI and QR image. "
        "Needs the current password (a login attempt: the login limits apply).",
    )
    confirm_mfa: MfaEnabledPayload = strawberry.mutation(
        resolver=auth_r.confirm_mfa,
        permission_classes=signed_in,
        description="Turn MFA on with a first code; returns ten recovery codes and a fresh "
        "session (every other session is revoked).",
    )
    disable_mfa: AuthPayload = strawberry.mutation(
        resolver=auth_r.disable_mfa,
        permission_classes=signed_in,
        description="Turn MFA off with a current code or a recovery code; a fresh session.",
    )
    regenerate_recovery_codes: RecoveryCodesPayload = strawberry.mutation(
        resolver=auth_r.regenerate_recovery_codes,
        permission_classes=signed_in,
        description="Replace the recovery codes; needs a current code or a recovery code.",
    )
    change_password: AuthPayload = strawberry.mutation(
        resolver=auth_r.change_password,
        permission_classes=signed_in,
        description="Change the password; every other session is revoked, a fresh one given.",
    )
    request_password_reset: SimplePayload = strawberry.mutation(
        resolver=auth_r.request_password_reset,
        description="Mail a single-use reset token if an account has the address; the "
        "answer is the same either way.",
    )
    reset_password: SimplePayload = strawberry.mutation(
        resolver=auth_r.reset_password,
        description="Set a new password with a mailed token; every session is revoked.",
    )


@strawberry.type
class AuctionMutations:
    create_auction: CreateAuctionPayload = strawberry.mutation(
        resolver=listing_r.create_auction, permission_classes=signed_in
    )
    update_auction: CreateAuctionPayload = strawberry.mutation(
        resolver=listing_r.update_auction, permission_classes=signed_in
    )
    publish_auction: CreateAuctionPayload = strawberry.mutation(
        resolver=listing_r.publish_auction, permission_classes=signed_in
    )
    cancel_auction: CreateAuctionPayload = strawberry.mutation(
        resolver=listing_r.cancel_auction, permission_classes=signed_in
    )
    watch_auction: SimplePayload = strawberry.mutation(
        resolver=listing_r.watch_auction, permission_classes=signed_in
    )
    unwatch_auction: SimplePayload = strawberry.mutation(
        resolver=listing_r.unwatch_auction, permission_classes=signed_in
    )


@strawberry.type
class BiddingMutations:
    place_bid: PlaceBidResult = strawberry.mutation(
        resolver=bidding_r.place_bid, permission_classes=signed_in
    )
    buy_now: PlaceBidResult = strawberry.mutation(
        resolver=bidding_r.buy_now, permission_classes=signed_in
    )
    retract_bid: RetractBidPayload = strawberry.mutation(
        resolver=retraction_r.retract_bid,
        permission_classes=signed_in,
        description="Retract your own bids on an ACTIVE auction by eBay's rules: more than"
        " 12 h before the end all of them; within the last 12 h only your latest bid, within"
        " 1 h of placing it. The auction is recomputed from the remaining bids.",
    )


@strawberry.type
class AfterSaleMutations:
    mark_notifications_read: SimplePayload = strawberry.mutation(
        resolver=notifications_r.mark_notifications_read, permission_classes=signed_in
    )
    update_notification_preferences: NotificationPreferencesPayload = strawberry.mutation(
        resolver=notifications_r.update_notification_preferences,
        permission_classes=signed_in,
        description="Choose per kind whether notifications are also emailed; others keep theirs.",
    )


@strawberry.type
class SettlementQueries:
    transaction: Transaction | None = strawberry.field(
        resolver=settlement_r.transaction,
        permission_classes=signed_in,
        description="A sale, to its buyer, its seller or an admin; NOT_FOUND for anyone else.",
    )
    disputes: DisputeConnection = strawberry.field(
        resolver=settlement_r.disputes,
        permission_classes=admins,
        description="Admins: disputes newest first, of one status if given.",
    )


@strawberry.type
class SettlementMutations:
    save_payment_method: SimplePayload = strawberry.mutation(
        resolver=settlement_r.save_payment_method,
        permission_classes=signed_in,
        description="Save a card (a Stripe payment method id) for paying sales.",
    )
    create_setup_intent: SetupIntentPayload = strawberry.mutation(
        resolver=settlement_r.create_setup_intent,
        permission_classes=signed_in,
        description="A SetupIntent for Stripe.js to save a card without Gavel seeing it.",
    )
    pay_transaction: TransactionPayload = strawberry.mutation(
        resolver=settlement_r.pay_transaction,
        permission_classes=signed_in,
        description="The buyer authorizes the saved card for the amount (held in escrow).",
    )
    mark_shipped: TransactionPayload = strawberry.mutation(
        resolver=settlement_r.mark_shipped,
        permission_classes=signed_in,
        description="The seller ships a paid item; the hold window starts.",
    )
    confirm_receipt: SimplePayload = strawberry.mutation(
        resolver=settlement_r.confirm_receipt,
        permission_classes=signed_in,
        description="The buyer has the item: the escrow is released to the seller.",
    )
    open_dispute: SimplePayload = strawberry.mutation(
        resolver=settlement_r.open_dispute,
        permission_classes=signed_in,
        description="The buyer disputes a paid sale within the dispute window; escrow holds.",
    )
    respond_to_dispute: DisputePayload = strawberry.mutation(
        resolver=settlement_r.respond_to_dispute,
        permission_classes=signed_in,
        description="The seller answers an open dispute.",
    )
    resolve_dispute: DisputePayload = strawberry.mutation(
        resolver=settlement_r.resolve_dispute,
        permission_classes=admins,
        description="Admins: refund all, refund `refundAmount`, or release to the seller.",
    )
    offer_second_chance: TransactionPayload = strawberry.mutation(
        resolver=settlement_r.offer_second_chance,
        permission_classes=signed_in,
        description="The seller offers a failed English sale to the runner-up at their bid.",
    )
    leave_feedback: SimplePayload = strawberry.mutation(
        resolver=settlement_r.leave_feedback,
        permission_classes=signed_in,
        description="Rate the other party 1-5 (comment up to 2,000 characters), once.",
    )


# -- admin surface (issue 15, C2; docs/admin-api.md): admins only, field by field -------


@strawberry.type
class AdminQueries:
    fraud_flags: FraudFlagConnection = strawberry.field(
        resolver=admin_r.fraud_flags,
        permission_classes=admins,
        description="Admins: fraud flags newest first, of one status and/or user if given.",
    )
    admin_users: AdminUserConnection = strawberry.field(
        resolver=admin_r.admin_users,
        permission_classes=admins,
        description="Admins: accounts whose username or email starts with `query`.",
    )
    audit_log: AuditEntryConnection = strawberry.field(
        resolver=admin_r.audit_log,
        permission_classes=admins,
        description="Admins: the append-only audit log, newest first, filtered exactly.",
    )


@strawberry.type
class AdminMutations:
    dismiss_fraud_flag: FraudFlagPayload = strawberry.mutation(
        resolver=admin_r.dismiss_fraud_flag,
        permission_classes=admins,
        description="Admins: an OPEN flag reviewed and dismissed (FLAG_NOT_OPEN otherwise).",
    )
    set_fraud_hold: AdminUserPayload = strawberry.mutation(
        resolver=admin_r.set_fraud_hold,
        permission_classes=admins,
        description="Admins: hold an account's bids (its OPEN flags ACTIONED) or release "
        "it (its OPEN flags DISMISSED).",
    )
    ban_user: AdminUserPayload = strawberry.mutation(
        resolver=admin_r.ban_user,
        permission_classes=admins,
        description="Admins: refuse every request of the account; revokes its refresh tokens.",
    )
    unban_user: AdminUserPayload = strawberry.mutation(
        resolver=admin_r.unban_user,
        permission_classes=admins,
        description="Admins: lift a ban.",
    )
    void_bids: VoidBidsPayload = strawberry.mutation(
        resolver=admin_r.void_bids,
        permission_classes=admins,
        description="Admins: void a bidder's bids on one auction (or every active one) and "
        "recompute the auctions by the same rules.",
    )


Query = merge_types(
    "Query",
    (
        AccountQueries,
        AuctionQueries,
        DiscoveryQueries,
        SettlementQueries,
        AdminQueries,
        SavedSearchQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccountMutations,
        AccountSecurityMutations,
        AuctionMutations,
        BiddingMutations,
        AfterSaleMutations,
        SettlementMutations,
        AdminMutations,
        SavedSearchMutations,
        AdminExtraMutations,
    ),
)


@strawberry.type
class Subscription:
    # The resolver itself is the field's generator, so closing the subscription closes it
    # (and its bus subscription) at once.
    auction_updated = strawberry.subscription(resolver=subscriptions_r.auction_updated)

    @strawberry.subscription(
        permission_classes=signed_in,
        description=(
            "The viewer's notifications as they are created. With sinceSequence: first "
            "those after it (Notification.sequence), in order, then live; resume with the "
            "last sequence received after a reconnect (no gap, no duplicate)."
        ),
    )
    async def my_notifications(
        self, info: Info[GavelContext, Any], since_sequence: int | None = None
    ) -> AsyncGenerator[Notification]:
        async for note in notifications_r.my_notifications(info, since_sequence):
            yield note

    @strawberry.subscription(
        description="Auctions of a category's subtree (all without one) as they are "
        "published and as they enter the ending-soon window (GAVEL_ENDING_SOON_SECONDS); "
        "live only, nothing replayed. UNKNOWN_CATEGORY for an unknown category."
    )
    async def auction_feed(
        self, info: Info[GavelContext, Any], category: str | None = None
    ) -> AsyncGenerator[Auction]:
        async for auction in feed_r.auction_feed(info, category):
            yield auction
