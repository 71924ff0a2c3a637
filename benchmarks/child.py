"""Running a child process to its end, measured: wall time, CPU time (`wait4`) and peak memory
(`ru_maxrss`, and a /proc poll of its process tree that also says when memory peaked)."""

from __future__ import annotations

import collections
import contextlib
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.config import ROOT, RUN_TIMEOUT


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().rsplit(b")", 1)[1].split()
            children[int(stat[1])].append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _tree_rss(root: int) -> int:
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in _descendants(root):
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


class TreeMemoryPoller(threading.Thread):
    """Samples the RSS of a process and its descendants, keeping the maximum."""

    def __init__(self, pid: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak, self.peak_at = pid, interval, 0, 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss = _tree_rss(self.pid)
            if rss > self.peak:
                self.peak, self.peak_at = rss, time.time()
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPARKIFY_", "DAGSTER_")) and k != "PYTHONPATH"
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, 9)


@dataclass
class Child:
    code: int
    wall: float
    cpu: float
    peak: int
    start_epoch: float
    peak_epoch: float  # when the polled RSS peaked (0 when ru_maxrss saw a higher one)
    text: str


def spawn(
    cmd: list[str],
    env: dict[str, str],
    log_path: Path,
    stdin_text: str | None = None,
    timeout: float = RUN_TIMEOUT,
) -> Child:
    """Run a child to its end, measured (wall, CPU and peak memory of its process tree)."""
    start_epoch = time.time()
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout ends all of it
        )
        poller = TreeMemoryPoller(proc.pid)
        poller.start()
        timer = threading.Timer(timeout, _kill_group, (proc.pid,))
        timer.start()
        if stdin_text is not None:
            proc.stdin.write(stdin_text.encode())
            proc.stdin.close()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        polled = poller.stop()
        if wall >= timeout:
            log.write(f"\nbenchmark: stopped after the {timeout:.0f} s time limit\n".encode())
    peak = max(usage.ru_maxrss * 1024, polled)
    # ru_maxrss is exact; the poll says when. A poll within 10% of the peak dates it well enough.
    peak_epoch = poller.peak_at if polled >= 0.9 * peak else 0.0
    text = log_path.read_text(encoding="utf-8", errors="replace")
    cpu = usage.ru_utime + usage.ru_stime
    return Child(proc.returncode, wall, cpu, peak, start_epoch, peak_epoch, text)
