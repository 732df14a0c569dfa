"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1 (ephemeral port), STARTTLS with a
trustme certificate, AUTH required. Runs its own asyncio loop in a thread.

Knobs for failure cases: `reject` (address -> 5xx at RCPT), `defer` (address -> 4xx at
RCPT), `hold_after` (block DATA of message N until `release()`, to kill a client mid-batch).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own deprecation chatter

USER = "sender@example.test"
PASSWORD = "s3cret-Pa55-\u00e9x"  # non-ASCII on purpose


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    data_started: int = 0  # DATA payloads the server has started to take in
    reject: dict[str, str] = field(default_factory=dict)
    defer: dict[str, str] = field(default_factory=dict)
    hold_after: int | None = None
    held: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.reject:
            return self.reject[address]
        if address in self.defer:
            return self.defer[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_started += 1
        raw = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw))
        if self.hold_after is not None and self.data_started > self.hold_after:
            self.held.set()
            while not self.released.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted"


class SmtpServer:
    def __init__(self, tmp: Path, password: str = PASSWORD) -> None:
        self.handler = Handler()
        self.password = password
        self.ca = trustme.CA()
        cert = self.ca.issue_cert("localhost", "127.0.0.1")
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.tls)
        self.ca_file = tmp / "smtp-test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.port = 0
        self.auth_attempts: list[tuple[str, bool]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == USER
            and data.password.decode("utf-8") == self.password
        )
        self.auth_attempts.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)

    def _factory(self) -> SMTP:
        return SMTP(
            self.handler,
            hostname="localhost",
            tls_context=self.tls,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=self._authenticate,
            enable_SMTPUTF8=True,
        )

    def start(self) -> SmtpServer:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            self._loop.create_server(self._factory, "127.0.0.1", self.port), self._loop
        )
        self._server = future.result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop listening and drop connections (the port is kept for a restart)."""
        if self._loop is None:
            return
        loop, server = self._loop, self._server

        async def shutdown() -> None:
            if server is not None:
                server.close()
                await asyncio.sleep(0.05)
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        loop.close()
        self.handler.released.set()
        self._loop = self._server = self._thread = None

    @property
    def messages(self) -> list[Received]:
        return self.handler.received
