"""Secrets stay secret through a whole run: the warehouse's password (PostgreSQL, Redshift) and
the AWS secret key the lake is read with (every engine, DuckDB's too) appear nowhere in what the
run leaves: its stdout and stderr, Python's log records, the Dagster event log (every event's
message and metadata, the asset metadata and the check results among them).
"""

from __future__ import annotations

import pytest
from dagster import DagsterInstance
from dagster._serdes import serialize_value

from sparkify_assets.resources.engines import redshift as redshift_engine
from sparkify_assets.resources.engines.redshift import RedshiftWarehouse
from tests.support import PG, run_graph, upload

pytest_plugins = ("tests.redshift_standin.fixtures",)

# Fake, but only ever in the environment: a value this distinct is found wherever it lands.
AWS_SECRET = "aws-secret-key-9f3b27c1"
AWS_TOKEN = "aws-session-token-4ae0d58e"


def redshift_warehouse(standin, monkeypatch) -> RedshiftWarehouse:
    standin.install(monkeypatch, redshift_engine)
    return RedshiftWarehouse(
        host=standin.host,
        port=standin.port,
        database=standin.database,
        user=standin.user,
        password=standin.password,
        sslmode="disable",
        iam_role_arn=standin.iam_role_arn,
        aws_region=standin.region,
        temp_uri=standin.temp_uri,
    )


@pytest.mark.parametrize("engine", ["duckdb", "postgres", "redshift"])
def test_no_secret_in_a_runs_output_logs_or_metadata(
    engine, request, s3_endpoint, s3_client, s3_lake, lake_dir, monkeypatch, capfd, caplog
):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_TOKEN)
    secrets = [AWS_SECRET, AWS_TOKEN]
    endpoint = s3_endpoint
    if engine == "redshift":
        standin = request.getfixturevalue("redshift_standin")
        warehouse = redshift_warehouse(standin, monkeypatch)
        lake = f"s3://{standin.bucket}/lake"
        endpoint = standin.lake_endpoint  # the proxy that keeps the engine out of the lake
        secrets.append(standin.password)
    else:
        warehouse = request.getfixturevalue(f"{engine}_warehouse")
        lake = s3_lake
        secrets += [PG["password"]] if engine == "postgres" else []
    upload(s3_client, lake_dir, lake)

    with DagsterInstance.ephemeral() as instance:
        result = run_graph(warehouse, lake, s3_endpoint_url=endpoint, instance=instance)
        records = instance.all_logs(result.run_id)
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"staging_events", "songplays", "analytics_report"} <= materialized
    assert result.get_asset_check_evaluations()

    out, err = capfd.readouterr()
    left_behind = {
        "stdout": out,
        "stderr": err,
        "log records": caplog.text,
        # Each entry whole: its message, the event, and its metadata values.
        "event log": "\n".join(serialize_value(record) for record in records),
    }
    # What is searched holds the run: Dagster's console log, and the events.
    assert "RUN_SUCCESS" in err and "songplays" in left_behind["event log"]
    holding_a_secret = [
        where for where, text in left_behind.items() if any(s in text for s in secrets)
    ]
    assert holding_a_secret == []
