"""One window per workspace: a second launch on the same workspace brings the first forward.

The first process takes a QLockFile (stale locks of crashed processes are detected by Qt
from the pid) and listens on a QLocalServer; a later process finds the lock taken, connects
to the server, asks it to show its window, and exits. The lock decides who is first, so
two launches at the same moment cannot both become servers (a bare QLocalServer would let
the second remove the first's socket).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from nurturedesk.core.errors import UserError

log = logging.getLogger(__name__)

ACTIVATE = b"activate\n"
CONNECT_TIMEOUT_MS = 2000


def instance_key(workspace_path: Path) -> str:
    """A name for the server, per user and workspace (short: Unix socket paths are limited)."""
    resolved = str(Path(workspace_path).expanduser().resolve())
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "")
    return "nurturedesk-" + hashlib.sha256(f"{user}:{resolved}".encode()).hexdigest()[:20]


class SingleInstance(QObject):
    """Held by the first process on a workspace; emits `activateRequested` for later ones."""

    activateRequested = Signal()

    def __init__(self, key: str, lock: QLockFile) -> None:
        super().__init__()
        self.key = key
        self._lock = lock
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        QLocalServer.removeServer(key)  # a socket left by a crashed first instance
        if not self._server.listen(key):
            log.warning("single instance: cannot listen on %s: %s", key, self._server.errorString())
        self._server.newConnection.connect(self._on_connection)

    def _on_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._on_message(s))
            socket.disconnected.connect(socket.deleteLater)

    def _on_message(self, socket: QLocalSocket) -> None:
        data = bytes(socket.readAll().data())
        if ACTIVATE.strip() in data:
            self.activateRequested.emit()
        socket.disconnectFromServer()

    def release(self) -> None:
        self._server.close()
        self._lock.unlock()


def lock_path_for(key: str) -> Path:
    return Path(tempfile.gettempdir()) / f"{key}.lock"


def claim(workspace_path: Path) -> SingleInstance | None:
    """Become the instance for this workspace, or ask the running one to show itself.

    Returns None when another process has the workspace open (it was told to come forward).
    """
    key = instance_key(workspace_path)
    lock = QLockFile(str(lock_path_for(key)))
    lock.setStaleLockTime(0)  # stale only if its process is gone, never by age
    if lock.tryLock(0):
        return SingleInstance(key, lock)
    if activate_running(key):
        return None
    # A lock whose owner does not answer: give it a moment (it may be starting), then
    # check once more whether it is stale (its process is gone).
    if lock.tryLock(CONNECT_TIMEOUT_MS) or (lock.removeStaleLockFile() and lock.tryLock(0)):
        return SingleInstance(key, lock)
    if activate_running(key):
        return None
    info = lock.getLockInfo()  # (pid, host, app); pid 0 when unreadable
    who = f"process {info[0]} on {info[1]}" if info and info[0] else "another process"
    raise UserError(
        f"NurtureDesk already has {Path(workspace_path).name} open ({who}) but does not "
        "answer. Close it (or end that process) and start again."
    )


def activate_running(key: str) -> bool:
    socket = QLocalSocket()
    socket.connectToServer(key)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write(ACTIVATE)
    socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
    socket.waitForDisconnected(CONNECT_TIMEOUT_MS)
    return True
