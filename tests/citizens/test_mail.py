"""Notification mail: composing, the outbox on both databases, and sending to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, Session
from sqlalchemy import select

from urbis.citizens.mail import MAX_ATTEMPTS, Mailer, SmtpServer, compose, outbox
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.core.errors import BadRequestData
from urbis.core.settings import Settings

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SENDER = "Stadt Urbis <rathaus@urbis.example>"
SUBJECT = "Ihre Meldung: Straßenlaterne defekt – Größe egal"
BODY = "Guten Tag,\n\nIhre Meldung wurde geprüft.\nBestätigen: https://urbis.example/c/SECRET-TOKEN\n\nGrüße\n"

# A throw-away self-signed certificate for 127.0.0.1 (valid 2020-2120), made for these tests only.
TEST_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgLF0cR1N9gG6G5tXD
hxOjiywdxO5yAcPnAE/ts0IzjEuhRANCAAQZcO70E2OhgnH5LsVLFdSI9Y2xotqk
jb66mK3hCZnkrbMF4vTlcRkFbjaR+9vJzwbdB6n8DfD1bWTdIlBibhqU
-----END PRIVATE KEY-----
"""
TEST_CERTIFICATE = """-----BEGIN CERTIFICATE-----
MIIBxTCCAWugAwIBAgIUZKTS/xSkU2aZ5ATZP1IX9Eluzf0wCgYIKoZIzj0EAwIw
ITEfMB0GA1UEAwwWVXJiaXMgdGVzdCBtYWlsIHNlcnZlcjAgFw0yMDAxMDEwMDAw
MDBaGA8yMTIwMDEwMTAwMDAwMFowITEfMB0GA1UEAwwWVXJiaXMgdGVzdCBtYWls
IHNlcnZlcjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABBlw7vQTY6GCcfkuxUsV
1Ij1jbGi2qSNvrqYreEJmeStswXi9OVxGQVuNpH728nPBt0HqfwN8PVtZN0iUGJu
GpSjfzB9MBoGA1UdEQQTMBGHBH8AAAGCCWxvY2FsaG9zdDAPBgNVHRMBAf8EBTAD
AQH/MB0GA1UdDgQWBBRaEUP7Z42Sv/7OnKTcUyzUQdVsPTAfBgNVHSMEGDAWgBRa
EUP7Z42Sv/7OnKTcUyzUQdVsPTAOBgNVHQ8BAf8EBAMCAoQwCgYIKoZIzj0EAwID
SAAwRQIhAMKllEP7G0y3LYU1Xp6f0jQ1oRL5CCQkO/+mECxpE60gAiAiRMUCKhl8
ga9acveWOk0QU3KVLqbKlCbII7ucgsUayw==
-----END CERTIFICATE-----
"""


# -- a real SMTP server ---------------------------------------------------------------------------------


@dataclass
class MailBox:
    """An aiosmtpd handler: keeps what it accepts, refuses what it is told to refuse."""

    refuse_data: str | None = None
    refuse_recipients: set[str] = field(default_factory=set)
    received: list[Envelope] = field(default_factory=list)
    over_tls: list[bool] = field(default_factory=list)
    data_commands: int = 0

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse_recipients:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.data_commands += 1
        if self.refuse_data:
            return self.refuse_data
        self.received.append(envelope)
        # The connection's transport, after STARTTLS or from the start (smtps), says whether it is encrypted.
        self.over_tls.append(server.transport.get_extra_info("sslcontext") is not None)
        return "250 OK queued"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)  # type: ignore[misc]
            for envelope in self.received
        ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


