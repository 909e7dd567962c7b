"""Notification mail: an outbox written with the change it tells of, and a sender that drains it.

A mail is queued in the same transaction as the change (a report's new status, a confirmation
link), so no change goes untold and no mail tells of a change that was rolled back.

A background job calls :meth:`Mailer.send_pending`, which hands due mails to the SMTP server of
``smtp_url`` and tries refused ones again later with growing waits, and :meth:`Mailer.purge`, which
deletes finished mails after 30 days: the address is personal data. A finished mail has ``sent_at``
(when it was finished) and ``outcome``: ``sent``, ``skipped`` (no server configured; logged instead)
or ``failed`` (given up after ``MAX_ATTEMPTS`` tries).
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from urbis.core.auth.tables import UTCDateTime
from urbis.core.clock import Clock
from urbis.core.db import Database, metadata
from urbis.core.errors import BadRequestData
from urbis.core.settings import Settings

outbox = Table(
    "citizen_outbox",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("mail_id", String(32), primary_key=True),
    Column("recipient", String(320), nullable=False),  # personal data: purged after sending
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("queued_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("outcome", String(16), nullable=True),  # "sent", "skipped" (no server), "failed" (gave up)
    Column("last_error", String(500), nullable=True),
    Index("ix_citizen_outbox_pending", "sent_at", "next_attempt_at"),
)


log = logging.getLogger(__name__)

#: Attempts after which a mail is given up (outcome "failed"); the waits between them double from 2 minutes,
#: so the last try comes about four hours after the first.
MAX_ATTEMPTS = 8

#: How long a sender holds the mails it took: another process skips them meanwhile, and if the sender dies
#: they are tried again after this (rather sent twice than never).
CLAIM = timedelta(minutes=10)

#: Outcomes a finished mail records (``sent_at`` is then the time it was finished).
SENT, SKIPPED, FAILED = "sent", "skipped", "failed"

_SUBJECT_LENGTH = 300
_ERROR_LENGTH = 500
_ADDRESS_LENGTH = 320


def compose(
    to: str, subject: str, text: str, *, sender: str, date: datetime | None = None, message_id: str | None = None
) -> EmailMessage:
    """A plain-text UTF-8 mail from ``sender`` (``"City of Urbis <urbis@example.org>"`` or a bare address) to ``to``.

    Line breaks in the subject (a report title may hold them) become spaces; an address with one is refused,
    since it could smuggle in headers of its own. ``date`` and ``message_id`` are left out when not given.
    """
    _check_address(to)
    if "\r" in sender or "\n" in sender:
        raise ValueError("the sender address must be one line")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = _one_line(subject)
    if date is not None:
        message["Date"] = format_datetime(date)
    if message_id is not None:
        message["Message-ID"] = message_id
    # Quoted-printable keeps every line 7-bit, so no relay on the way needs 8BITMIME for an umlaut.
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    return message


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to hand mails over, read from a ``smtp://`` or ``smtps://`` URL."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """``smtp://[user[:password]@]host[:port]`` (port 25, STARTTLS when offered) or ``smtps://`` (465)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("the SMTP URL must look like smtp://user:password@host:587 or smtps://host:465")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port in the SMTP URL: {exc}") from None
        implicit_tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit_tls else 25),
            implicit_tls=implicit_tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    @property
    def is_loopback(self) -> bool:
        """Whether the server runs on this machine (a password may then go unencrypted)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class _Pending:
    tenant: str
    mail_id: str
    recipient: str
    subject: str
    body: str
    attempts: int


class Mailer:
    """Queues notification mails with the change they tell of, and sends them later through SMTP."""

    def __init__(
        self, db: Database, settings: Settings, *, clock: Clock, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """``ssl_context`` replaces the system's trust store (a city's own mail server certificate authority)."""
        self.db = db
        self.clock = clock
        self.sender = settings.smtp_from
        self.timeout = settings.smtp_timeout
        self.server = SmtpServer.from_url(settings.smtp_url) if settings.smtp_url.strip() else None
        self.ssl_context = ssl_context

    def queue(self, conn: Connection, tenant: str, to: str, subject: str, text: str) -> str:
        """Put a mail in the outbox inside the caller's transaction ``conn``; its id.

        The mail is sent only if that transaction commits, so it never tells of a change that was rolled back.
        """
        _check_address(to)
        mail_id = uuid.uuid4().hex
        now = self.clock.now()
        conn.execute(
            insert(outbox).values(
                tenant=tenant,
                mail_id=mail_id,
                recipient=to,
                subject=_shortened(_one_line(subject), _SUBJECT_LENGTH),
                body=text,
                queued_at=now,
                next_attempt_at=now,
                attempts=0,
                sent_at=None,
                outcome=None,
                last_error=None,
            )
        )
        return mail_id

    def send_pending(self, limit: int = 100, *, tenant: str | None = None) -> int:
        """Send up to ``limit`` mails that are due (of ``tenant``, or of all); how many the server accepted.

        One SMTP session carries them all. A mail the server refuses, or all of them when it cannot be
        reached, is tried again 2, 4, 8 … minutes later and given up after ``MAX_ATTEMPTS`` tries. Without a
        configured server each mail is logged (recipient shortened, subject, never the body: it may hold a
        confirmation link) and finished as ``skipped``.
        """
        due = self._claim(limit, tenant)
        if not due:
            return 0
        if self.server is None:
            for mail in due:
                log.info(
                    "mail to %s not sent: no SMTP server configured (subject: %r)",
                    _masked(mail.recipient),
                    mail.subject,
                )
            self._finish([(mail, SKIPPED, None) for mail in due])
            return 0
        results = self._deliver(self.server, due)
        self._finish(results)
        return sum(1 for _, outcome, _ in results if outcome == SENT)

    def purge(self, older_than_days: int = 30, *, tenant: str | None = None) -> int:
        """Delete mails finished more than ``older_than_days`` ago (the address is personal data); how many."""
        cutoff = self.clock.now() - timedelta(days=older_than_days)
        statement = delete(outbox).where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < cutoff)
        if tenant is not None:
            statement = statement.where(outbox.c.tenant == tenant)
        with self.db.write() as conn:
            return conn.execute(statement).rowcount

    def _claim(self, limit: int, tenant: str | None) -> list[_Pending]:
        """The due mails, held for this sender (``next_attempt_at`` moved past the claim) in one transaction."""
        now = self.clock.now()
        query = (
            select(outbox.c.tenant, outbox.c.mail_id, outbox.c.recipient, outbox.c.subject, outbox.c.body)
            .add_columns(outbox.c.attempts)
            .where(outbox.c.sent_at.is_(None), outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.mail_id)
            .limit(limit)
            # PostgreSQL: two senders never take the same mail; SQLite's single writer gives the same.
            .with_for_update(skip_locked=True)
        )
        if tenant is not None:
            query = query.where(outbox.c.tenant == tenant)
        with self.db.write() as conn:
            due = [_Pending(*row) for row in conn.execute(query)]
            if due:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.tenant == bindparam("b_tenant"), outbox.c.mail_id == bindparam("b_mail_id"))
                    .values(next_attempt_at=now + CLAIM),
                    [{"b_tenant": mail.tenant, "b_mail_id": mail.mail_id} for mail in due],
                )
        return due

    def _deliver(self, server: SmtpServer, due: list[_Pending]) -> list[tuple[_Pending, str | None, str | None]]:
        """Hand ``due`` to ``server``: each mail with its outcome (SENT, or None to retry) and error."""
        results: list[tuple[_Pending, str | None, str | None]] = []
        try:
            with self._connect(server) as smtp:
                for position, mail in enumerate(due):
                    try:
                        smtp.send_message(self._message(mail))
                    except smtplib.SMTPServerDisconnected as exc:
                        results += [(left, None, _describe(exc)) for left in due[position:]]
                        break
                    except (smtplib.SMTPException, OSError, ValueError) as exc:
                        results.append((mail, None, _describe(exc)))
                    else:
                        results.append((mail, SENT, None))
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            # Could not connect, greet or log in (or the goodbye failed): every mail not yet accepted waits.
            handled = {mail.mail_id for mail, _, _ in results}
            results += [(mail, None, _describe(exc)) for mail in due if mail.mail_id not in handled]
        for mail, outcome, error in results:
            if outcome != SENT:
                log.warning("mail %s to %s not sent: %s", mail.mail_id, _masked(mail.recipient), error)
        return results

    def _connect(self, server: SmtpServer) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if server.implicit_tls:
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            encrypted = server.implicit_tls
            if not encrypted and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                encrypted = True
            if server.username is not None:
                if not encrypted and not server.is_loopback:
                    # A server that stops offering STARTTLS may be a man in the middle collecting passwords.
                    raise smtplib.SMTPException("the server offers no TLS: the SMTP password is not sent unencrypted")
                _login(smtp, server.username, server.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _message(self, mail: _Pending) -> EmailMessage:
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"
        return compose(
            mail.recipient,
            mail.subject,
            mail.body,
            sender=self.sender,
            date=self.clock.now(),
            # The same id on every try, so a receiver can tell a repeat after a lost answer.
            message_id=f"<{mail.mail_id}@{domain}>",
        )

    def _finish(self, results: list[tuple[_Pending, str | None, str | None]]) -> None:
        """Record each mail's outcome: finished (sent, skipped), tried again later (None), or given up."""
        now = self.clock.now()
        rows: list[dict[str, Any]] = []
        for mail, outcome, error in results:
            attempts = mail.attempts if outcome == SKIPPED else mail.attempts + 1
            finished_as = FAILED if outcome is None and attempts >= MAX_ATTEMPTS else outcome
            rows.append(
                {
                    "sent_at": now if finished_as else None,
                    "outcome": finished_as,
                    "next_attempt_at": now if finished_as else now + timedelta(minutes=2**attempts),
                    "last_error": None if error is None else _shortened(error, _ERROR_LENGTH),
                    "attempts": attempts,
                    "b_tenant": mail.tenant,
                    "b_mail_id": mail.mail_id,
                }
            )
        with self.db.write() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.tenant == bindparam("b_tenant"), outbox.c.mail_id == bindparam("b_mail_id"))
                .values(
                    sent_at=bindparam("sent_at"),
                    outcome=bindparam("outcome"),
                    next_attempt_at=bindparam("next_attempt_at"),
                    last_error=bindparam("last_error"),
                    attempts=bindparam("attempts"),
                ),
                rows,
            )


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """Log in; credentials beyond ASCII (smtplib sends only ASCII) go as UTF-8 through AUTH PLAIN (RFC 4616)."""
    if username.isascii() and password.isascii():
        smtp.login(username, password)
        return
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" not in offered:
        raise smtplib.SMTPException("the SMTP user name or password is not ASCII and the server offers no AUTH PLAIN")
    credentials = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode("ascii")
    code, answer = smtp.docmd("AUTH", f"PLAIN {credentials}")
    if code not in (235, 503):  # 503: already logged in
        raise smtplib.SMTPAuthenticationError(code, answer)


def _check_address(address: str) -> None:
    local, at, domain = address.partition("@")
    if (
        not at
        or not local
        or not domain
        or "@" in domain
        or len(address) > _ADDRESS_LENGTH
        or any(character.isspace() or ord(character) < 32 or character in '<>,;"' for character in address)
    ):
        raise BadRequestData(f"{address!r:.80} is not an e-mail address")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _shortened(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _masked(address: str) -> str:
    """``a…@example.org``: enough to tell mails apart in a log, too little to be the person's address."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"


def _describe(error: BaseException) -> str:
    """The server's answer (``550 mailbox unavailable``), or the error's kind and message."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = {code: _text(message) for code, message in error.recipients.values()}
        return "; ".join(f"{code} {message}" for code, message in answers.items()) or "recipient refused"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return f"{type(error).__name__}: {error}"


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else message
