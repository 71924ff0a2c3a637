"""Benchmark: staging from an S3 lake at S3's latency, and from many tiny files in a folder.

1. S3 at 30 ms a request: a generated lake (20,000 song objects, 30 days of events) in moto's
   S3 server, behind a loopback proxy that answers every request 30 ms late
   (`tests.s3_server.latency_proxy`). `staging_songs`, materialized by the real CLI on DuckDB,
   against the reference measured in the same run through the same proxy: a bare concurrent
   fetch of the same objects (boto3 `get_object` from a thread pool at the same concurrency).
   Also one object at a time, as staging read them before (boto3's `download_file`: a HEAD and a
   GET each), on a sample of the objects.
2. A folder of 15,000 one-object song files: `staging_songs` against DuckDB's bare `read_json`
   of the same files.

Rates are rows (one per song object) per second; a step's time is STEP_START to STEP_SUCCESS in
the run's event log. The figures replace this benchmark's section of docs/benchmarks.md
(run.py keeps the section when it rewrites the rest). Run from the repository root:

    .venv/bin/python -m benchmarks.lake_latency [--songs 20000] [--tiny-songs 15000] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import botocore.config

if (_repo := str(Path(__file__).resolve().parents[1])) not in sys.path:
    sys.path.insert(0, _repo)

from benchmarks.config import DOC, OUT, ROOT
from benchmarks.doc_sections import OwnSection
from benchmarks.figures import fmt_rate, fmt_s, median
from benchmarks.lakes import LakeSpec, ensure_lake, files_under
from benchmarks.materialize import materialize
from benchmarks.references import read_json_rates
from benchmarks.results import RunResult
from benchmarks.warehouses import DuckDBEngine
from sparkify_assets.resources.lake import DEFAULT_CONCURRENCY
from tests.s3_server import FAKE_CREDENTIALS, latency_proxy, moto_server

SECTION_START = "<!-- lake-latency: written by benchmarks/lake_latency.py -->"
SECTION_END = "<!-- /lake-latency -->"
SECTION = OwnSection(SECTION_START, SECTION_END)
BUCKET = "sparkify-lake"
LAKE_URL = f"s3://{BUCKET}/raw"
FULL_SONGS = 20_000  # the S3 target's size


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def client(endpoint: str, connections: int):
    config = botocore.config.Config(max_pool_connections=connections)
    return boto3.client("s3", endpoint_url=endpoint, config=config, **_credentials())


def _credentials() -> dict[str, str]:
    return {
        "region_name": FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def upload(folder: Path, endpoint: str) -> list[str]:
    """Put the lake folder into the bucket, straight to moto; return the song keys."""
    s3 = client(endpoint, 16)
    s3.create_bucket(Bucket=BUCKET)
    paths = sorted(p for p in folder.rglob("*.json") if p.is_file())

    def put(path: Path) -> None:
        key = f"raw/{path.relative_to(folder).as_posix()}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, paths))
    return [f"raw/{p.relative_to(folder).as_posix()}" for p in paths if "song_data" in p.parts]


def bare_concurrent_fetch(endpoint: str, keys: list[str], concurrency: int) -> float:
    """The reference: boto3 get_object of every key from a thread pool; objects per second."""
    s3 = client(endpoint, concurrency)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        fetched = pool.map(lambda k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read(), keys)
        count = sum(1 for _ in fetched)
    return count / (time.perf_counter() - started)


def one_at_a_time(endpoint: str, keys: list[str]) -> float:
    """Staging's reads before: download_file of one object after another (HEAD, then GET)."""
    s3 = client(endpoint, 1)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        for n, key in enumerate(keys):
            s3.download_file(BUCKET, key, os.path.join(tmp, f"{n}.json"))
        return len(keys) / (time.perf_counter() - started)


def stage_songs(label: str, lake: str, work: Path, env: dict[str, str]) -> RunResult:
    """`staging_songs` alone by the CLI into a fresh DuckDB file."""
    duck = DuckDBEngine(work)
    handle = duck.fresh()
    try:
        run = materialize(
            label, duck.env(handle), lake, work, extra_env=env, select="staging_songs"
        )
    finally:
        duck.drop(handle)
    if not run.ok:
        raise RuntimeError(f"{label} failed: {run.error}")
    seconds, rate = run.steps["staging_songs"], run.rate("staging_songs")
    log(f"  {label}: staging_songs {seconds:.1f} s, {rate:,.0f} rows/s")
    return run


