"""Settings: the environment variables a run reads, turned into the lake and warehouse resources.

Every setting is read here, once; a bad value stops the load with one message that names the
variable and what it accepts. Secrets only travel as `dagster.EnvVar`.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
from collections.abc import Iterator, Mapping

from dagster import EnvVar

from sparkify_assets.resources.engines.base import Warehouse
from sparkify_assets.resources.engines.duckdb import DEFAULT_DUCKDB_PATH, DuckDBWarehouse
from sparkify_assets.resources.engines.postgres import PostgresWarehouse
from sparkify_assets.resources.engines.redshift import COPY_MIN_OBJECT_BYTES, RedshiftWarehouse
from sparkify_assets.resources.engines.redshift_temp import split_temp_uri
from sparkify_assets.resources.lake import DEFAULT_CONCURRENCY, SAMPLE_LAKE, Lake

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


class ConfigError(ValueError):
    """A setting that cannot work, named with what it accepts."""


@contextlib.contextmanager
def exit_on_bad_setting() -> Iterator[None]:
    """For a command: a bad setting ends it with its one-line message on stderr and exit status
    2 (a usage error), without a traceback: the message names the variable to fix."""
    try:
        yield
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None


def _choice(env: Mapping[str, str], name: str, default: str, accepted: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in accepted:
        raise ConfigError(f"{name}={value!r} is not supported; use one of: {', '.join(accepted)}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"{name}={value!r} is not a TCP port; use a number from 1 to 65535")
    return int(value)


def read_number(
    env: Mapping[str, str], name: str, default: float, low: float, high: float, what: str
):
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ConfigError(f"{name}={value!r} is not {what}")
    return number


def read_rate(env: Mapping[str, str], name: str, default: float) -> float:
    return read_number(env, name, default, 0, 1, "a share; use a number from 0 to 1, e.g. 0.01")


def read_first_day(env: Mapping[str, str], default: str) -> str:
    """SPARKIFY_EVENTS_START: the first day of the event log's daily partitions, YYYY-MM-DD."""
    value = env.get("SPARKIFY_EVENTS_START", "").strip() or default
    try:
        parsed = datetime.date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or len(value) != 10 or parsed > datetime.date.today():
        raise ConfigError(
            f"SPARKIFY_EVENTS_START={value!r} is not a day; use YYYY-MM-DD, today or earlier"
        )
    return value


def build_lake(env: Mapping[str, str]) -> Lake:
    url = env.get("SPARKIFY_LAKE", "").strip() or str(SAMPLE_LAKE)
    if url.startswith("s3://"):
        if not url[5:].split("/", 1)[0]:
            raise ConfigError(f"SPARKIFY_LAKE={url!r} names no bucket; use s3://bucket/prefix")
    elif "://" in url:
        raise ConfigError(
            f"SPARKIFY_LAKE={url!r} is not supported; use a folder or s3://bucket/prefix"
        )
    elif not os.path.isdir(os.path.expanduser(url)):
        raise ConfigError(
            f"SPARKIFY_LAKE={url!r} is not a folder; use a folder or s3://bucket/prefix"
        )
    name, accepted = "SPARKIFY_S3_CONCURRENCY", "a whole number of requests from 1 to 1024"
    concurrency = read_number(env, name, DEFAULT_CONCURRENCY, 1, 1024, accepted)
    if concurrency != int(concurrency):
        raise ConfigError(f"{name}={env[name]!r} is not {accepted}")
    return Lake(
        url=url,
        s3_endpoint_url=env.get("SPARKIFY_S3_ENDPOINT_URL") or None,
        concurrency=int(concurrency),
    )


def _every_engine(env: Mapping[str, str]) -> dict:
    """The settings every engine's resource takes."""
    report_dir = env.get("SPARKIFY_REPORT_DIR", "").strip()
    if report_dir and os.path.exists(report_dir) and not os.path.isdir(report_dir):
        raise ConfigError(f"SPARKIFY_REPORT_DIR={report_dir!r} is not a folder; use a folder")
    return {"report_dir": report_dir or None}


