"""The development mailer: writes each mail to the log (INFO, logger `gavel.mail`) instead
of sending it, so a developer can follow its links (README, "A walkthrough").

The line reads "mail to <address>: <subject>" followed by the body; the JSON format also
has the fields `mail_to` and `mail_subject`. It is meant for development only: a mail
body may hold a secret (an email verification token).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger("gavel.mail")


@dataclass
class LogMailer:
    sent: list[tuple[str, str, str]] = field(default_factory=list)
    keep: int = 100

    async def send(self, to: str, subject: str, body: str) -> None:
        log.info(
            "mail to %s: %s\n%s",
            to,
            subject,
            body,
            extra={"mail_to": to, "mail_subject": subject},
        )
        self.sent.append((to, subject, body))
        del self.sent[: -self.keep]
