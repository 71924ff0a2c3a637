"""py-spy, a tool of this script only: finding it, the command that records a child under it,
where profiles go, and reading a raw profile: where its samples went, by phase of the run, by the
project's innermost call sites and by leaf frame."""

from __future__ import annotations

import collections
import shutil
from dataclasses import dataclass
from pathlib import Path

from benchmarks.config import BIN, OUT


def py_spy() -> str | None:
    """The py-spy executable, on PATH or in the virtualenv; None when it is not installed."""
    if found := shutil.which("py-spy"):
        return found
    return str(BIN / "py-spy") if (BIN / "py-spy").exists() else None


def record_command(profile_to: Path, cmd: list[str]) -> list[str]:
    """`cmd` under `py-spy record` at 50 Hz, idle time included, raw stacks to `profile_to`."""
    record = ["record", "--format", "raw", "--rate", "50", "--idle", "-o", str(profile_to)]
    return [py_spy() or str(BIN / "py-spy"), *record, "--", *cmd]


def profile_path(title: str) -> Path:
    """Where the raw stacks of the profile called `title` go (an older one is removed)."""
    name = "".join(c if c.isalnum() or c in "-." else "_" for c in title)
    path = OUT / "profiles" / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


@dataclass
class Profile:
    title: str
    path: Path
    samples: int
    phases: list[tuple[str, float]]
    project: list[tuple[str, float]]
    leaves: list[tuple[str, float]]


def _short(frame: str) -> str:
    return frame.replace("sparkify_assets/", "")


def summarize_profile(title: str, path: Path) -> Profile:
    """Where the samples of a py-spy raw profile went: by phase, by project call site, by leaf."""
    phases: collections.Counter[str] = collections.Counter()
    project: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        mine = [f for f in frames if "sparkify_assets/" in f and "(<" not in f]
        steps = [f for f in mine if "/assets/" in f or "checks.py" in f]
        if frames[0].startswith("Thread._bootstrap"):  # another thread than the main one
            phase = "other threads (staging's helper threads, progress lines, idle waits)"
        elif any("(<frozen importlib._bootstrap" in f for f in frames):
            phase = "imports (loading the code)"
        elif steps:
            phase = "step: " + steps[0].split(" (")[0].replace(
                "_table_checks.<locals>.table_checks", "asset checks"
            )
        elif any("create_run" in f for f in frames):
            phase = "dagster: creating the run (planned events)"
        elif any("execute_plan" in f or "inner_plan_execution" in f for f in frames):
            phase = "dagster: between steps (events, storage)"
        else:
            phase = "dagster CLI (other)"
        phases[phase] += n
        if mine:
            inner = " → ".join(_short(f) for f in mine[-2:])
            project[f"[{phase}] {inner}"] += n
        leaves[frames[-1] or "(native code or idle)"] += n
    if not total:
        return Profile(title, path, 0, [], [], [])

    def top(counter, k):
        return [(name, n / total) for name, n in counter.most_common(k)]

    return Profile(title, path, total, top(phases, 12), top(project, 10), top(leaves, 8))
