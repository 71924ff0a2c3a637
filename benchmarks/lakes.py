"""Generated lakes: their specs, generating them once into benchmarks/out/lakes/ (cached while
their parameters match), and composing lake folders from hard links to generated files."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

from benchmarks.config import LAKES


@dataclass(frozen=True)
class LakeSpec:
    """A generated lake: the generator's arguments, and a name for people."""

    name: str
    songs: int
    users: int
    days: int
    events_per_day: int
    start: date = date(2018, 11, 1)
    seed: int = 42
    what: tuple[str, ...] = ("songs", "events")

    @property
    def events(self) -> int:
        return self.days * self.events_per_day if "events" in self.what else 0

    def params(self) -> dict:
        return {**asdict(self), "start": self.start.isoformat(), "what": list(self.what)}

    @property
    def folder(self) -> Path:
        digest = hashlib.sha1(json.dumps(self.params(), sort_keys=True).encode()).hexdigest()
        return LAKES / f"{self.name}-{digest[:10]}"

    def next_day(self) -> LakeSpec:
        """The day after this lake's last day: same catalogue, users and seed, events only."""
        return LakeSpec(
            f"{self.name}-next-day",
            self.songs,
            self.users,
            1,
            self.events_per_day,
            self.start + timedelta(days=self.days),
            self.seed,
            ("events",),
        )


def _generate_part(dest: str, spec: dict, start: str, days: int, what: tuple[str, ...]) -> dict:
    from sparkify_assets.generate import generate_lake

    return generate_lake(
        dest,
        songs=spec["songs"],
        users=spec["users"],
        days=days,
        events_per_day=spec["events_per_day"],
        start=date.fromisoformat(start),
        seed=spec["seed"],
        what=what,
    )


def ensure_lake(spec: LakeSpec, log: Callable[[str], None]) -> Path:
    """The lake's folder, generated unless a complete one with the same parameters is cached.

    A day's events depend only on the seed, the date, the catalogue and the users, so big lakes
    are written by two processes, each a range of days (the machine has two cores).
    """
    folder = spec.folder
    marker = folder / "lake.json"
    if marker.exists() and json.loads(marker.read_text())["params"] == spec.params():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    log(f"generating lake {spec.name} ({spec.events:,} events, {spec.songs:,} songs) ...")
    params = spec.params()
    workers = 2 if "events" in spec.what and spec.events >= 500_000 and spec.days >= 2 else 1
    first = spec.days // workers
    parts = [(spec.start.isoformat(), first, spec.what)]
    if workers == 2:
        second_start = (spec.start + timedelta(days=first)).isoformat()
        parts.append((second_start, spec.days - first, ("events",)))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_generate_part, str(folder), params, *part) for part in parts]
        summaries = [f.result() for f in futures]
    summary = {k: sum(s[k] for s in summaries) for k in summaries[0]}
    marker.write_text(json.dumps({"params": params, "summary": summary}, indent=2))
    log(f"  generated in {time.perf_counter() - started:.0f} s: {summary}")
    return folder


def files_under(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.json") if p.is_file())


def link_tree(src: Path, dst: Path) -> None:
    """Hard-link the files under `src` into `dst`: same bytes, same mtime, so the same etags."""
    for dirpath, _dirs, names in os.walk(src):
        target = dst / Path(dirpath).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.link(os.path.join(dirpath, name), target / name)


def compose_lake(dest: Path, parts: Iterable[tuple[Path, str]]) -> Path:
    """A lake folder made of hard links to (lake, sub-folder) parts."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for lake, sub in parts:
        if (lake / sub).exists():
            link_tree(lake / sub, dest / sub)
    return dest
