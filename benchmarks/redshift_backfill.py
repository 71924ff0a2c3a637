"""Benchmark: a year's backfill of the event log on the Redshift stand-in, from a read-only lake.

A generated real-like lake (365 days of events: integral-float `registration`, empty `userId`s,
mis-encoded names; and its song catalogue) in moto's S3 server; the engine reads the lake through
a loopback proxy that refuses writes into the lake's bucket and records every request, and
writes what COPY reads to a temp bucket of its own. The whole graph is materialized in process
on the stand-in (tests/redshift_standin: Redshift's COPY executed on PostgreSQL 15).

Reported: the bytes of event objects this process read (target 0: every event object is COPYed
in place), the COPY statements sent (in place, and of rows parsed here), whether the temp
location was left empty, and the staging_events step's time, against the same lake staged by
DuckDB in the same run. The stand-in's COPY is Python on PostgreSQL: its time says nothing of a
real cluster's, only how the engine's own work grows; the counts are what a cluster would see.

Needs the test PostgreSQL server (SPARKIFY_TEST_DB_*, as the tests). The figures replace this
benchmark's section of docs/benchmarks.md. Run from the repository root:

    .venv/bin/python -m benchmarks.redshift_backfill [--days 365] [--events-per-day 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import boto3
from dagster import DagsterEventType

if (_repo := str(Path(__file__).resolve().parents[1])) not in sys.path:
    sys.path.insert(0, _repo)

from benchmarks.config import DOC
from benchmarks.doc_sections import OwnSection
from benchmarks.lakes import LakeSpec, ensure_lake
from sparkify_assets.resources.engines import redshift as redshift_engine
from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from sparkify_assets.resources.engines.redshift import RedshiftWarehouse
from sparkify_assets.resources.engines.redshift_drift import SAMPLE_BYTES
from sparkify_assets.resources.engines.redshift_temp import split_temp_uri
from tests.redshift_standin.fixtures import standin_database
from tests.s3_server import FAKE_CREDENTIALS, moto_server
from tests.support import run_graph

SECTION_START = "<!-- redshift-backfill: written by benchmarks/redshift_backfill.py -->"
SECTION_END = "<!-- /redshift-backfill -->"
SECTION = OwnSection(SECTION_START, SECTION_END)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def upload(folder: Path, endpoint: str, bucket: str, prefix: str) -> dict[str, int]:
    """Put every file of `folder` under `prefix`; return each key's size."""
    s3 = boto3.client("s3", endpoint_url=endpoint)
    sizes = {}
    for path in sorted(folder.rglob("*.json")):
        key = f"{prefix}/{path.relative_to(folder).as_posix()}"
        s3.upload_file(str(path), bucket, key)
        sizes[key] = path.stat().st_size
    return sizes


def step_seconds(result, step: str) -> float:
    """A step's time as its STEP_SUCCESS event gives it."""
    (success,) = [
        e
        for e in result.all_events
        if e.step_key == step and e.event_type == DagsterEventType.STEP_SUCCESS
    ]
    return success.event_specific_data.duration_ms / 1000


