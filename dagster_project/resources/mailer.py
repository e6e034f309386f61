"""Email delivery of the digest over SMTP."""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import dagster as dg
from pydantic import Field

from dagster_project.resources.secrets import resolved

# The parts are encoded in lines of 76 (non-ASCII text quoted-printable or base64, so no server
# needs 8BITMIME); the headers are written whole, up to SMTP's line limit: folded at 78, Python's
# email package turns a URI longer than a line (a List-Unsubscribe URL with a token) into RFC 2047
# encoded-words, which mail clients do not read as a URI.
BODY_POLICY = policy.SMTP.clone(cte_type="7bit")
HEADER_POLICY = BODY_POLICY.clone(max_line_length=998)


class MailError(Exception):
    """The message was not sent; the text names the server (host:port), the attempts and why."""

    def __init__(self, host: str, port: int, attempts: int, cause: BaseException) -> None:
        self.host, self.port, self.attempts, self.cause = host, port, attempts, cause
        times = "attempt" if attempts == 1 else "attempts"
        super().__init__(
            f"SMTP {host}:{port} failed after {attempts} {times}: {type(cause).__name__}: {cause}"
        )


def transient(exc: BaseException) -> bool:
    """Worth another attempt: no connection, a dropped one, a timeout or a 4xx answer.

    A 5xx answer (a refused sender or recipients, a failed login, a rejected message) says the
    same the next time.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPNotSupportedError | ssl.SSLCertVerificationError):
        return False
    return isinstance(exc, OSError)  # refused, reset, unreachable, timeout, disconnected


class Mailer(dg.ConfigurableResource):
    """An SMTP server and the digest's list: with no recipients configured, nothing is sent.

    `site_url` is where the digest pages are published (PODCAST_INSIGHTS_SITE_URL): the email's
    and the RSS feed's links point there; unset, they point at the local pages.
    """

    host: str = "localhost"
    port: int = 25
    sender: str = "Podcast Insights <insights@localhost>"
    recipients: list[str] = Field(default_factory=list)
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 30.0
    site_url: str | None = None
    list_id: str | None = None  # default: "Podcast Insights <digest.DOMAIN>", the sender's domain
    unsubscribe_mailto: str | None = None  # default: the sender's address
    unsubscribe_url: str | None = None  # an https URL also gets one-click (RFC 8058)

    @property
    def enabled(self) -> bool:
        return bool(self.recipients)

    @property
    def domain(self) -> str:
        """The sender address's domain: it qualifies the Message-ID and the List-Id."""
        address = parseaddr(self.sender)[1]
        return address.rpartition("@")[2] or socket.getfqdn()

    def list_unsubscribe(self) -> str:
        """The List-Unsubscribe value: a mailto: (always) and the configured URL."""
        mailbox = self.unsubscribe_mailto or parseaddr(self.sender)[1]
        mailbox = mailbox.removeprefix("mailto:").split("?", 1)[0]
        uris = [f"mailto:{mailbox}?subject=unsubscribe"] if mailbox else []
        if self.unsubscribe_url:
            uris.append(self.unsubscribe_url)
        return ", ".join(f"<{u}>" for u in uris)

    def unsubscribe_link(self) -> str:
        """The one link a reader follows to leave: the URL if there is one, else the mailto:."""
        return self.unsubscribe_url or self.list_unsubscribe().split(",")[0].strip("<> ")

    def compose(self, subject: str, text: str, html: str, idstring: str | None = None):
        """The message: dated, with a fully qualified Message-ID and the list headers."""
        msg = EmailMessage(policy=BODY_POLICY)
        msg["Subject"] = subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(idstring=idstring, domain=self.domain)
        msg["List-Id"] = self.list_id or f"Podcast Insights <digest.{self.domain}>"
        unsubscribe = self.list_unsubscribe()
        if unsubscribe:
            msg["List-Unsubscribe"] = unsubscribe
        if (self.unsubscribe_url or "").startswith("https://"):
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        msg.policy = HEADER_POLICY  # the parts are encoded; flattening writes headers whole
        return msg

    def send(
        self,
        subject: str,
        text: str,
        html: str,
        *,
        idstring: str | None = None,
        attempts: int = 3,
        backoff_s: float = 2.0,
        on_retry: Callable[[str], None] | None = None,
    ) -> str:
        """Send one message to all recipients; returns its Message-ID.

        A transient failure is tried again, up to `attempts` times, waiting `backoff_s`, then
        twice that, and so on; the same message (one Message-ID) each time. Once the server has
        accepted the message it is never sent again, whatever happens when the session closes.
        Raises MailError, naming host and port, when it was not sent.
        """
        msg = self.compose(subject, text, html, idstring)
        attempts = max(1, attempts)
        for attempt in range(1, attempts + 1):
            try:
                self._deliver(msg)
                return msg["Message-ID"]
            except Exception as exc:
                if attempt == attempts or not transient(exc):
                    raise MailError(self.host, self.port, attempt, exc) from exc
                wait = backoff_s * 2 ** (attempt - 1)
                if on_retry:
                    on_retry(
                        f"SMTP {self.host}:{self.port}, attempt {attempt} of {attempts}: "
                        f"{type(exc).__name__}: {exc}; trying again in {wait:g} s"
                    )
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _deliver(self, msg: EmailMessage) -> None:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        try:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, resolved(self.password) if self.password else "")
            smtp.send_message(msg)
        except BaseException:
            smtp.close()
            raise
        try:  # accepted: a failure to say goodbye must not send it twice
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
