"""Building a message and handing it to a transport: SMTP (smtplib) or a folder of .eml files.

A transport raises one of four errors so the outbox can decide what a failure means:
- `SetupError`: nothing was sent and retrying will not help until the user fixes something
  (wrong password, certificate, no STARTTLS): the messages stay queued.
- `TransientError`: a 4xx reply, a refused/dropped connection or a timeout before the message
  was handed over: retried later with backoff.
- `PermanentError`: a 5xx reply; `recipient=True` when the address itself was refused (a hard
  bounce, suppressed from then on).
- `UncertainError`: the connection broke after the message data was sent but before the
  server answered: it may have been delivered, so it is never re-sent blindly.

Headers are built with the email package's header objects from cleaned values: no lead field
or template can add a header (CR/LF are removed before, and the policy refuses them anyway).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import smtplib
import socket
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP as _SMTP
from email.policy import SMTPUTF8 as _SMTPUTF8
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

from nurturedesk.core.credentials import load_password
from nurturedesk.core.errors import UserError
from nurturedesk.core.mailconfig import LOCAL_HOSTS, MailConfig
from nurturedesk.core.validation import clean_text

TIMEOUT_SECONDS = 30


class _CachedHeaderRegistry(HeaderRegistry):
    """The stock registry builds a new header class for every header of every message, which
    was a quarter of the time to build one; the classes depend on the name only."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


_REGISTRY = _CachedHeaderRegistry()
SMTP_POLICY = _SMTP.clone(header_factory=_REGISTRY)
SMTPUTF8_POLICY = _SMTPUTF8.clone(header_factory=_REGISTRY)


class SendError(Exception):
    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class SetupError(SendError, UserError):
    pass


class TransientError(SendError):
    pass


class PermanentError(SendError):
    def __init__(self, message: str, code: int, recipient: bool = False) -> None:
        super().__init__(message, code)
        self.recipient = recipient


class UncertainError(SendError):
    pass


@dataclass(frozen=True)
class Outgoing:
    """Everything needed to build one message (plain data: crosses threads freely)."""

    to_address: str
    to_name: str
    subject: str
    text: str
    html: str
    message_id: str
    unsubscribe: str = ""
    date: datetime | None = None


def _address(name: str, addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=clean_text(name, 200), username=local, domain=domain)


def needs_smtputf8(*addresses: str) -> bool:
    return not all(a.isascii() for a in addresses)


def build_message(cfg: MailConfig, mail: Outgoing) -> EmailMessage:
    # A non-ASCII address (e.g. garcía@…) cannot be encoded in a header: such messages are
    # written in UTF-8 and sent with SMTPUTF8 (RFC 6531).
    utf8 = needs_smtputf8(mail.to_address, cfg.from_address)
    msg = EmailMessage(policy=SMTPUTF8_POLICY if utf8 else SMTP_POLICY)
    msg["From"] = _address(cfg.from_name, cfg.from_address)
    msg["To"] = _address(mail.to_name, clean_text(mail.to_address, 320))
    msg["Subject"] = clean_text(mail.subject, 400)
    when = (mail.date or datetime.now(UTC).replace(tzinfo=None)).replace(tzinfo=UTC)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = clean_text(mail.message_id, 250)
    if mail.unsubscribe:
        msg["List-Unsubscribe"] = f"<{clean_text(mail.unsubscribe, 500)}>"
    msg.set_content(mail.text, charset="utf-8")
    if mail.html:
        msg.add_alternative(mail.html, subtype="html", charset="utf-8")
    return msg


class Transport(Protocol):
    def open(self) -> None: ...

    def send(self, msg: EmailMessage, sender: str, recipient: str, name: str) -> None: ...

    def close(self) -> None: ...


