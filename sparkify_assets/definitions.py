"""The one Definitions object: assets, jobs and resources, wired from environment variables.

With no configuration at all it runs on the embedded default: the sample lake shipped in the repo
and a DuckDB file. Every setting is read here, once; a bad value stops the load with one message
that names the variable and what it accepts. Secrets only travel as `dagster.EnvVar`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

from dagster import (
    AnchorBasedFilePathMapping,
    AssetSelection,
    BetaWarning,
    CodeReferencesMetadataValue,
    Definitions,
    EnvVar,
    LocalFileCodeReference,
    define_asset_job,
    in_process_executor,
    link_code_references_to_git,
    load_assets_from_modules,
    map_asset_specs,
    with_source_code_references,
)

from sparkify_assets import sql_files
from sparkify_assets.alerts import DEFAULT_UI_URL, AlertWebhook, alert_sensors
from sparkify_assets.assets import reports, staging, star
from sparkify_assets.assets.lake import fed_by_the_lake, lake_assets
from sparkify_assets.checks import DEFAULT_MAX_REJECT_RATE, build_checks
from sparkify_assets.freshness import DEFAULT_FRESH_WITHIN_HOURS, freshness_checks, freshness_sensor
from sparkify_assets.metadata import table_schema
from sparkify_assets.preflight_checks import preflight_job
from sparkify_assets.resources.engines.base import Warehouse
from sparkify_assets.resources.engines.duckdb import DEFAULT_DUCKDB_PATH, DuckDBWarehouse
from sparkify_assets.resources.engines.postgres import PostgresWarehouse
from sparkify_assets.resources.engines.redshift import COPY_MIN_OBJECT_BYTES, RedshiftWarehouse
from sparkify_assets.resources.lake import DEFAULT_CONCURRENCY, SAMPLE_LAKE, Lake
from sparkify_assets.schedules import schedules
from sparkify_assets.sensors import lake_sensors

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


class ConfigError(ValueError):
    """A setting that cannot work, named with what it accepts."""


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


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float, what: str):
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


def _rate(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, 0, 1, "a share; use a number from 0 to 1, e.g. 0.01")


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
    name, accepted = "SPARKIFY_S3_CONCURRENCY", "a whole number of GETs from 1 to 1024"
    concurrency = _number(env, name, DEFAULT_CONCURRENCY, 1, 1024, accepted)
    if concurrency != int(concurrency):
        raise ConfigError(f"{name}={env[name]!r} is not {accepted}")
    return Lake(
        url=url,
        s3_endpoint_url=env.get("SPARKIFY_S3_ENDPOINT_URL") or None,
        concurrency=int(concurrency),
    )


def _server(env: Mapping[str, str], port: int, sslmode: str) -> dict:
    """Where a server engine is and as whom: the settings PostgreSQL and Redshift share."""
    return {
        "host": env.get("SPARKIFY_DB_HOST") or "127.0.0.1",
        "port": _port(env, "SPARKIFY_DB_PORT", port),
        "database": env.get("SPARKIFY_DB_NAME") or "sparkify",
        "user": env.get("SPARKIFY_DB_USER") or "sparkify",
        # Passed as EnvVar: Dagster never shows the value in the UI or in run config.
        "password": EnvVar("SPARKIFY_DB_PASSWORD") if env.get("SPARKIFY_DB_PASSWORD") else None,
        "sslmode": _choice(env, "SPARKIFY_DB_SSLMODE", sslmode, SSL_MODES),
    }


def _duckdb(env: Mapping[str, str]) -> DuckDBWarehouse:
    return DuckDBWarehouse(path=env.get("SPARKIFY_DUCKDB_PATH") or str(DEFAULT_DUCKDB_PATH))


def _postgres(env: Mapping[str, str]) -> PostgresWarehouse:
    return PostgresWarehouse(**_server(env, 5432, "prefer"))


def _redshift(env: Mapping[str, str]) -> RedshiftWarehouse:
    for name in ("SPARKIFY_IAM_ROLE_ARN", "SPARKIFY_AWS_REGION"):
        if not env.get(name):
            raise ConfigError(f"{name} is required when SPARKIFY_WAREHOUSE=redshift")
    if not env.get("SPARKIFY_LAKE", "").startswith("s3://"):
        raise ConfigError(
            "SPARKIFY_WAREHOUSE=redshift loads with COPY from S3: set SPARKIFY_LAKE=s3://bucket/prefix"
        )
    login = ("SPARKIFY_DB_PASSWORD", "SPARKIFY_REDSHIFT_CLUSTER", "SPARKIFY_REDSHIFT_WORKGROUP")
    if not any(env.get(name) for name in login):
        raise ConfigError(
            "SPARKIFY_WAREHOUSE=redshift needs a way to log in: SPARKIFY_DB_PASSWORD, or "
            "SPARKIFY_REDSHIFT_CLUSTER (or SPARKIFY_REDSHIFT_WORKGROUP for Serverless) for "
            "temporary credentials from IAM"
        )
    copy_min = _number(
        env, "SPARKIFY_REDSHIFT_COPY_MIN_BYTES", COPY_MIN_OBJECT_BYTES, 0, 2**62, "a byte count"
    )
    return RedshiftWarehouse(
        **_server(env, 5439, "require"),
        iam_role_arn=env["SPARKIFY_IAM_ROLE_ARN"],
        aws_region=env["SPARKIFY_AWS_REGION"],
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


ALL_ASSETS = fed_by_the_lake(load_assets_from_modules([staging, star, reports]))

sparkify_job = define_asset_job(
    "sparkify_job",
    selection=AssetSelection.all(),
    description="Take in what is new in the lake: staging, then the star schema, then reports.",
)
checks_job = define_asset_job(
    "checks_job",
    selection=AssetSelection.all_asset_checks(),
    description="Run every asset check against the tables as they are, materializing nothing.",
)
full_refresh_job = define_asset_job(
    "full_refresh_job",
    selection=AssetSelection.all(),
    description="Rebuild every table from everything in the lake.",
    config={"ops": {name: {"config": {"full_refresh": True}} for name in sql_files.TABLE_ASSETS}},
)


OWNERS = {
    "lake": "team:data-engineering",
    "staging": "team:data-engineering",
    "star": "team:data-engineering",
    "reports": "team:analytics",
}


# The SQL file that defines an asset, where it is not named after the asset's table.
SQL_FILE_OF = {"analytics_report": "reports"}
REPO_ROOT = sql_files.SQL_DIR.parent


def sql_reference(asset: str) -> CodeReferencesMetadataValue:
    """A code reference to the `sql/<table>.sql` that defines `asset`."""
    path = sql_files.SQL_DIR / f"{SQL_FILE_OF.get(asset, asset)}.sql"
    label = str(path.relative_to(REPO_ROOT))
    return CodeReferencesMetadataValue(
        code_references=[LocalFileCodeReference(file_path=str(path), label=label)]
    )


def presented(assets, engine: str):
    """The assets as the UI shows them before their first run: who owns each group, the engine
    it runs on, each table's name and columns (from its CREATE TABLE in `sql/`), and the SQL and
    Python that define it."""

    def present(spec):
        table = spec.key.to_user_string()
        metadata = {"dagster/code_references": sql_reference(table)}
        if table in sql_files.TABLE_ASSETS:
            metadata["dagster/table_name"] = table
            metadata["dagster/column_schema"] = table_schema(table)
        return spec.merge_attributes(
            owners=[OWNERS[spec.group_name]], kinds={engine}, metadata=metadata
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)  # code references are marked beta
        return with_source_code_references(map_asset_specs(present, assets))


def linked_to_git(assets, env: Mapping[str, str]):
    """With SPARKIFY_REPOSITORY_URL set, code references open the files in the repository's web
    view (GitHub or GitLab) on SPARKIFY_REPOSITORY_BRANCH, instead of naming local paths."""
    url = env.get("SPARKIFY_REPOSITORY_URL", "").strip().rstrip("/")
    if not url:
        return assets
    if not url.startswith("https://") or not ("github" in url or "gitlab" in url):
        raise ConfigError(
            f"SPARKIFY_REPOSITORY_URL={url!r} is not supported; use the https:// address of the "
            "repository on GitHub or GitLab"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        return link_code_references_to_git(
            assets,
            git_url=url,
            git_branch=env.get("SPARKIFY_REPOSITORY_BRANCH", "").strip() or "main",
            file_path_mapping=AnchorBasedFilePathMapping(
                local_file_anchor=REPO_ROOT / "pyproject.toml",
                file_anchor_path_in_repository="pyproject.toml",
            ),
        )


def lake_kind(lake: Lake) -> str:
    return "s3" if lake.url.startswith("s3://") else "folder"


def alerting(env: Mapping[str, str], freshness) -> tuple[list, dict]:
    """The alert sensors and their webhook, or nothing when SPARKIFY_ALERT_WEBHOOK_URL is unset."""
    if not env.get("SPARKIFY_ALERT_WEBHOOK_URL", "").strip():
        return [], {}
    ui_url = env.get("SPARKIFY_UI_URL", "").strip() or DEFAULT_UI_URL
    if not ui_url.startswith(("http://", "https://")):
        raise ConfigError(f"SPARKIFY_UI_URL={ui_url!r} is not an http:// or https:// address")
    # EnvVar: the webhook URL is a secret, never shown in the UI or stored in run config.
    webhook = AlertWebhook(url=EnvVar("SPARKIFY_ALERT_WEBHOOK_URL"), ui_url=ui_url)
    check_keys = [key for checks in freshness for key in checks.check_keys]
    return alert_sensors(check_keys), {"alert_webhook": webhook}


def build_definitions(env: Mapping[str, str] | None = None) -> Definitions:
    env = os.environ if env is None else env
    max_reject_rate = _rate(env, "SPARKIFY_MAX_REJECT_RATE", DEFAULT_MAX_REJECT_RATE)
    fresh_within = _number(
        env,
        "SPARKIFY_FRESH_WITHIN_HOURS",
        DEFAULT_FRESH_WITHIN_HOURS,
        0.001,
        24 * 366,
        "a number of hours, e.g. 26",
    )
    warehouse = build_warehouse(env)
    lake = build_lake(env)
    assets = presented(ALL_ASSETS, warehouse.engine)
    freshness = freshness_checks(fresh_within)
    alert_sensor_defs, alert_resources = alerting(env, freshness)
    return Definitions(
        assets=[
            *lake_assets(lake_kind(lake), OWNERS["lake"]),
            *linked_to_git(assets, env),
        ],
        sensors=[*lake_sensors(assets), freshness_sensor(freshness), *alert_sensor_defs],
        schedules=schedules(checks_job, sparkify_job),
        asset_checks=[*build_checks(max_reject_rate), *freshness],
        jobs=[sparkify_job, checks_job, full_refresh_job, preflight_job],
        resources={"warehouse": warehouse, "lake": lake, **alert_resources},
        # One process for the whole graph: its steps are SQL the warehouse runs, so a process
        # per step (Dagster's default) would only add about a second of start-up to each.
        executor=in_process_executor,
    )


defs = build_definitions()
