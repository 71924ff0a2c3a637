"""The one Definitions object: assets, jobs and resources, wired from environment variables.

With no configuration at all it runs on the embedded default: the sample lake shipped in the repo
and a DuckDB file. The settings (environment variables) are read in settings.py.
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
from sparkify_assets.automation import automation_sensor
from sparkify_assets.checks import DEFAULT_MAX_REJECT_RATE, build_checks
from sparkify_assets.freshness import (
    DEFAULT_FRESH_WITHIN_HOURS,
    SHORTEST_WINDOW_HOURS,
    freshness_policies,
    with_freshness_policies,
)
from sparkify_assets.metadata import table_schema
from sparkify_assets.preflight_checks import preflight_job
from sparkify_assets.resources.lake import Lake
from sparkify_assets.schedules import schedules
from sparkify_assets.sensors import lake_sensors
from sparkify_assets.settings import (
    ConfigError,
    build_lake,
    build_warehouse,
    read_number,
    read_rate,
)

ALL_ASSETS = fed_by_the_lake(load_assets_from_modules([staging, star, reports]))

# `dagster/max_runtime`: a run still going after this many seconds is canceled by the daemon's
# run monitoring (deploy/dagster.yaml). One run at a time holds the `warehouse` pool, so a run
# that hangs (a lock never granted, a server that stopped answering) would otherwise stop every
# later run. Each bound is many times what the job takes: a day's load takes seconds to minutes,
# a year's backfill on Redshift under an hour.
MAX_RUNTIME_SECONDS = {
    "sparkify_job": 4 * 3600,
    "full_refresh_job": 8 * 3600,
    "checks_job": 3600,
}


def max_runtime(job: str) -> dict[str, str]:
    return {"dagster/max_runtime": str(MAX_RUNTIME_SECONDS[job])}


sparkify_job = define_asset_job(
    "sparkify_job",
    selection=AssetSelection.all(),
    description="Take in what is new in the lake for a range of days: staging, then the star "
    "schema, then reports, in one run.",
    tags=max_runtime("sparkify_job"),
)
checks_job = define_asset_job(
    "checks_job",
    selection=AssetSelection.all_asset_checks(),
    description="Run every asset check against the tables as they are, materializing nothing.",
    tags=max_runtime("checks_job"),
)
full_refresh_job = define_asset_job(
    "full_refresh_job",
    selection=AssetSelection.all(),
    description="Rebuild every table: staging_events reloads every object of the run's days "
    "(emptied first when the run covers every day), the others everything in the lake.",
    config={"ops": {name: {"config": {"full_refresh": True}} for name in sql_files.TABLE_ASSETS}},
    tags=max_runtime("full_refresh_job"),
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


def alerting(env: Mapping[str, str], policies) -> tuple[list, dict]:
    """The alert sensors and their webhook, or nothing when SPARKIFY_ALERT_WEBHOOK_URL is unset."""
    if not env.get("SPARKIFY_ALERT_WEBHOOK_URL", "").strip():
        return [], {}
    ui_url = env.get("SPARKIFY_UI_URL", "").strip() or DEFAULT_UI_URL
    if not ui_url.startswith(("http://", "https://")):
        raise ConfigError(f"SPARKIFY_UI_URL={ui_url!r} is not an http:// or https:// address")
    # EnvVar: the webhook URL is a secret, never shown in the UI or stored in run config.
    webhook = AlertWebhook(url=EnvVar("SPARKIFY_ALERT_WEBHOOK_URL"), ui_url=ui_url)
    return alert_sensors(policies), {"alert_webhook": webhook}


def build_definitions(env: Mapping[str, str] | None = None) -> Definitions:
    env = os.environ if env is None else env
    max_reject_rate = read_rate(env, "SPARKIFY_MAX_REJECT_RATE", DEFAULT_MAX_REJECT_RATE)
    fresh_within = read_number(
        env,
        "SPARKIFY_FRESH_WITHIN_HOURS",
        DEFAULT_FRESH_WITHIN_HOURS,
        SHORTEST_WINDOW_HOURS,
        24 * 366,
        "a number of hours, at least 1/60 (a minute), e.g. 26",
    )
    # 0: each sensor at its own default (sensors.py, automation.py); a deployment may look more
    # often.
    look_every = read_number(
        env, "SPARKIFY_SENSOR_INTERVAL_SECONDS", 0, 1, 86400, "a number of seconds, e.g. 60"
    )
    warehouse = build_warehouse(env)
    lake = build_lake(env)
    assets = presented(ALL_ASSETS, warehouse.engine)
    policies = freshness_policies(fresh_within)
    alert_sensor_defs, alert_resources = alerting(env, policies)
    return Definitions(
        assets=with_freshness_policies(
            [
                *lake_assets(lake_kind(lake), OWNERS["lake"]),
                *linked_to_git(assets, env),
            ],
            policies,
        ),
        sensors=[
            *lake_sensors(assets, int(look_every)),
            automation_sensor(int(look_every)),
            *alert_sensor_defs,
        ],
        schedules=schedules(checks_job, sparkify_job),
        asset_checks=build_checks(max_reject_rate),
        jobs=[sparkify_job, checks_job, full_refresh_job, preflight_job],
        resources={"warehouse": warehouse, "lake": lake, **alert_resources},
        # One process for the whole graph: its steps are SQL the warehouse runs, so a process
        # per step (Dagster's default) would only add about a second of start-up to each.
        executor=in_process_executor,
    )


defs = build_definitions()