def _reply_text(resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return clean_text(text, 300)


class SmtpTransport:
    """One connection for a whole batch; `send` per message, phases tracked for certainty."""

    def __init__(self, cfg: MailConfig, password: str | None = None) -> None:
        self.cfg = cfg
        self._password = password
        self._smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        cfg = self.cfg
        where = f"{cfg.host}:{cfg.port}"
        if cfg.security == "none" and cfg.host not in LOCAL_HOSTS:
            raise SetupError("Unencrypted SMTP is only allowed to localhost.")
        password = None
        if cfg.user:
            password = (
                self._password if self._password is not None else load_password(cfg.user, cfg.host)
            )
        context = ssl.create_default_context()
        try:
            if cfg.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=TIMEOUT_SECONDS, context=context
                )
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=TIMEOUT_SECONDS)
            self._smtp = smtp
            smtp.ehlo()
            if cfg.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise SetupError(
                        f"{where} does not offer STARTTLS; choose ssl or another port."
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if cfg.user:
                assert password is not None
                _login(smtp, cfg.user, password)
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            raise SetupError(
                f"{where} refused the user name or password ({exc.smtp_code} "
                f"{_reply_text(exc.smtp_error)}). Check them in the sending settings.",
                exc.smtp_code,
            ) from None
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise SetupError(
                f"The certificate of {where} could not be verified ({exc.verify_message})."
            ) from None
        except ssl.SSLError as exc:
            self.close()
            raise SetupError(
                f"Secure connection to {where} failed ({exc.reason}); "
                "check the port and security setting."
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            self.close()
            raise SetupError(f"{where}: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            if 400 <= exc.smtp_code < 500:
                raise TransientError(
                    f"{where} is busy ({exc.smtp_code} {_reply_text(exc.smtp_error)}).",
                    exc.smtp_code,
                ) from None
            raise SetupError(
                f"{where} refused the session ({exc.smtp_code} {_reply_text(exc.smtp_error)}).",
                exc.smtp_code,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TransientError(f"Cannot reach {where}: {_os_reason(exc)}.") from None

    def send(self, msg: EmailMessage, sender: str, recipient: str, name: str = "") -> None:
        smtp = self._smtp
        if smtp is None:
            raise TransientError("Not connected.")
        payload = msg.as_bytes(policy=msg.policy)
        options: list[str] = []
        if needs_smtputf8(sender, recipient):
            if not smtp.has_extn("smtputf8"):
                raise PermanentError(
                    f"The server cannot send to the non-ASCII address {recipient} (no SMTPUTF8).",
                    0,
                )
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        try:
            code, resp = smtp.mail(sender, options)
            if code != 250:
                self._rset()
                self._refused(code, resp, "the sender address")
            code, resp = smtp.rcpt(recipient)
            if code not in (250, 251):
                self._rset()
                self._refused(code, resp, recipient, recipient_refused=True)
            code, resp = smtp.docmd("DATA")
            if code != 354:
                self._rset()
                self._refused(code, resp, "the message")
        except SendError:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TransientError(f"Connection lost: {_os_reason(exc)}.") from None
        # From here the server may have the message: a broken connection is "uncertain".
        try:
            data = re.sub(rb"(?m)^\.", b"..", payload)
            if not data.endswith(b"\r\n"):
                data += b"\r\n"
            smtp.send(data + b".\r\n")
            code, resp = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise UncertainError(
                f"The connection broke after the message was handed over ({_os_reason(exc)}); "
                "it may or may not have been delivered."
            ) from None
        if code != 250:
            self._refused(code, resp, "the message")

    def _refused(
        self, code: int, resp: bytes, what: str, *, recipient_refused: bool = False
    ) -> None:
        text = f"{code} {_reply_text(resp)}"
        if 400 <= code < 500:
            raise TransientError(f"Server deferred {what}: {text}", code)
        raise PermanentError(f"Server refused {what}: {text}", code, recipient=recipient_refused)

    def _rset(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.rset()

    @property
    def connected(self) -> bool:
        return self._smtp is not None

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                with contextlib.suppress(OSError):
                    smtp.close()


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """smtplib.login, except that a non-ASCII user or password goes as UTF-8 AUTH PLAIN
    (RFC 4616); smtplib would fail on it with an encoding error."""
    if user.isascii() and password.isascii():
        smtp.login(user, password)
        return
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        raise SetupError(
            "The server does not offer AUTH PLAIN, needed for a password with non-ASCII characters."
        )
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
    code, resp = smtp.docmd("AUTH", f"PLAIN {token}")
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, resp)


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, is the port right?)"
    if isinstance(exc, socket.gaierror):
        return "unknown host name"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    return clean_text(str(exc) or type(exc).__name__, 200)


def eml_stem(name: str) -> str:
    """The file name (without `.eml`, or `-2.eml` for a resend) a message is written under."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120]


def eml_files(folder: Path, name: str) -> list[Path]:
    """The files FileTransport wrote for the message sent under `name` (resends included)."""
    stem = eml_stem(name)
    resends = re.compile(re.escape(stem) + r"-\d+\.eml")
    return [
        path
        for path in folder.glob(f"{stem}*.eml")
        if path.name == f"{stem}.eml" or resends.fullmatch(path.name)
    ]


class FileTransport:
    """Writes each message as an .eml file into a folder (the demo, or a look before sending)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SetupError(
                f"Cannot create the mail folder {self.folder}: {exc.strerror}."
            ) from None

    def send(self, msg: EmailMessage, sender: str, recipient: str, name: str = "") -> None:
        safe = eml_stem(name or recipient)
        target = self.folder / f"{safe}.eml"
        n = 1
        while target.exists():  # a resend keeps the earlier file: nothing is overwritten
            n += 1
            target = self.folder / f"{safe}-{n}.eml"
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(msg.as_bytes(policy=msg.policy))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)  # atomic: a file is there whole or not at all
        except OSError as exc:
            raise TransientError(f"Cannot write {target}: {exc.strerror}.") from None

    def close(self) -> None:
        pass


def make_transport(cfg: MailConfig) -> Transport:
    if cfg.transport == "file":
        return FileTransport(cfg.file_dir)
    if cfg.transport == "smtp":
        return SmtpTransport(cfg)
    raise SetupError(
        "Sending is not set up yet: configure SMTP (`nurturedesk smtp set`) or a folder for "
        ".eml files."
    )


def send_test_email(cfg: MailConfig, to: str, password: str | None = None) -> str:
    """Send one test message right now (not through the outbox); returns a one-line result."""
    from email.utils import make_msgid

    from nurturedesk.core.validation import normalize_email

    address = normalize_email(to)
    domain = cfg.from_address.rpartition("@")[2] or "nurturedesk.invalid"
    mail = Outgoing(
        to_address=address,
        to_name="",
        subject="NurtureDesk test email",
        text="This is a test from NurtureDesk: your sending settings work.\n",
        html="<p>This is a test from NurtureDesk: your sending settings work.</p>",
        message_id=make_msgid(domain=domain),
    )
    transport: Transport = (
        SmtpTransport(cfg, password) if cfg.transport == "smtp" else make_transport(cfg)
    )
    transport.open()
    try:
        transport.send(build_message(cfg, mail), cfg.from_address, address, "test")
    except SendError as exc:
        raise UserError(f"The test email was not sent: {exc}") from None
    finally:
        transport.close()
    if cfg.transport == "file":
        return f"Test email written to {cfg.file_dir}."
    return f"Test email sent to {address} via {cfg.host}:{cfg.port}."