def measure(spec: LakeSpec) -> dict:
    folder = ensure_lake(spec, log)
    os.environ.update(FAKE_CREDENTIALS)
    with moto_server() as endpoint, standin_database(endpoint) as standin:
        sizes = upload(folder, endpoint, standin.bucket, "lake")
        events = {k: v for k, v in sizes.items() if "/log_data/" in k}
        redshift_engine.psycopg2_connect = standin.connect  # as the tests' `install` does
        warehouse = RedshiftWarehouse(
            host=standin.host, port=standin.port, database=standin.database,
            user=standin.user, password=standin.password, sslmode="disable",
            iam_role_arn=standin.iam_role_arn, aws_region=standin.region,
            temp_uri=standin.temp_uri, copy_min_object_bytes=0,
        )  # fmt: skip
        log(f"backfill: {len(events)} event objects, {sum(events.values()):,} bytes")
        started = time.perf_counter()
        result = run_graph(
            warehouse, f"s3://{standin.bucket}/lake", s3_endpoint_url=standin.lake_endpoint
        )
        graph_seconds = time.perf_counter() - started
        lake_path = f"/{standin.bucket}/"
        read = {p.split(lake_path, 1)[-1] for m, p in standin.lake_requests if m == "GET"}
        heads = [p.split(lake_path, 1)[-1] for p in standin.lake_heads]
        copies = [s for s in standin.sent if s.lstrip().startswith("COPY")]
        temp_bucket, temp_prefix = split_temp_uri(standin.temp_uri)
        left = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(
            Bucket=temp_bucket, Prefix=temp_prefix
        )
        figures = {
            "event_objects": len(events),
            "event_bytes": sum(events.values()),
            "event_bytes_read": sum(size for key, size in events.items() if key in read),
            "event_bytes_sampled": sum(min(SAMPLE_BYTES, events[k]) for k in heads if k in events),
            "copies_in_place": sum(
                '"staging_events_copy"' in c and "NOLOAD" not in c for c in copies
            ),
            "copies_parsed": sum("FORMAT AS JSON 'auto'" in c for c in copies),
            "copies_checked": sum("NOLOAD" in c for c in copies),
            "temp_left": left.get("KeyCount", 0),
            "stage_seconds": step_seconds(result, "staging_events"),
            "graph_seconds": graph_seconds,
        }
    with tempfile.TemporaryDirectory() as tmp:
        duckdb = run_graph(DuckDBWarehouse(path=f"{tmp}/w.duckdb"), folder)
        figures["duckdb_stage_seconds"] = step_seconds(duckdb, "staging_events")
    return figures


def section(spec: LakeSpec, f: dict) -> str:
    ratio = f["stage_seconds"] / f["duckdb_stage_seconds"]
    verdict = "PASS" if f["event_bytes_read"] == 0 else "MISS"
    return f"""{SECTION_START}
## A year's backfill on the Redshift stand-in, from a read-only lake

`.venv/bin/python -m benchmarks.redshift_backfill --days {spec.days} --events-per-day \
{spec.events_per_day} --songs {spec.songs}`: {spec.days} days of generated real-like events
({spec.events:,} events, {f["event_objects"]} objects, {f["event_bytes"]:,} bytes) and
{spec.songs:,} song objects, the whole graph in one run on the stand-in with
`SPARKIFY_REDSHIFT_COPY_MIN_BYTES=0`: every object is COPYed in place, none is parsed here
unless COPY or `typed_copy` finds a bad record in it.

| measured | figure |
|---|---|
| event bytes this process read whole (target 0) | {f["event_bytes_read"]:,} {verdict} |
| event bytes read as heads sampled for schema drift (at most 64 KiB an object) | \
{f["event_bytes_sampled"]:,} |
| COPY statements in place (staging_events) | {f["copies_in_place"]} |
| COPY statements of rows parsed here (chunks, both tables) | {f["copies_parsed"]} |
| COPY ... NOLOAD checks of objects over 4 MB | {f["copies_checked"]} |
| files left in the temp location | {f["temp_left"]} |
| staging_events step on the stand-in | {f["stage_seconds"]:.1f} s |
| the same lake staged by DuckDB, same run | {f["duckdb_stage_seconds"]:.1f} s ({ratio:.1f}x) |
| the whole graph on the stand-in | {f["graph_seconds"]:.1f} s |

The stand-in executes COPY in Python on PostgreSQL, one object after another: its seconds are
not a cluster's. A cluster runs these COPY statements one after another in one transaction, each
with a fixed cost of about a second, so a year's backfill costs a few minutes of COPY there.
{SECTION_END}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redshift_backfill")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--events-per-day", type=int, default=300)
    parser.add_argument("--songs", type=int, default=200, help="song objects (a COPY each)")
    args = parser.parse_args(argv)
    spec = LakeSpec("redshift-year", args.songs, 500, args.days, args.events_per_day)
    text = section(spec, measure(spec))
    SECTION.write(DOC, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
