"""Crash points for the crash-recovery tests: the process dies where QUALIFY_CRASH_AT names.

Only the end-to-end tests set QUALIFY_CRASH_AT, in a worker subprocess they then restart; in any
other process the variable is unset and crash_point() does nothing.
"""

from __future__ import annotations

import os


def crash_point(name: str) -> None:
    """Exit the process at once (no cleanup, like a kill) if QUALIFY_CRASH_AT equals `name`."""
    if os.environ.get("QUALIFY_CRASH_AT") == name:
        os._exit(137)
