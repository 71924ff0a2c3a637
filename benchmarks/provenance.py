"""What a report records about what it measured: the commit and the state of the project's code,
and how much other work competed for the CPU (Linux PSI)."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

from benchmarks.config import ROOT


def git(*args: str) -> str:
    """A read-only git command's output ('' when git is not there)."""
    try:
        return subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def code_fingerprint() -> str:
    """A digest of the project's code and SQL as they are on disk (path, size, mtime)."""
    digest = hashlib.sha1()
    for folder, pattern in ((ROOT / "sparkify_assets", "*.py"), (ROOT / "sql", "*")):
        for path in sorted(folder.rglob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def cpu_pressure_total() -> tuple[float, int] | None:
    """(now, microseconds some task waited for a CPU) from Linux PSI, when the kernel has it."""
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some"):
                return time.monotonic(), int(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
