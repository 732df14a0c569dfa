"""Command line: the GUI by default, and scriptable subcommands over the same core services.

Exit status: 0 success; 1 a problem the user can fix (one line on stderr); 2 a usage error;
130 interrupted (Ctrl+C: one line on stderr; the transaction under way is rolled back).
Each `nurturedesk.commands.*` module registers its subcommands with `register(cli)`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from nurturedesk import __version__
from nurturedesk.core.errors import UserError
from nurturedesk.paths import WORKSPACE_ENV, default_workspace_path

# Modules whose `register(cli)` adds subcommands; one per concept.
COMMAND_MODULES = [
    "nurturedesk.commands.workspace",
    "nurturedesk.commands.leads",
    "nurturedesk.commands.stages",
    "nurturedesk.commands.smtp",
    "nurturedesk.commands.templates",
    "nurturedesk.commands.sequences",
    "nurturedesk.commands.outbox",
    "nurturedesk.commands.mailing",
    "nurturedesk.commands.scoring",
    "nurturedesk.commands.transfer",
    "nurturedesk.commands.segments",
    "nurturedesk.commands.privacy",
    "nurturedesk.commands.bulk",
    "nurturedesk.commands.backups",
    "nurturedesk.commands.sender",
]


log = logging.getLogger(__name__)


class Interrupted(KeyboardInterrupt):
    """Ctrl+C, with what it means for the command under way (the message shown)."""


def interrupted(exc: BaseException | None) -> bool:
    """Ctrl+C, or an error raised while unwinding from it. (SQLAlchemy closes the database
    connection a KeyboardInterrupt hits, which rolls its transaction back; cleanup that
    touches the connection afterwards, like the importer putting its page cache back, then
    fails with "Cannot operate on a closed database", hiding the interrupt.)"""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__context__
    return False


@contextlib.contextmanager
def on_interrupt(message: str) -> Iterator[None]:
    """Ctrl+C inside the block ends the command with `message` (exit 130)."""
    try:
        yield
    except BaseException as exc:
        if not interrupted(exc):
            raise
        raise Interrupted(message) from exc


class Context:
    """What a command gets: its arguments and, opened on first use, the workspace."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._workspace: Any = None

    @property
    def workspace_path(self) -> Path:
        given = getattr(self.args, "workspace", None)
        return Path(given).expanduser() if given else default_workspace_path()

    @property
    def workspace_given(self) -> bool:
        """Whether the user named the workspace (--workspace or $NURTUREDESK_WORKSPACE)."""
        return bool(getattr(self.args, "workspace", None) or os.environ.get(WORKSPACE_ENV))

    def workspace(self, *, create_folders: bool = False) -> Any:
        """The workspace, opened (a new one created) on first use. A missing folder is made
        for the default workspace (the first run) or when the command asks (`demo` sets one
        up), not for a path the user typed: a typo would make folders in silence."""
        if self._workspace is None:
            from nurturedesk.core.db import open_workspace
            from nurturedesk.core.errors import DamagedWorkspaceError

            try:
                self._workspace = open_workspace(
                    self.workspace_path,
                    create_folders=create_folders or not self.workspace_given,
                )
            except DamagedWorkspaceError as exc:
                from nurturedesk.core.backups import damaged_workspace_advice

                raise DamagedWorkspaceError(
                    f"{exc} {damaged_workspace_advice(self.workspace_path)}", exc.path
                ) from exc
        return self._workspace

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()

    @staticmethod
    def print_json(value: Any) -> None:
        print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


Handler = Callable[[Context], int | None]


class CommandLine:
    def __init__(self) -> None:
        self.parser = argparse.ArgumentParser(
            prog="nurturedesk",
            description="NurtureDesk: nurture leads until they are ready to buy.",
        )
        self.common = argparse.ArgumentParser(add_help=False)
        self.common.add_argument(
            "--workspace",
            "-w",
            metavar="PATH",
            default=argparse.SUPPRESS,
            help="workspace file (default: $NURTUREDESK_WORKSPACE or the user data dir)",
        )
        self.common.add_argument(
            "--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="log more"
        )
        self.parser.add_argument(
            "--version", action="version", version=f"nurturedesk {__version__}"
        )
        for action in self.common._actions:
            if action.option_strings and action.dest != "help":
                self.parser._add_action(action)
        self.commands = self.parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction[Any]] = {}

    def command(
        self, name: str, handler: Handler, help: str, group: str | None = None
    ) -> argparse.ArgumentParser:
        """Add `nurturedesk [GROUP] NAME`; returns its parser for the arguments."""
        parent = self._groups[group] if group else self.commands
        parser = parent.add_parser(name, help=help, description=help, parents=[self.common])
        parser.set_defaults(handler=handler)
        return parser

    def group(self, name: str, help: str) -> None:
        """A command with subcommands (`lead add`, `lead list`, ...); safe to call twice."""
        if name in self._groups:
            return
        parser = self.commands.add_parser(name, help=help, description=help)
        self._groups[name] = parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
        parser.set_defaults(handler=lambda ctx, p=parser: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: choose a command", file=sys.stderr)
    return 2


def build_cli() -> CommandLine:
    cli = CommandLine()
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(cli)
    return cli


def configure_logging(verbose: bool) -> None:
    from nurturedesk.crash import install_crash_handler
    from nurturedesk.logs import setup_logging

    setup_logging(verbose=verbose)
    install_crash_handler()  # bugs: logged (secrets scrubbed); the GUI adds its dialog


def main(argv: Sequence[str] | None = None) -> int:
    cli = build_cli()
    args = cli.parser.parse_args(argv)
    configure_logging(getattr(args, "verbose", False))
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:  # no subcommand: the GUI
        from nurturedesk.commands.workspace import run_gui

        handler = run_gui  # (`nurturedesk --demo` keeps its --demo: scripts/demo relies on it)
    ctx = Context(args)
    try:
        return int(handler(ctx) or 0)
    except BaseException as exc:
        if interrupted(exc):  # first: an error it caused is not the story
            log.info("interrupted", exc_info=exc)
            message = str(exc) if isinstance(exc, Interrupted) else "Interrupted."
            print(f"nurturedesk: {message}", file=sys.stderr)
            return 130
        if isinstance(exc, UserError):
            print(f"nurturedesk: {exc}", file=sys.stderr)
            return 1
        if isinstance(exc, BrokenPipeError):
            return 0
        raise
    finally:
        ctx.close()
        logging.shutdown()
