"""The development mailer: writes each mail to the log instead of sending it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger("gavel.mail")


@dataclass
class LogMailer:
    sent: list[tuple[str, str, str]] = field(default_factory=list)
    keep: int = 100

    async def send(self, to: str, subject: str, body: str) -> None:
        log.info("mail to=%s subject=%r\n%s", to, subject, body)
        self.sent.append((to, subject, body))
        del self.sent[: -self.keep]
