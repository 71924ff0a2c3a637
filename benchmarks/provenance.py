"""What a report records about what it measured: the machine and the versions, the commit and
the state of the project's code (and whether it changed during the run), and how much other work
competed for the CPU (Linux PSI)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
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


def code_version() -> str:
    """The commit and the state of the working tree, now."""
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    status = git("status", "--porcelain", "--", "sparkify_assets", "sql", "pyproject.toml")
    changed = [line for line in status.splitlines() if line.strip()]
    return f"commit {commit}" + (
        f" with {len(changed)} uncommitted change(s) to the project's code" if changed else ""
    )


class Provenance:
    """The state at the start of a run (time, load, CPU pressure, code), for the report to set
    against the state at its end; and the PostgreSQL server's version, once known."""

    def __init__(self):
        self.started = datetime.now(UTC)
        self.load_before = os.getloadavg()
        self.pressure_before = cpu_pressure_total()
        self.code_start, self.code_print = code_version(), code_fingerprint()
        self.pg_version = "not used"

    def machine(self) -> list[list[str]]:
        """The report's machine table: hardware, versions, and the load during the run."""
        import dagster
        import duckdb

        cpu = "?"
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return [
            ["cores", str(os.cpu_count())],
            ["RAM", f"{ram / 1024**3:.1f} GiB"],
            ["CPU", cpu],
            ["OS", f"{platform.system()} {platform.release()}"],
            ["Python", platform.python_version()],
            ["Dagster", dagster.__version__],
            ["DuckDB", duckdb.__version__],
            ["PostgreSQL", self.pg_version],
            [
                "CPU pressure during the run",
                self.pressure_text(),
            ],
            [
                "load average (1/5/15 min)",
                "before "
                + " / ".join(f"{x:.2f}" for x in self.load_before)
                + ", after "
                + " / ".join(f"{x:.2f}" for x in os.getloadavg()),
            ],
        ]

    def pressure_text(self) -> str:
        before, after = self.pressure_before, cpu_pressure_total()
        if not before or not after or after[0] <= before[0]:
            return "not available"
        share = (after[1] - before[1]) / 1e6 / (after[0] - before[0])
        return (
            f"{share:.0%} of the time some task waited for a CPU (Linux PSI, cpu some): "
            "other work shared the machine; wall times are noisy, ratios less so"
        )

    def code_text(self) -> str:
        """Which code was measured; loud when it changed while the benchmark ran."""
        end_version, end_print = code_version(), code_fingerprint()
        if end_print == self.code_print:
            return f"{self.code_start} (unchanged during the run)"
        return (
            f"**the project's code changed while this ran** (at the start {self.code_start}; "
            f"at the end {end_version}). Runs measured whatever was on disk when they started, "
            "so figures mix versions: run it again on a quiet tree to compare versions."
        )
