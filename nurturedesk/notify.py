"""Desktop notifications through the freedesktop Notifications D-Bus service (no Qt).

Talks to `org.freedesktop.Notifications` with jeepney: `Notify` with its explicit
`susssasa{sv}i` signature, and the `ActionInvoked` signal (the user clicked the
notification) on the same connection, since some servers send it only to the sender.

Anything that goes wrong (no session bus, no notification daemon, a daemon that hangs)
becomes `NotificationUnavailable` with a reason: the caller falls back (the GUI shows an
in-app banner, a headless run logs), never a crash.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nurturedesk.core.release import Notice

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
NOTIFY_SIGNATURE = "susssasa{sv}i"
DEFAULT_ACTION = "default"  # the action most servers run on a click on the bubble


class NotificationUnavailable(Exception):
    """No notification service to talk to; `str()` says why."""


ActionCallback = Callable[[int, str], None]


class DesktopNotifier:
    """One connection to the session bus, opened on first use and re-opened after a failure.

    `on_action(notification_id, action_key)` is called from a background thread when the
    user clicks a notification this notifier sent.
    """

    def __init__(
        self,
        app_name: str = "NurtureDesk",
        *,
        bus: str = "SESSION",
        timeout: float = 3.0,
        on_action: ActionCallback | None = None,
    ) -> None:
        self.app_name = app_name
        self.bus = bus
        self.timeout = timeout
        self.on_action = on_action
        self._lock = threading.Lock()
        self._conn: Any = None
        self._router: Any = None
        self._actions: queue.Queue[Any] = queue.Queue(maxsize=100)
        self._filter: Any = None
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._address: str | None = None

    def _open(self) -> Any:
        from jeepney import MatchRule
        from jeepney.bus_messages import message_bus
        from jeepney.io.threading import DBusRouter, open_dbus_connection
        from jeepney.wrappers import unwrap_msg

        if self._router is not None:
            return self._router
        try:
            conn = open_dbus_connection(self.bus)
        except KeyError as exc:
            raise NotificationUnavailable(
                "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)"
            ) from exc
        except (OSError, ValueError, TimeoutError) as exc:
            raise NotificationUnavailable(f"cannot reach the D-Bus session bus: {exc}") from exc
        router = DBusRouter(conn)
        if self.on_action is not None:
            rule = MatchRule(
                type="signal", interface=BUS_NAME, member="ActionInvoked", path=OBJECT_PATH
            )
            self._filter = router.filter(rule, queue=self._actions)
            try:
                unwrap_msg(
                    router.send_and_get_reply(message_bus.AddMatch(rule), timeout=self.timeout)
                )
            except Exception as exc:
                router.close()
                conn.close()
                raise NotificationUnavailable(f"cannot listen for clicks: {exc}") from exc
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name="notification-actions", daemon=True
                )
                self._listener.start()
        self._conn, self._router = conn, router
        self._address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        return router

    def _reset(self) -> None:
        router, conn, self._router, self._conn = self._router, self._conn, None, None
        with contextlib.suppress(Exception):
            if self._filter is not None:
                self._filter.close()
        self._filter = None
        with contextlib.suppress(Exception):
            if router is not None:
                router.close()
        with contextlib.suppress(Exception):
            if conn is not None:
                conn.close()

    def notify(
        self,
        summary: str,
        body: str = "",
        *,
        actions: Sequence[tuple[str, str]] = ((DEFAULT_ACTION, "Open"),),
        urgency: int = 1,
        expire_ms: int = -1,
        replaces_id: int = 0,
    ) -> int:
        """Show a notification; returns the id the server gave it."""
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg

        address = DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=BUS_NAME)
        flat_actions = [part for key, label in actions for part in (key, label)]
        hints = {"urgency": ("y", urgency), "desktop-entry": ("s", "nurturedesk")}
        message = new_method_call(
            address,
            "Notify",
            NOTIFY_SIGNATURE,
            (self.app_name, replaces_id, "", summary, body, flat_actions, hints, expire_ms),
        )
        with self._lock:
            # A connection kept from earlier may have died with its bus (logout, restart):
            # then one fresh attempt before giving up.
            attempts = 2 if self._router is not None else 1
            if self._router is not None and self._bus_changed():
                self._reset()
            for attempt in range(attempts):
                router = self._open()
                try:
                    reply = unwrap_msg(router.send_and_get_reply(message, timeout=self.timeout))
                    return int(reply[0])
                except DBusErrorResponse as exc:
                    # e.g. ServiceUnknown: nothing owns org.freedesktop.Notifications.
                    self._reset()
                    raise NotificationUnavailable(f"no notification service: {exc.name}") from exc
                except Exception as exc:  # timeout, connection lost
                    self._reset()
                    if attempt + 1 == attempts:
                        raise NotificationUnavailable(
                            f"the notification service did not answer: {exc!r}"
                        ) from exc
        raise NotificationUnavailable("no notification service")

    def _bus_changed(self) -> bool:
        return self.bus == "SESSION" and os.environ.get("DBUS_SESSION_BUS_ADDRESS") != self._address

    def available(self) -> bool:
        """Whether a notification service answers (asks it for its name)."""
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import unwrap_msg

        address = DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=BUS_NAME)
        try:
            with self._lock:
                router = self._open()
                unwrap_msg(
                    router.send_and_get_reply(
                        new_method_call(address, "GetServerInformation"), timeout=self.timeout
                    )
                )
            return True
        except Exception:
            with self._lock:
                self._reset()
            return False

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._actions.get(timeout=0.2)
            except queue.Empty:
                continue
            callback = self.on_action
            if callback is None:
                continue
            try:
                notification_id, action_key = msg.body
                callback(int(notification_id), str(action_key))
            except Exception:
                log.exception("notification click handler failed")

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._reset()
        if self._listener is not None:
            self._listener.join(timeout=2)
            self._listener = None


def notice_text(notices: Sequence[Notice]) -> tuple[str, str]:
    """Summary and body for one notification about one or many notices."""
    if len(notices) == 1:
        n = notices[0]
        body = f"Grade {n.grade}" if n.grade else ""
        return n.message, body
    ready = sum(1 for n in notices if n.kind == "sales_ready")
    overdue = len(notices) - ready
    parts = []
    if ready:
        parts.append(f"{ready} leads are sales-ready")
    if overdue:
        parts.append(f"{overdue} follow-ups are overdue")
    lines = [n.message for n in notices[:5]]
    if len(notices) > 5:
        lines.append(f"... and {len(notices) - 5} more")
    return ", ".join(parts), "\n".join(lines)


def desktop_sink(notices: Sequence[Notice]) -> str:
    """The headless notice sink: one desktop notification, or a log line without a service.

    Several notices at once (a rule change, a big import) make one summary notification.
    A connection per delivery: notices are rare, and nothing is left holding a dead bus.
    """
    summary, body = notice_text(notices)
    notifier = DesktopNotifier()
    try:
        notifier.notify(summary, body, actions=())
        return "desktop"
    except NotificationUnavailable as exc:
        log.warning("no desktop notification (%s): %s", exc, summary)
        return "log"
    finally:
        notifier.close()
