"""Sending settings: SMTP server, sender, footer, throttle; password into the keyring;
"Send test email" runs off the GUI thread."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core import credentials, mailconfig
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError
from nurturedesk.core.mailer import send_test_email
from nurturedesk.core.settings import set_setting
from nurturedesk.ui.worker import Background, named

SECURITY_LABELS = {"starttls": "STARTTLS", "ssl": "SSL/TLS", "none": "None (localhost only)"}
TRANSPORT_LABELS = {
    "smtp": "Send through my SMTP server",
    "file": "Write .eml files into a folder (no sending)",
    "none": "Not set up (nothing is sent)",
}


class SmtpDialog(QDialog):
    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sending settings")
        self.workspace = workspace
        self.worker = Background(self)
        cfg = mailconfig.load_config(workspace)
        form = QFormLayout()
        self.transport = named(QComboBox(), "transport")
        for key, label in TRANSPORT_LABELS.items():
            self.transport.addItem(label, key)
        self.transport.setCurrentIndex(self.transport.findData(cfg.transport))
        self.host = named(QLineEdit(cfg.host), "host")
        self.port = named(QSpinBox(), "port")
        self.port.setRange(1, 65535)
        self.port.setValue(cfg.port)
        self.security = named(QComboBox(), "security")
        for key, label in SECURITY_LABELS.items():
            self.security.addItem(label, key)
        self.security.setCurrentIndex(self.security.findData(cfg.security))
        self.user = named(QLineEdit(cfg.user), "user")
        self.password = named(QLineEdit(), "password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        stored = bool(cfg.user) and credentials.has_password(cfg.user, cfg.host)
        self.password.setPlaceholderText(
            "stored in the system keyring" if stored else "not stored yet"
        )
        self.from_ = named(QLineEdit(str(cfg.from_header) if cfg.from_address else ""), "from")
        self.from_.setPlaceholderText("Your Name <you@example.com>")
        self.folder = named(
            QLineEdit(str(cfg.file_dir) if cfg.transport == "file" else ""), "folder"
        )
        self.postal = named(QPlainTextEdit(cfg.postal_address), "postal")
        self.postal.setFixedHeight(60)
        self.signature = named(QLineEdit(cfg.signature), "signature")
        self.throttle = named(QComboBox(), "throttle")
        for key in [*mailconfig.THROTTLE_PRESETS, "custom"]:
            self.throttle.addItem(key, key)
        self.throttle.setCurrentIndex(self.throttle.findData(cfg.throttle.preset))
        for label, widget in (
            ("Sending", self.transport),
            ("SMTP host", self.host),
            ("Port", self.port),
            ("Security", self.security),
            ("User", self.user),
            ("Password", self.password),
            ("From", self.from_),
            ("Folder for .eml", self.folder),
            ("Postal address (footer)", self.postal),
            ("Signature", self.signature),
            ("Throttle", self.throttle),
        ):
            form.addRow(label, widget)
        self.message = named(QLabel(), "message")
        self.message.setWordWrap(True)
        self.test_to = named(QLineEdit(), "testTo")
        self.test_to.setPlaceholderText("send a test to…")
        self.test_button = named(QPushButton("Send test email"), "sendTest")
        self.test_button.clicked.connect(self.send_test)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_to)
        test_row.addWidget(self.test_button)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save_and_close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(test_row)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

    def _say(self, text: str, ok: bool = False) -> None:
        self.message.setStyleSheet("color: #2e7d32" if ok else "color: #c62828")
        self.message.setText(text)

    def save(self) -> bool:
        """Store the settings (password into the keyring). False, with the reason shown."""
        ws = self.workspace
        transport = self.transport.currentData()
        try:
            if transport == "smtp":
                mailconfig.configure_smtp(
                    ws,
                    host=self.host.text(),
                    port=self.port.value(),
                    security=self.security.currentData(),
                    user=self.user.text(),
                    from_=self.from_.text(),
                )
                if self.password.text():
                    credentials.store_password(
                        self.user.text().strip(),
                        self.host.text().strip().lower(),
                        self.password.text(),
                    )
                    self.password.clear()
                    self.password.setPlaceholderText("stored in the system keyring")
            elif transport == "file":
                mailconfig.configure_file_transport(ws, self.folder.text(), self.from_.text())
            else:
                set_setting(ws, "mail_transport", "none")
            set_setting(ws, "mail_postal_address", self.postal.toPlainText().strip())
            set_setting(ws, "mail_signature", self.signature.text().strip())
            preset = self.throttle.currentData()
            if preset != "custom":
                mailconfig.set_throttle(ws, preset)
        except UserError as exc:
            # The rest is saved; a keyring problem says what to do and nothing else breaks.
            self._say(str(exc))
            return False
        return True

    def save_and_close(self) -> None:
        if self.save():
            self.accept()

    def send_test(self) -> None:
        if not self.save():
            return
        cfg = mailconfig.load_config(self.workspace)
        if not cfg.ready:
            self._say("Choose how to send and fill in the sender first.")
            return
        to = self.test_to.text().strip() or cfg.from_address
        self.test_button.setEnabled(False)
        self._say("Sending…", ok=True)

        def done(text: object) -> None:
            self.test_button.setEnabled(True)
            self._say(str(text), ok=True)

        def failed(exc: BaseException) -> None:
            self.test_button.setEnabled(True)
            self._say(str(exc) if isinstance(exc, UserError) else f"Unexpected error: {exc!r}")

        self.worker.run(lambda: send_test_email(cfg, to), done, failed)
