"""Fixtures for the nurture-sending tests; import them into a test module by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from nurturedesk.core import credentials
from nurturedesk.core.db import Workspace
from nurturedesk.core.leads import LeadData, add_lead
from nurturedesk.core.mailconfig import configure_smtp, set_throttle
from nurturedesk.core.settings import set_setting
from tests.integration.smtp_server import PASSWORD, USER, SmtpServer

KEYRING_BACKEND = "keyrings.alt.file.PlaintextKeyring"


@pytest.fixture
def test_keyring(isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An isolated file keyring under the test's own XDG_DATA_HOME (never the user's)."""
    previous = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", KEYRING_BACKEND)  # for subprocesses
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def smtp_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path).start()
    # The client trusts the test CA (and only it) through OpenSSL's standard variable.
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    yield server
    server.stop()


@pytest.fixture
def smtp_workspace(workspace: Workspace, smtp_server: SmtpServer, test_keyring: None) -> Workspace:
    """A workspace that sends to the test server, password in the isolated keyring."""
    configure_smtp(
        workspace,
        host="localhost",
        port=smtp_server.port,
        security="starttls",
        user=USER,
        from_="Alex Sender <alex@example.com>",
    )
    set_setting(workspace, "mail_timezone", "UTC")
    set_setting(workspace, "mail_postal_address", "1 Main Street, Springfield")
    set_throttle(workspace, "unlimited")
    credentials.store_password(USER, "localhost", PASSWORD)
    return workspace


def add_leads(workspace: Workspace, count: int, stage_id: int | None = None) -> list[int]:
    return [
        add_lead(
            workspace,
            LeadData(email=f"lead{i}@example.org", first_name=f"Lead{i}", company="Acme"),
            stage_id,
        ).id
        for i in range(count)
    ]
