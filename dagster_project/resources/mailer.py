"""Email delivery of the digest over SMTP."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import dagster as dg
from pydantic import Field

from dagster_project.resources.secrets import resolved


class Mailer(dg.ConfigurableResource):
    """An SMTP server; with no recipients configured, nothing is sent."""

    host: str = "localhost"
    port: int = 25
    sender: str = "Podcast Insights <insights@localhost>"
    recipients: list[str] = Field(default_factory=list)
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 30.0

    @property
    def enabled(self) -> bool:
        return bool(self.recipients)

    def send(self, subject: str, text: str, html: str) -> str:
        """Send one message to all recipients; returns its Message-ID."""
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Message-ID"] = make_msgid(domain="podcast-insights")
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, resolved(self.password) if self.password else "")
            smtp.send_message(msg)
        return msg["Message-ID"]
