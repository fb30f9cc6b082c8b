"""Process measurements for the benchmarks: RSS (this process, with its children), peak RSS reset, and the
CPU seconds PostgreSQL's processes used (Linux /proc; zeros elsewhere)."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def status_kib(key: str, pid: int | str = "self") -> int:
    """A /proc/<pid>/status figure in KiB (VmRSS, VmHWM); 0 where there is none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """The child processes of `pid`, recursively (the rescore's worker processes)."""
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in listing.read_text().split()]
        except OSError:
            continue
    return found + [g for c in found for g in children(c)]


class RssSampler(threading.Thread):
    """Every `interval` seconds until stop(): the highest VmRSS of this process, and of it with its children."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval, self._done = interval, threading.Event()
        self.peak_kib = self.tree_peak_kib = status_kib("VmRSS")

    def run(self) -> None:
        while not self._done.wait(self.interval):
            own = status_kib("VmRSS")
            tree = own + sum(status_kib("VmRSS", c) for c in children(os.getpid()))
            self.peak_kib, self.tree_peak_kib = max(self.peak_kib, own), max(self.tree_peak_kib, tree)

    def stop(self) -> tuple[int, int]:
        """Stop sampling; the peaks in KiB (this process, with its children)."""
        self._done.set()
        self.join()
        return self.peak_kib, self.tree_peak_kib


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux: clear_refs 5); False when not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def postgres_cpu_seconds() -> float:
    """User + system CPU seconds of every running `postgres` process on this machine (server and backends)."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in raw[:40]:
            parts = raw.rsplit(")", 1)[1].split()
            total += int(parts[11]) + int(parts[12])
    return total / tick


def machine_busy_seconds() -> float:
    """CPU seconds every process on this machine has used since boot (all cores; /proc/stat)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
