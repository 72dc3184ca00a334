"""Settlement use cases (SPEC section 7; docs/settlement.md "How settlement works").

Every use case takes `deps` first and the acting user where a person acts, commits its
own unit of work, and raises typed DomainErrors: NOT_FOUND (not a party), FORBIDDEN
(the other party's step), INVALID_STATE, PAYMENT_DECLINED, PAYMENT_METHOD_REQUIRED,
PAYMENT_GATEWAY_UNAVAILABLE, DISPUTE_WINDOW_CLOSED, ALREADY_LEFT_FEEDBACK, INVALID_INPUT.
"""

from __future__ import annotations

from domain.reputation import Reputation
from services.settlement.cards import create_setup_intent, save_payment_method
from services.settlement.checkout import (
    PaymentMethodRequired,
    pay,
    payment_client_secret,
    start_settlement,
    sync_intent,
)
from services.settlement.disputes import open_dispute, resolve_dispute, respond_to_dispute
from services.settlement.feedback import leave_feedback
from services.settlement.fulfilment import confirm_receipt, mark_shipped
from services.settlement.jobs import JobReport, run_due
from services.settlement.queries import (
    get_transaction,
    ledger_for,
    list_purchases,
    list_sales,
    reputation,
    reputation_of_user,
)
from services.settlement.reconciliation import Difference, ReconciliationReport, reconcile
from services.settlement.second_chance import offer_second_chance
from services.settlement.webhooks import apply_gateway_event

__all__ = [
    "Difference",
    "JobReport",
    "PaymentMethodRequired",
    "ReconciliationReport",
    "Reputation",
    "apply_gateway_event",
    "confirm_receipt",
    "create_setup_intent",
    "get_transaction",
    "leave_feedback",
    "ledger_for",
    "list_purchases",
    "list_sales",
    "mark_shipped",
    "offer_second_chance",
    "open_dispute",
    "pay",
    "payment_client_secret",
    "reconcile",
    "reputation",
    "reputation_of_user",
    "resolve_dispute",
    "respond_to_dispute",
    "run_due",
    "save_payment_method",
    "start_settlement",
    "sync_intent",
]