def measure_s3(args, work: Path) -> dict:
    spec = LakeSpec("s3-latency", args.songs, 1_000, args.days, args.events_per_day)
    folder = ensure_lake(spec, log)
    with moto_server() as moto:
        log(f"uploading {spec.songs:,} song objects and {spec.days} days of events to moto ...")
        song_keys = upload(folder, moto)
        with latency_proxy(moto, args.latency) as (endpoint, stats):
            env = {
                **FAKE_CREDENTIALS,
                "SPARKIFY_S3_ENDPOINT_URL": endpoint,
                "SPARKIFY_S3_CONCURRENCY": str(args.concurrency),
            }
            runs, refs = [], []
            for rep in range(args.reps):
                refs.append(bare_concurrent_fetch(endpoint, song_keys, args.concurrency))
                log(f"  bare concurrent fetch #{rep + 1}: {refs[-1]:,.0f} objects/s")
                runs.append(stage_songs(f"S3 staging_songs #{rep + 1}", LAKE_URL, work, env))
            sample = song_keys[:: max(1, len(song_keys) // args.serial_sample)]
            serial = one_at_a_time(endpoint, sample)
            log(f"  one at a time, {len(sample)} objects: {serial:,.1f} objects/s")
    return {
        "spec": spec,
        "rate": median(r.rate("staging_songs") for r in runs),
        "step": median(r.steps["staging_songs"] for r in runs),
        "reference": median(refs),
        "serial": serial,
        "sample": len(sample),
        "max_in_flight": stats.max_in_flight,
    }


def measure_tiny(args, work: Path) -> dict:
    spec = LakeSpec("tiny-songs", args.tiny_songs, 1_000, 0, 0, what=("songs",))
    folder = ensure_lake(spec, log)
    files = files_under(folder / "song_data")
    runs = [
        stage_songs(f"folder staging_songs #{rep + 1}", str(folder), work, {})
        for rep in range(args.reps)
    ]
    refs, _peak = read_json_rates(files, work, args.reps)
    log(f"  bare read_json of {len(files):,} files: {median(refs):,.0f} rows/s")
    return {
        "files": len(files),
        "rate": median(r.rate("staging_songs") for r in runs),
        "step": median(r.steps["staging_songs"] for r in runs),
        "reference": median(refs),
    }


def section(args, s3: dict, tiny: dict, command: str) -> str:
    songs_ratio = s3["reference"] / s3["rate"]
    serial_ratio = s3["rate"] / s3["serial"]
    tiny_ratio = tiny["rate"] / tiny["reference"]
    spec = s3["spec"]
    reduced = ""
    if spec.songs < FULL_SONGS:
        reduced = (
            f"\n\n**Reduced size:** {spec.songs:,} song objects instead of the target's "
            f"{FULL_SONGS:,} (uploading to and fetching from moto on this machine runs at about "
            "a hundred objects a second)."
        )
    rows = "\n".join(
        "| " + " | ".join(cells) + f" | {'**PASS**' if ok else '**MISS**'} |"
        for *cells, ok in (
            (
                "1a",
                "S3, 30 ms: `staging_songs` vs a bare concurrent fetch",
                f"{fmt_rate(s3['rate'])} rows/s ({fmt_s(s3['step'])} s)",
                f"{fmt_rate(s3['reference'])} objects/s (boto3 `get_object`, "
                f"{args.concurrency} threads)",
                f"{songs_ratio:.2f}x slower",
                "within 1.5x",
                songs_ratio <= 1.5,
            ),
            (
                "1b",
                "S3, 30 ms: `staging_songs` vs one GET at a time",
                f"{fmt_rate(s3['rate'])} rows/s",
                f"{s3['serial']:,.1f} objects/s (`download_file`: HEAD + GET, "
                f"{s3['sample']} objects)",
                f"{serial_ratio:.1f}x faster",
                ">= 10x",
                serial_ratio >= 10,
            ),
            (
                "2",
                f"folder, {tiny['files']:,} one-object files: `staging_songs` vs bare `read_json`",
                f"{fmt_rate(tiny['rate'])} rows/s ({fmt_s(tiny['step'])} s)",
                f"{fmt_rate(tiny['reference'])} rows/s",
                f"{tiny_ratio:.2f}x",
                ">= 3x",
                tiny_ratio >= 3,
            ),
        )
    )
    return f"""{SECTION_START}
## S3 lake at S3 latency, and tiny files

Written by `benchmarks/lake_latency.py` on {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
({os.cpu_count()} cores, Python {platform.python_version()}); do not edit by hand.

Command: `{command}`

Sizes: S3 lake of {spec.songs:,} song objects and {spec.days} days of {spec.events_per_day:,}
events, each request answered {args.latency * 1000:.0f} ms late by a loopback proxy in front of
moto's S3 server; {args.concurrency} GETs in flight (`SPARKIFY_S3_CONCURRENCY`); folder of
{tiny["files"]:,} one-object song files. Medians of {args.reps} repetitions, each reference
measured in the same run; a rate is rows (one per song object) per second of the
`staging_songs` step (STEP_START to STEP_SUCCESS, the real CLI on DuckDB).{reduced}

| # | target | measured | reference | ratio | goal | verdict |
|---|---|---|---|---|---|---|
{rows}

The proxy saw at most {s3["max_in_flight"]} requests in flight. At {args.latency * 1000:.0f} ms
a request, {args.concurrency} in flight could answer about
{args.concurrency / args.latency:,.0f} objects/s; the bare fetch reaches
{fmt_rate(s3["reference"])}: on {os.cpu_count()} cores moto's own CPU time per request (several
ms, in one Python process) and the proxy's bound the reference, not the latency. One object at a
time is bound by the latency: two requests of {args.latency * 1000:.0f} ms each.
{SECTION_END}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lake_latency")
    parser.add_argument("--songs", type=int, default=FULL_SONGS, help="song objects in the S3 lake")
    parser.add_argument("--days", type=int, default=30, help="days of events in the S3 lake")
    parser.add_argument("--events-per-day", type=int, default=1_000)
    parser.add_argument("--tiny-songs", type=int, default=15_000, help="song files in a folder")
    parser.add_argument("--latency", type=float, default=0.030, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--serial-sample", type=int, default=200, help="objects one at a time")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    command = "python -m benchmarks.lake_latency " + shlex.join(sys.argv[1:])
    work = Path(tempfile.mkdtemp(prefix="lake-latency-", dir=OUT))
    log(f"work folder: {work.relative_to(ROOT)}")
    tiny = measure_tiny(args, work)
    s3 = measure_s3(args, work)
    text = section(args, s3, tiny, command.strip())
    SECTION.write(args.doc, text)
    print("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
