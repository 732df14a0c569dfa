"""What `selftest` reports about the environment: the keyring backend, the frozen bundle."""

from __future__ import annotations

import sys

NO_KEYRING = "none found: passwords cannot be stored (install/unlock a Secret Service keyring)"


def keyring_backend() -> str:
    """The keyring backend in use, by module and class, or a clear 'none found'.

    A frozen app that is missing a backend's hidden imports silently falls back to
    `keyring.backends.fail`: this is how the selftest catches that.
    """
    try:
        import keyring
        from keyring.backends import chainer, fail
    except Exception as exc:  # a broken bundle must still produce a report
        return f"none found: keyring cannot be imported ({exc})"
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # KeyringError or a backend crashing while probing
        return f"none found: {type(exc).__name__}: {exc}"
    if isinstance(backend, fail.Keyring):
        return NO_KEYRING
    if isinstance(backend, chainer.ChainerBackend):
        inner = [b for b in backend.backends if not isinstance(b, fail.Keyring)]
        if not inner:
            return NO_KEYRING
        backend = inner[0]
    kind = type(backend)
    return f"{kind.__module__}.{kind.__name__}"


def frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def qt_report() -> dict[str, str]:
    """Qt plugins the bundle must carry: the platform in use, TLS backends, image formats.
    (Call with a QApplication running.)"""
    from PySide6.QtGui import QGuiApplication, QImageReader
    from PySide6.QtNetwork import QSslSocket

    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    return {
        "qt platform": QGuiApplication.platformName(),
        "tls backends": ", ".join(QSslSocket.availableBackends()) or "none",
        "image formats": ", ".join(sorted(formats & {"png", "svg", "jpg", "ico", "gif"})),
    }
