"""How mail leaves: transport (SMTP, a folder of .eml files, or not set up), sender, throttle.

Stored in the workspace settings, except the password, which lives in the keyring
(`core/credentials.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path

from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import ValidationError
from nurturedesk.core.settings import all_settings, set_setting
from nurturedesk.core.validation import clean_text, normalize_email

TRANSPORTS = ("none", "smtp", "file")
SECURITIES = ("starttls", "ssl", "none")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")

# Sending limits per minute / hour / day (None: no limit at that scale).
THROTTLE_PRESETS: dict[str, tuple[int | None, int | None, int | None]] = {
    "gmail": (20, None, 500),
    "google-workspace": (30, None, 2000),
    "microsoft-365": (30, None, 10000),
    "unlimited": (None, None, None),
}


@dataclass(frozen=True)
class Throttle:
    per_minute: int | None
    per_hour: int | None
    per_day: int | None
    preset: str = "custom"


@dataclass(frozen=True)
class MailConfig:
    transport: str
    host: str
    port: int
    security: str
    user: str
    from_name: str
    from_address: str
    file_dir: Path
    postal_address: str
    signature: str
    timezone: str
    cap_days: float
    stop_stages: tuple[str, ...]
    throttle: Throttle

    @property
    def from_header(self) -> Address:
        local, _, domain = self.from_address.rpartition("@")
        return Address(display_name=self.from_name, username=local, domain=domain)

    @property
    def ready(self) -> bool:
        if self.transport == "file":
            return bool(self.from_address)
        return self.transport == "smtp" and bool(self.host and self.from_address)


def default_file_dir(workspace: Workspace) -> Path:
    if workspace.path is not None:
        return workspace.path.with_name(workspace.path.stem + "-sent-mail")
    from nurturedesk.paths import user_data_dir

    return user_data_dir() / "sent-mail"


def load_config(workspace: Workspace) -> MailConfig:
    s = all_settings(workspace)
    preset = str(s["throttle_preset"])
    if preset in THROTTLE_PRESETS:
        minute, hour, day = THROTTLE_PRESETS[preset]
    else:
        preset = "custom"
        minute, hour, day = s["throttle_per_minute"], s["throttle_per_hour"], s["throttle_per_day"]
    return MailConfig(
        transport=str(s["mail_transport"]),
        host=str(s["smtp_host"]),
        port=int(s["smtp_port"]),
        security=str(s["smtp_security"]),
        user=str(s["smtp_user"]),
        from_name=str(s["mail_from_name"]),
        from_address=str(s["mail_from_address"]),
        file_dir=Path(s["mail_file_dir"]).expanduser()
        if s["mail_file_dir"]
        else default_file_dir(workspace),
        postal_address=str(s["mail_postal_address"]),
        signature=str(s["mail_signature"]),
        timezone=str(s["mail_timezone"]),
        cap_days=float(s["nurture_cap_days"]),
        stop_stages=tuple(s["nurture_stop_stages"] or ()),
        throttle=Throttle(minute, hour, day, preset),
    )


def parse_from(value: str) -> tuple[str, str]:
    """'Name <addr>' (or a bare address) -> (name, normalised address)."""
    name, addr = parseaddr(clean_text(value))
    if not addr:
        raise ValidationError("from", f"Cannot read a sender address in {value!r}.")
    return clean_text(name, 120), normalize_email(addr)


def configure_smtp(
    workspace: Workspace,
    *,
    host: str,
    port: int,
    security: str,
    user: str,
    from_: str,
) -> None:
    host = clean_text(host, 255).lower()
    if not host:
        raise ValidationError("host", "An SMTP host is required.")
    if security not in SECURITIES:
        raise ValidationError("security", f"Security must be one of {', '.join(SECURITIES)}.")
    if security == "none" and host not in LOCAL_HOSTS:
        raise ValidationError(
            "security",
            "Unencrypted SMTP is only allowed to this computer (localhost); "
            "use starttls or ssl for a real server.",
        )
    if not 0 < port < 65536:
        raise ValidationError("port", f"Port must be between 1 and 65535, not {port}.")
    name, address = parse_from(from_)
    values = {
        "mail_transport": "smtp",
        "smtp_host": host,
        "smtp_port": port,
        "smtp_security": security,
        "smtp_user": clean_text(user, 320),
        "mail_from_name": name,
        "mail_from_address": address,
    }
    for key, value in values.items():
        set_setting(workspace, key, value)


def configure_file_transport(workspace: Workspace, folder: str | Path, from_: str = "") -> None:
    """Write .eml files into `folder` instead of sending (the demo, or to look before sending)."""
    set_setting(workspace, "mail_transport", "file")
    set_setting(workspace, "mail_file_dir", str(Path(folder).expanduser()) if folder else "")
    if from_:
        name, address = parse_from(from_)
        set_setting(workspace, "mail_from_name", name)
        set_setting(workspace, "mail_from_address", address)


def set_throttle(
    workspace: Workspace,
    preset: str,
    per_minute: int | None = None,
    per_hour: int | None = None,
    per_day: int | None = None,
) -> None:
    if preset != "custom" and preset not in THROTTLE_PRESETS:
        choices = ", ".join([*THROTTLE_PRESETS, "custom"])
        raise ValidationError("throttle", f"Unknown preset {preset!r}; choose {choices}.")
    for value in (per_minute, per_hour, per_day):
        if value is not None and value < 1:
            raise ValidationError("throttle", "A limit must be 1 or more (or none).")
    set_setting(workspace, "throttle_preset", preset)
    if preset == "custom":
        set_setting(workspace, "throttle_per_minute", per_minute)
        set_setting(workspace, "throttle_per_hour", per_hour)
        set_setting(workspace, "throttle_per_day", per_day)