StartServer = Callable[..., tuple[MailBox, int]]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Start aiosmtpd servers on 127.0.0.1 (each on a free port); all stopped after the test."""
    controllers: list[Controller] = []

    def start(mailbox: MailBox | None = None, **options: Any) -> tuple[MailBox, int]:
        mailbox = mailbox or MailBox()
        port = free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return mailbox, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def server_tls(tmp_path: Path) -> ssl.SSLContext:
    """The server side of TLS with the test certificate."""
    (tmp_path / "key.pem").write_text(TEST_KEY)
    (tmp_path / "cert.pem").write_text(TEST_CERTIFICATE)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def trusting_test_certificate() -> ssl.SSLContext:
    return ssl.create_default_context(cadata=TEST_CERTIFICATE)


# -- helpers --------------------------------------------------------------------------------------------


def on_the_wire(text: str) -> str:
    """``text`` as SMTP carries it: every line ends in CR LF."""
    return text.replace("\n", "\r\n")


def mail_settings(smtp_url: str = "", **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "secret_key": "test-secret-key-that-is-long-enough-0123456789",
        "smtp_url": smtp_url,
        "smtp_from": SENDER,
        "smtp_timeout": 5.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def mailer_for(database: Database, smtp_url: str = "", **options: Any) -> tuple[Mailer, FixedClock]:
    clock = FixedClock(START)
    return Mailer(database, mail_settings(smtp_url), clock=clock, **options), clock


def queued(mailer: Mailer, tenant: str, to: str = "anna@example.org", subject: str = SUBJECT, text: str = BODY) -> str:
    with mailer.db.write() as conn:
        return mailer.queue(conn, tenant, to, subject, text)


def row(database: Database, tenant: str, mail_id: str) -> dict[str, Any]:
    with database.read() as conn:
        found = conn.execute(select(outbox).where(outbox.c.tenant == tenant, outbox.c.mail_id == mail_id)).first()
    assert found is not None
    return dict(found._mapping)


def count_rows(database: Database, tenant: str) -> int:
    with database.read() as conn:
        return len(conn.execute(select(outbox.c.mail_id).where(outbox.c.tenant == tenant)).all())


# -- compose --------------------------------------------------------------------------------------------


def test_compose_makes_a_plain_text_utf8_mail() -> None:
    message = compose("anna@example.org", SUBJECT, BODY, sender=SENDER)
    assert message["From"] == SENDER
    assert message["To"] == "anna@example.org"
    assert message["Subject"] == SUBJECT
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == BODY
    # On the wire every line is 7-bit: the umlauts travel encoded.
    wire = message.as_bytes(policy=email.policy.SMTP)
    assert all(byte < 128 for byte in wire)
    assert "Date" not in message and "Message-ID" not in message


def test_compose_sets_date_and_message_id_when_given() -> None:
    message = compose("a@example.org", "Hi", "x", sender=SENDER, date=START, message_id="<m1@urbis.example>")
    assert message["Date"] == "Wed, 25 Nov 2026 09:00:00 +0000"
    assert message["Message-ID"] == "<m1@urbis.example>"


def test_a_subject_with_line_breaks_becomes_one_line() -> None:
    message = compose("a@example.org", "Pothole\r\nBcc: victim@example.org", "x", sender=SENDER)
    assert message["Subject"] == "Pothole Bcc: victim@example.org"
    assert "Bcc" not in message


@pytest.mark.parametrize(
    "address",
    ["anna@example.org\r\nBcc: victim@example.org", "no-at-sign", "@example.org", "anna@", "a b@example.org", ""],
)
def test_compose_refuses_what_is_no_single_address(address: str) -> None:
    with pytest.raises(BadRequestData):
        compose(address, "Hi", "x", sender=SENDER)


# -- SMTP URLs ------------------------------------------------------------------------------------------


def test_smtp_urls() -> None:
    plain = SmtpServer.from_url("smtp://mail.example.org")
    assert (plain.host, plain.port, plain.implicit_tls, plain.username, plain.password) == (
        "mail.example.org",
        25,
        False,
        None,
        None,
    )
    submission = SmtpServer.from_url("smtp://urbis%40city:p%C3%A4ss%3Aword@mail.example.org:587")
    assert (submission.port, submission.username, submission.password) == (587, "urbis@city", "päss:word")
    implicit = SmtpServer.from_url("smtps://mail.example.org")
    assert (implicit.port, implicit.implicit_tls) == (465, True)
    assert SmtpServer.from_url("smtp://127.0.0.1:2525").is_loopback
    assert SmtpServer.from_url("smtp://localhost").is_loopback
    assert not plain.is_loopback


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "mail.example.org:25", "smtp://host:notaport"])
def test_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        SmtpServer.from_url(url)


# -- the outbox ----------------------------------------------------------------------------------------


def test_queue_writes_inside_the_callers_transaction(database: Database, tenant: str) -> None:
    mailer, _ = mailer_for(database)
    with pytest.raises(RuntimeError), database.write() as conn:
        rolled_back = mailer.queue(conn, tenant, "anna@example.org", SUBJECT, BODY)
        raise RuntimeError("the change failed")
    committed = queued(mailer, tenant)

    assert count_rows(database, tenant) == 1
    stored = row(database, tenant, committed)
    assert rolled_back != committed
    assert stored["recipient"] == "anna@example.org"
    assert (stored["subject"], stored["body"]) == (SUBJECT, BODY)
    assert stored["queued_at"] == stored["next_attempt_at"] == START
    assert (stored["attempts"], stored["sent_at"], stored["outcome"], stored["last_error"]) == (0, None, None, None)


def test_queue_refuses_a_bad_address_and_shortens_a_long_subject(database: Database, tenant: str) -> None:
    mailer, _ = mailer_for(database)
    with pytest.raises(BadRequestData):
        queued(mailer, tenant, to="anna@example.org\nBcc: x@example.org")
    long_subject = "Ä" * 400
    stored = row(database, tenant, queued(mailer, tenant, subject=long_subject))
    assert stored["subject"] == "Ä" * 299 + "…"


def test_send_pending_delivers_through_a_real_smtp_server(
    database: Database, tenant: str, smtp_server: StartServer
) -> None:
    mailbox, port = smtp_server()
    mailer, _ = mailer_for(database, f"smtp://127.0.0.1:{port}")
    first = queued(mailer, tenant, to="anna@example.org")
    second = queued(mailer, tenant, to="jörg@example.org", subject="Zweite", text="Schöne Grüße")

    assert mailer.send_pending(tenant=tenant) == 2

    assert [envelope.mail_from for envelope in mailbox.received] == ["rathaus@urbis.example"] * 2
    assert sorted(tuple(envelope.rcpt_tos) for envelope in mailbox.received) == [
        ("anna@example.org",),
        ("jörg@example.org",),
    ]
    by_recipient = {message["To"]: message for message in mailbox.messages()}
    anna = by_recipient["anna@example.org"]
    assert anna["From"] == SENDER
    assert anna["Subject"] == SUBJECT
    assert on_the_wire(BODY) == anna.get_content()  # type: ignore[attr-defined]
    assert anna["Message-ID"] == f"<{first}@urbis.example>"
    assert anna["Date"] == "Wed, 25 Nov 2026 09:00:00 +0000"
    assert by_recipient["jörg@example.org"].get_content() == "Schöne Grüße\r\n"  # type: ignore[attr-defined]
    for mail_id in (first, second):
        stored = row(database, tenant, mail_id)
        assert (stored["outcome"], stored["sent_at"], stored["attempts"], stored["last_error"]) == (
            "sent",
            START,
            1,
            None,
        )
    # Nothing is sent twice.
    assert mailer.send_pending(tenant=tenant) == 0
    assert len(mailbox.received) == 2


def test_a_refusing_server_leaves_the_mail_for_later(database: Database, tenant: str, smtp_server: StartServer) -> None:
    mailbox, port = smtp_server(MailBox(refuse_data="550 5.7.1 message refused"))
    mailer, clock = mailer_for(database, f"smtp://127.0.0.1:{port}")
    mail_id = queued(mailer, tenant)

    assert mailer.send_pending(tenant=tenant) == 0

    stored = row(database, tenant, mail_id)
    assert (stored["sent_at"], stored["outcome"], stored["attempts"]) == (None, None, 1)
    assert stored["last_error"] == "550 5.7.1 message refused"
    assert stored["next_attempt_at"] == START + timedelta(minutes=2)  # 2^1 minutes
    assert mailbox.data_commands == 1

    # Not due yet: not tried again.
    clock.advance(minutes=1, seconds=59)
    assert mailer.send_pending(tenant=tenant) == 0
    assert mailbox.data_commands == 1

    # Due: tried again, and the next wait doubles.
    clock.advance(seconds=1)
    mailer.send_pending(tenant=tenant)
    stored = row(database, tenant, mail_id)
    assert mailbox.data_commands == 2
    assert stored["attempts"] == 2
    assert stored["next_attempt_at"] == START + timedelta(minutes=2 + 4)

    # The server takes mail again: the third try goes through.
    mailbox.refuse_data = None
    clock.advance(minutes=4)
    assert mailer.send_pending(tenant=tenant) == 1
    stored = row(database, tenant, mail_id)
    assert (stored["outcome"], stored["attempts"], stored["last_error"]) == ("sent", 3, None)
    assert stored["sent_at"] == START + timedelta(minutes=6)


def test_a_refused_recipient_does_not_hold_up_the_others(
    database: Database, tenant: str, smtp_server: StartServer
) -> None:
    mailbox, port = smtp_server(MailBox(refuse_recipients={"gone@example.org"}))
    mailer, _ = mailer_for(database, f"smtp://127.0.0.1:{port}")
    before = queued(mailer, tenant, to="anna@example.org")
    refused = queued(mailer, tenant, to="gone@example.org")
    after = queued(mailer, tenant, to="bert@example.org")

    assert mailer.send_pending(tenant=tenant) == 2

    assert sorted(envelope.rcpt_tos[0] for envelope in mailbox.received) == ["anna@example.org", "bert@example.org"]
    assert row(database, tenant, before)["outcome"] == row(database, tenant, after)["outcome"] == "sent"
    stored = row(database, tenant, refused)
    assert (stored["outcome"], stored["attempts"]) == (None, 1)
    assert stored["last_error"] == "550 5.1.1 no such mailbox here"


def test_a_mail_is_given_up_after_eight_attempts(database: Database, tenant: str, smtp_server: StartServer) -> None:
    mailbox, port = smtp_server(MailBox(refuse_data="451 4.3.0 try again later"))
    mailer, clock = mailer_for(database, f"smtp://127.0.0.1:{port}")
    mail_id = queued(mailer, tenant)
    waits = []
    for attempt in range(1, MAX_ATTEMPTS):
        mailer.send_pending(tenant=tenant)
        stored = row(database, tenant, mail_id)
        assert (stored["attempts"], stored["outcome"]) == (attempt, None)
        waits.append(stored["next_attempt_at"] - clock.now())
        clock.advance(days=1)
    assert waits == [timedelta(minutes=minutes) for minutes in (2, 4, 8, 16, 32, 64, 128)]

    mailer.send_pending(tenant=tenant)  # the eighth

    stored = row(database, tenant, mail_id)
    assert (stored["attempts"], stored["outcome"], stored["sent_at"]) == (8, "failed", clock.now())
    assert stored["last_error"] == "451 4.3.0 try again later"
    clock.advance(days=1)
    mailer.send_pending(tenant=tenant)
    assert mailbox.data_commands == 8


def test_an_unreachable_server_leaves_every_mail_for_later(database: Database, tenant: str) -> None:
    mailer, _ = mailer_for(database, f"smtp://127.0.0.1:{free_port()}")  # nobody listens there
    mail_ids = [queued(mailer, tenant, to=f"n{n}@example.org") for n in range(3)]

    assert mailer.send_pending(tenant=tenant) == 0

    for mail_id in mail_ids:
        stored = row(database, tenant, mail_id)
        assert (stored["attempts"], stored["outcome"]) == (1, None)
        assert "ConnectionRefusedError" in stored["last_error"]
        assert stored["next_attempt_at"] == START + timedelta(minutes=2)


def test_without_a_server_mails_are_logged_not_retried(
    database: Database, tenant: str, caplog: pytest.LogCaptureFixture
) -> None:
    mailer, clock = mailer_for(database, "")
    mail_id = queued(mailer, tenant, to="anna@example.org")
    caplog.set_level(logging.INFO, logger="urbis.citizens.mail")

    assert mailer.send_pending(tenant=tenant) == 0

    logged = [record.getMessage() for record in caplog.records if record.name == "urbis.citizens.mail"]
    assert len(logged) == 1
    assert "mail to a…@example.org not sent: no SMTP server configured" in logged[0]
    assert SUBJECT in logged[0]
    assert "SECRET-TOKEN" not in caplog.text  # the body may hold a confirmation link
    assert "anna@example.org" not in caplog.text
    stored = row(database, tenant, mail_id)
    assert (stored["outcome"], stored["sent_at"], stored["attempts"]) == ("skipped", START, 0)

    caplog.clear()
    clock.advance(days=1)
    mailer.send_pending(tenant=tenant)
    assert not [record for record in caplog.records if record.name == "urbis.citizens.mail"]


def test_send_pending_takes_at_most_limit_mails(database: Database, tenant: str, smtp_server: StartServer) -> None:
    mailbox, port = smtp_server()
    mailer, _ = mailer_for(database, f"smtp://127.0.0.1:{port}")
    for n in range(5):
        queued(mailer, tenant, to=f"n{n}@example.org")
    assert mailer.send_pending(limit=3, tenant=tenant) == 3
    assert mailer.send_pending(limit=3, tenant=tenant) == 2
    assert len(mailbox.received) == 5


def test_mails_taken_by_a_sender_that_died_are_sent_after_the_claim_runs_out(
    database: Database, tenant: str, smtp_server: StartServer
) -> None:
    mailbox, port = smtp_server()
    dead, clock = mailer_for(database, f"smtp://127.0.0.1:{port}")
    queued(dead, tenant)
    assert len(dead._claim(10, tenant)) == 1  # took the mail, then died before sending it
    alive = Mailer(database, mail_settings(f"smtp://127.0.0.1:{port}"), clock=clock)

    assert alive.send_pending(tenant=tenant) == 0  # held by the other sender
    clock.advance(minutes=9, seconds=59)
    assert alive.send_pending(tenant=tenant) == 0
    clock.advance(seconds=1)  # ten minutes: the claim has run out
    assert alive.send_pending(tenant=tenant) == 1
    assert len(mailbox.received) == 1


def test_purge_deletes_finished_mails_after_thirty_days(
    database: Database, tenant: str, smtp_server: StartServer
) -> None:
    mailbox, port = smtp_server(MailBox(refuse_recipients={"later@example.org"}))
    mailer, clock = mailer_for(database, f"smtp://127.0.0.1:{port}")
    sent = queued(mailer, tenant, to="anna@example.org")
    waiting = queued(mailer, tenant, to="later@example.org")
    mailer.send_pending(tenant=tenant)
    clock.advance(hours=1)
    never_tried = queued(mailer, tenant, to="new@example.org")
    mailbox.refuse_recipients.add("new@example.org")

    clock.advance(days=30, minutes=-61)  # 29 days 23:59 after sending
    assert mailer.purge(tenant=tenant) == 0
    clock.advance(minutes=2)  # 30 days and a minute
    assert mailer.purge(tenant=tenant) == 1

    with database.read() as conn:
        left = set(conn.execute(select(outbox.c.mail_id).where(outbox.c.tenant == tenant)).scalars())
    assert left == {waiting, never_tried}  # still to be sent: kept
    assert sent not in left
    assert mailer.purge(older_than_days=0, tenant=tenant) == 0  # none of them is finished


# -- login and TLS -------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login_with_the_urls_user_and_password(database: Database, tenant: str, smtp_server: StartServer) -> None:
    seen: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        login, password = data.login.decode(), data.password.decode()
        seen.append((login, password))
        # handled=False: aiosmtpd answers a failure with 535 itself.
        return AuthResult(success=(login, password) == ("urbis@city", "päss:word"), handled=False)

    # PLAIN only: aiosmtpd's LOGIN does not take the initial response that smtplib sends with it.
    mailbox, port = smtp_server(
        authenticator=authenticator, auth_required=True, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"]
    )
    good, _ = mailer_for(database, f"smtp://urbis%40city:p%C3%A4ss%3Aword@127.0.0.1:{port}")
    bad, _ = mailer_for(database, f"smtp://urbis%40city:wrong@127.0.0.1:{port}")
    mail_id = queued(good, tenant)

    assert bad.send_pending(tenant=tenant) == 0
    assert row(database, tenant, mail_id)["last_error"].startswith("535")
    row_before = row(database, tenant, mail_id)
    with database.write() as conn:  # due again at once, for the good credentials
        conn.execute(outbox.update().where(outbox.c.mail_id == mail_id).values(next_attempt_at=START))
    assert good.send_pending(tenant=tenant) == 1

    assert seen == [("urbis@city", "wrong"), ("urbis@city", "päss:word")]
    assert len(mailbox.received) == 1
    assert row(database, tenant, mail_id)["attempts"] == row_before["attempts"] + 1 == 2


def test_no_password_goes_to_a_remote_server_without_tls(
    database: Database, tenant: str, smtp_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def authenticator(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        seen.append(data.password.decode())
        return AuthResult(success=True)

    mailbox, port = smtp_server(authenticator=authenticator, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"])
    # The server is on this machine; pretend it is not, as a server across the network would be.
    monkeypatch.setattr(SmtpServer, "is_loopback", property(lambda self: False))
    mailer, _ = mailer_for(database, f"smtp://urbis:secret@127.0.0.1:{port}")
    mail_id = queued(mailer, tenant)

    assert mailer.send_pending(tenant=tenant) == 0

    assert seen == [] and mailbox.received == []
    assert "not sent unencrypted" in row(database, tenant, mail_id)["last_error"]


def test_starttls_is_used_when_the_server_offers_it(
    database: Database, tenant: str, smtp_server: StartServer, server_tls: ssl.SSLContext
) -> None:
    mailbox, port = smtp_server(tls_context=server_tls)
    mailer, _ = mailer_for(database, f"smtp://127.0.0.1:{port}", ssl_context=trusting_test_certificate())
    queued(mailer, tenant)

    assert mailer.send_pending(tenant=tenant) == 1

    assert mailbox.over_tls == [True]


def test_a_certificate_nobody_vouches_for_is_refused(
    database: Database, tenant: str, smtp_server: StartServer, server_tls: ssl.SSLContext
) -> None:
    mailbox, port = smtp_server(tls_context=server_tls)
    mailer, _ = mailer_for(database, f"smtp://127.0.0.1:{port}")  # the system's trust store only
    mail_id = queued(mailer, tenant)

    assert mailer.send_pending(tenant=tenant) == 0

    assert mailbox.received == []
    assert "CERTIFICATE_VERIFY_FAILED" in row(database, tenant, mail_id)["last_error"]


def test_smtps_speaks_tls_from_the_start(
    database: Database, tenant: str, smtp_server: StartServer, server_tls: ssl.SSLContext
) -> None:
    mailbox, port = smtp_server(ssl_context=server_tls)
    mailer, _ = mailer_for(database, f"smtps://127.0.0.1:{port}", ssl_context=trusting_test_certificate())
    queued(mailer, tenant)

    assert mailer.send_pending(tenant=tenant) == 1

    assert mailbox.over_tls == [True]
    assert mailbox.messages()[0]["Subject"] == SUBJECT