def _server(env: Mapping[str, str], port: int, sslmode: str) -> dict:
    """Where a server engine is and as whom: the settings PostgreSQL and Redshift share."""
    return {
        **_every_engine(env),
        "host": env.get("SPARKIFY_DB_HOST") or "127.0.0.1",
        "port": _port(env, "SPARKIFY_DB_PORT", port),
        "database": env.get("SPARKIFY_DB_NAME") or "sparkify",
        "user": env.get("SPARKIFY_DB_USER") or "sparkify",
        # Passed as EnvVar: Dagster never shows the value in the UI or in run config.
        "password": EnvVar("SPARKIFY_DB_PASSWORD") if env.get("SPARKIFY_DB_PASSWORD") else None,
        "sslmode": _choice(env, "SPARKIFY_DB_SSLMODE", sslmode, SSL_MODES),
    }


def _duckdb(env: Mapping[str, str]) -> DuckDBWarehouse:
    return DuckDBWarehouse(
        path=env.get("SPARKIFY_DUCKDB_PATH") or str(DEFAULT_DUCKDB_PATH), **_every_engine(env)
    )


def _postgres(env: Mapping[str, str]) -> PostgresWarehouse:
    return PostgresWarehouse(**_server(env, 5432, "prefer"))


def _redshift(env: Mapping[str, str]) -> RedshiftWarehouse:
    for name in ("SPARKIFY_IAM_ROLE_ARN", "SPARKIFY_AWS_REGION", "SPARKIFY_REDSHIFT_TEMP_URI"):
        if not env.get(name):
            raise ConfigError(f"{name} is required when SPARKIFY_WAREHOUSE=redshift")
    lake = env.get("SPARKIFY_LAKE", "")
    if not lake.startswith("s3://"):
        raise ConfigError(
            "SPARKIFY_WAREHOUSE=redshift loads with COPY from S3: set SPARKIFY_LAKE=s3://bucket/prefix"
        )
    temp_uri = env["SPARKIFY_REDSHIFT_TEMP_URI"]
    try:
        temp_bucket, temp_prefix = split_temp_uri(temp_uri)
    except ValueError as exc:
        raise ConfigError(f"SPARKIFY_REDSHIFT_TEMP_URI: {exc}") from None
    lake_bucket, lake_prefix = split_temp_uri(lake)
    if temp_bucket == lake_bucket and temp_prefix.startswith(lake_prefix):
        raise ConfigError(
            f"SPARKIFY_REDSHIFT_TEMP_URI={temp_uri!r} is under the lake {lake!r}: give the files "
            "COPY reads a location of their own (most lakes are read-only to a loader)"
        )
    login = ("SPARKIFY_DB_PASSWORD", "SPARKIFY_REDSHIFT_CLUSTER", "SPARKIFY_REDSHIFT_WORKGROUP")
    if not any(env.get(name) for name in login):
        raise ConfigError(
            "SPARKIFY_WAREHOUSE=redshift needs a way to log in: SPARKIFY_DB_PASSWORD, or "
            "SPARKIFY_REDSHIFT_CLUSTER (or SPARKIFY_REDSHIFT_WORKGROUP for Serverless) for "
            "temporary credentials from IAM"
        )
    copy_min = read_number(
        env, "SPARKIFY_REDSHIFT_COPY_MIN_BYTES", COPY_MIN_OBJECT_BYTES, 0, 2**62, "a byte count"
    )
    return RedshiftWarehouse(
        **_server(env, 5439, "require"),
        iam_role_arn=env["SPARKIFY_IAM_ROLE_ARN"],
        aws_region=env["SPARKIFY_AWS_REGION"],
        temp_uri=temp_uri,
        redshift_region=env.get("SPARKIFY_REDSHIFT_REGION") or None,
        cluster_identifier=env.get("SPARKIFY_REDSHIFT_CLUSTER") or None,
        workgroup=env.get("SPARKIFY_REDSHIFT_WORKGROUP") or None,
        aws_endpoint_url=env.get("SPARKIFY_AWS_ENDPOINT_URL") or None,
        copy_min_object_bytes=int(copy_min),
    )


# One resource class per engine, picked by one setting; the assets are the same everywhere.
WAREHOUSES = {"duckdb": _duckdb, "postgres": _postgres, "redshift": _redshift}


def build_warehouse(env: Mapping[str, str]) -> Warehouse:
    engine = _choice(env, "SPARKIFY_WAREHOUSE", "duckdb", tuple(WAREHOUSES))
    return WAREHOUSES[engine](env)
