"""One benchmark run's state, and the steps its measurements share: the plan, the work folder,
the warehouses and the results; a measured and logged CLI run; loading a lake into fresh
warehouses, with a diagnostic rerun when it fails as shipped."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from benchmarks.config import DIAGNOSTIC_CHUNK_BYTES, MB, OUT
from benchmarks.lakes import LakeSpec
from benchmarks.materialize import materialize
from benchmarks.plan import make_plan
from benchmarks.provenance import Provenance
from benchmarks.pyspy import Profile, profile_path, py_spy, summarize_profile
from benchmarks.results import Results, RunResult
from benchmarks.warehouses import DuckDBEngine, PostgresEngine


def describe(result: RunResult) -> str:
    """A run in one line of the log."""
    status = "ok" if result.ok else f"FAILED: {result.error}"
    return (
        f"  {result.label}: {result.wall:.1f} s wall, {result.cpu:.1f} s CPU, "
        f"peak {result.peak_bytes / MB:,.0f} MB"
        + (f" (in {result.peak_step})" if result.peak_step else "")
        + f", {status}"
    )


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.plan = make_plan(args.quick, args.reps)
        self.provenance = Provenance()
        self.work = OUT / "work" / self.provenance.started.strftime("%Y%m%dT%H%M%S")
        self.work.mkdir(parents=True, exist_ok=True)
        self.duck = DuckDBEngine(self.work)
        self.pg: PostgresEngine | None = None
        self.results = Results()
        # Profiles of diagnostic reruns, by (engine name, lake): a missed target reuses them.
        self.diagnostic_profiles: dict[tuple[str, LakeSpec], Profile] = {}

    def log(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {message}", flush=True)

    def measure(self, label: str, engine_env: dict[str, str], lake: Path, **kwargs) -> RunResult:
        """One CLI materialization of `lake` (see materialize), logged."""
        result = materialize(label, engine_env, lake, self.work, **kwargs)
        self.log(describe(result))
        return result

    def run(self, label, engine, handle, lake, **kwargs) -> RunResult:
        """One CLI materialization of `lake` into the warehouse `handle` of `engine`, logged."""
        return self.measure(label, engine.env(handle), lake, **kwargs)

    def setup_postgres(self) -> None:
        if "postgres" not in self.args.engines:
            return
        pg = PostgresEngine(
            os.environ.get("SPARKIFY_BENCH_DB_HOST", "127.0.0.1"),
            int(os.environ.get("SPARKIFY_BENCH_DB_PORT", "5432")),
            os.environ.get("SPARKIFY_BENCH_DB_USER", "sparkify"),
            os.environ.get("SPARKIFY_BENCH_DB_PASSWORD", "sparkify"),
        )
        try:
            pg.drop_leftovers()
            self.provenance.pg_version = pg.server_version()
            self.pg = pg
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            note = f"PostgreSQL skipped: no server at {pg.host}:{pg.port} ({reason})."
            self.results.notes.append(note)
            self.log(note)

    def engines(self) -> list:
        return [self.duck] + ([self.pg] if self.pg else [])

    def can_profile(self) -> bool:
        return bool(self.args.profile and py_spy())

    def load(
        self,
        engine,
        spec: LakeSpec,
        lake: Path,
        reps: int,
        *,
        keep: bool,
        label: str | None = None,
        profile: bool = False,
    ) -> tuple[list[RunResult], RunResult | None, str | None]:
        """`reps` loads of `lake`, each into a fresh warehouse, and a diagnostic rerun when none
        of them succeeds. With `keep`, the first warehouse that loaded is kept and returned, for
        the caller to use and drop; every other one is dropped at once."""
        runs, kept = [], None
        for rep in range(reps):
            handle = engine.fresh()
            run = self.run(label or f"{engine.name} {spec.name} #{rep + 1}", engine, handle, lake)
            runs.append(run)
            if keep and run.ok and kept is None:
                kept = handle
            else:
                engine.drop(handle)
        diagnostic = None
        if not any(run.ok for run in runs):
            diagnostic, handle = self.diagnose(engine, spec, lake, profile)
            if keep and diagnostic.ok:
                kept = handle
            else:
                engine.drop(handle)
        return runs, diagnostic, kept

    def diagnose(
        self, engine, spec: LakeSpec, lake: Path, profile: bool = False
    ) -> tuple[RunResult, str]:
        """Rerun a load that failed as shipped, once, with the staging chunk shrunk; return the
        run and its warehouse (the caller drops or keeps it). With `profile`, the rerun is also
        the profile of its target (py-spy at 50 Hz costs a few per cent)."""
        handle = engine.fresh()
        self.log(f"  diagnostic: again with staging chunks of {DIAGNOSTIC_CHUNK_BYTES // MB} MB")
        title = f"{engine.name}, {spec.name} (diagnostic chunk size)"
        path = profile_path(title) if profile and self.can_profile() else None
        run = self.run(
            f"{engine.name} {spec.name} diagnostic" + (" (under py-spy)" if path else ""),
            engine,
            handle,
            lake,
            chunk_bytes=DIAGNOSTIC_CHUNK_BYTES,
            profile_to=path,
        )
        if path is not None and path.exists():
            self.diagnostic_profiles[(engine.name, spec)] = summarize_profile(title, path)
        return run, handle
