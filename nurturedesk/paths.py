"""Where things live on disk: resources shipped with the app, and the user's data dirs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "NurtureDesk"
APP_AUTHOR = "NurtureDesk"
WORKSPACE_ENV = "NURTUREDESK_WORKSPACE"


def resource_dir() -> Path:
    """The `resources/` folder: beside the package from source, inside the bundle when frozen."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def user_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))


def default_workspace_path() -> Path:
    """`NURTUREDESK_WORKSPACE` if set, else `workspace.sqlite` in the user data dir."""
    env = os.environ.get(WORKSPACE_ENV)
    if env:
        return Path(env).expanduser()
    return user_data_dir() / "workspace.sqlite"
