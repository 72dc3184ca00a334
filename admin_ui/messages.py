"""Words for people: empty and error states, and the domain's refusals explained.

A refusal keeps the domain's own message (it names the rule, e.g. "the reserve must be
at least the starting price"); the codes below get a sentence that says what to do.
"""

from __future__ import annotations

from nicegui import ui

from domain.errors import DomainError

_ADVICE = {
    "FORBIDDEN": "Your account may not do this.",
    "NOT_FOUND": "It does not exist, or it is not yours to see.",
    "RATE_LIMITED": "Too many attempts in a short time: wait a little and try again.",
    "INVALID_CREDENTIALS": "The email or the password is wrong.",
    "MFA_REQUIRED": "This account uses two-factor authentication: enter the code from"
    " your authenticator app (or a recovery code).",
    "INVALID_OTP": "That code is wrong or was already used: enter the current one.",
    "ACCOUNT_BANNED": "This account is banned.",
    "UNAVAILABLE": "A data store is not answering: nothing was changed; try again soon.",
}


def explain(err: DomainError) -> str:
    """A sentence for a person: the domain's message, with advice for known codes."""
    advice = _ADVICE.get(err.code)
    message = err.message.rstrip(".")
    if err.code in ("INVALID_CREDENTIALS", "MFA_REQUIRED", "INVALID_OTP", "NOT_FOUND"):
        return advice or message
    if advice:
        return f"{message[:1].upper()}{message[1:]}. {advice}"
    return f"{message[:1].upper()}{message[1:]}."


def error_state(title: str, detail: str, *, icon: str = "error_outline") -> None:
    """A card saying what went wrong and what to do; marked `error-state` for tests."""
    with ui.card().classes("w-full items-center text-center p-8 gap-2").mark("error-state"):
        ui.icon(icon).classes("text-5xl text-negative")
        ui.label(title).classes("text-xl font-semibold")
        ui.label(detail).classes("opacity-80 max-w-prose")


def empty_state(title: str, detail: str, *, icon: str = "inbox") -> None:
    """A card for a list with nothing in it yet, with what would put something there."""
    with ui.card().classes("w-full items-center text-center p-8 gap-2").mark("empty-state"):
        ui.icon(icon).classes("text-5xl opacity-50")
        ui.label(title).classes("text-lg font-semibold")
        ui.label(detail).classes("opacity-70 max-w-prose")
