"""Debian's Chromium as the browser tests and ``scripts/screenshots.py`` launch it: headless,
as root (no sandbox), and quiet on a machine without outside network (no background requests,
no component updates, no sync)."""

import os
import shutil

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_launch(playwright, executable_path: str = CHROMIUM):
    return playwright.chromium.launch(
        executable_path=executable_path, headless=True, args=CHROMIUM_ARGS
    )
