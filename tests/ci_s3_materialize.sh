#!/usr/bin/env bash
# CI: the real CLI materialization with the lake in S3. Starts moto's S3 server on a free
# loopback port, writes a generated lake straight to it (the generator's s3:// output), runs
# `dagster asset materialize --select '*' --partition-range ...` with SPARKIFY_LAKE=s3://... on DuckDB, and checks that
# every object was loaded. Fake credentials live only in this script's environment; the server
# is stopped and the work folder removed however the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
WORK="$(mktemp -d)"
MOTO_PID=""
cleanup() {
  if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$BIN/moto_server" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_DEFAULT_REGION=us-east-1
export SPARKIFY_S3_ENDPOINT_URL="http://127.0.0.1:$PORT"
export SPARKIFY_LAKE="s3://sparkify-ci/lake"
export SPARKIFY_WAREHOUSE=duckdb
export SPARKIFY_DUCKDB_PATH="$WORK/s3.duckdb"
export DAGSTER_HOME="$WORK/dagster_home"
mkdir -p "$DAGSTER_HOME"

"$BIN/python" - <<'PY'
import os, time, urllib.error, urllib.request

import boto3

endpoint = os.environ["SPARKIFY_S3_ENDPOINT_URL"]
for _ in range(100):
    try:
        urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
        break
    except urllib.error.HTTPError:
        break  # an HTTP answer of any kind: the server is up
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit(f"moto_server did not answer on {endpoint}")
boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="sparkify-ci")
PY

"$BIN/python" -m sparkify_assets.generate --out "$SPARKIFY_LAKE" --songs 200 --days 3 --events-per-day 300
# The generator's three days start on 2018-11-01: one run loads them all.
"$BIN/dagster" asset materialize -m sparkify_assets.definitions --select '*' \
  --partition-range 2018-11-01...2018-11-03

"$BIN/python" - <<'PY'
import os

import duckdb

from sparkify_assets.definitions import build_lake

lake = build_lake(os.environ)
expected = {p: {o.key for o in lake.list_objects(p)} for p in ("log_data/", "song_data/")}
with duckdb.connect(os.environ["SPARKIFY_DUCKDB_PATH"], read_only=True) as con:
    for table, prefix in (("staging_events", "log_data/"), ("staging_songs", "song_data/")):
        loaded = {k for (k,) in con.execute(
            "SELECT object_key FROM load_manifest WHERE table_name = ?", [table]).fetchall()}
        assert loaded == expected[prefix], f"{table}: loaded {len(loaded)} of {len(expected[prefix])}"
    for table in ("staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time"):
        (count,) = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
        assert count > 0, f"{table} is empty"
        print(f"{table}: {count} rows")
print(f"S3 lake on moto: every object of {os.environ['SPARKIFY_LAKE']} loaded")
PY
