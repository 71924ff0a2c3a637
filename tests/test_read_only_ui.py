"""Who gets in: a read-only webserver (`dagster-webserver --read-only`), as analysts get it, with
every secret of the platform in its environment. After one run of the graph, what its GraphQL API
serves (resources and their config, runs and their config, asset metadata, every event of the
run) holds none of the secrets' values, and a launch is refused."""

from __future__ import annotations

import json
import os
import subprocess

from tests.support import importing_this_checkout, materialize_command
from tests.ui_server import FOREIGN_SETTINGS, dagster_webserver

# Recognizable values: none may appear in anything the UI serves.
SECRETS = {
    "SPARKIFY_DB_PASSWORD": "ro-ui-db-password-7c1e",
    "SPARKIFY_ALERT_WEBHOOK_URL": "https://hooks.example.invalid/services/ro-ui-webhook-5b2d",
    "AWS_SECRET_ACCESS_KEY": "ro-ui-aws-secret-key-9f40",
    "DAGSTER_PG_PASSWORD": "ro-ui-pg-password-2a8b",
}
REPOSITORY = {"repositoryLocationName": "sparkify", "repositoryName": "__repository__"}

RESOURCES = """query($repo: RepositorySelector!) { allTopLevelResourceDetailsOrError(
  repositorySelector: $repo) { __typename ... on ResourceDetailsList { results {
  name description configuredValues { key value type } } } } }"""
RUNS = """{ runsOrError { __typename ... on Runs { results { runId status runConfigYaml
  tags { key value } } } } }"""
ASSETS = """{ assetNodes { assetKey { path } description
  metadataEntries { __typename label description
    ... on TextMetadataEntry { text } ... on MarkdownMetadataEntry { mdStr }
    ... on JsonMetadataEntry { jsonString } ... on UrlMetadataEntry { url }
    ... on PathMetadataEntry { path } } } }"""
LOGS = """query($runId: ID!) { logsForRun(runId: $runId, limit: 10000) { __typename
  ... on EventConnection { events { __typename
    ... on MessageEvent { message level stepKey }
    ... on DisplayableEvent { label description metadataEntries { __typename label
      ... on TextMetadataEntry { text } ... on MarkdownMetadataEntry { mdStr }
      ... on JsonMetadataEntry { jsonString } ... on UrlMetadataEntry { url }
      ... on PathMetadataEntry { path } } }
    ... on ExecutionStepFailureEvent { error { message stack } } } } } }"""
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on UnauthorizedError { message } ... on LaunchRunSuccess { run { runId } } } }"""


def test_a_read_only_webserver_serves_no_secret_and_launches_nothing(lake_dir, tmp_path):
    with dagster_webserver(tmp_path, extra_env=SECRETS, read_only=True) as server:
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
        env = importing_this_checkout(env) | SECRETS
        env |= {
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "SPARKIFY_WAREHOUSE": "duckdb",
            "SPARKIFY_DUCKDB_PATH": str(tmp_path / "sparkify.duckdb"),
            "SPARKIFY_LAKE": str(lake_dir),
        }
        materialized = subprocess.run(
            materialize_command(lake_dir),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert materialized.returncode == 0, materialized.stderr[-3000:]

        served = {
            "resources": server.graphql(RESOURCES, {"repo": REPOSITORY}),
            "runs": server.graphql(RUNS),
            "assets": server.graphql(ASSETS),
        }
        resources = served["resources"]["allTopLevelResourceDetailsOrError"]["results"]
        names = {r["name"] for r in resources}
        assert {"warehouse", "lake", "alert_webhook"} <= names, names
        (run,) = served["runs"]["runsOrError"]["results"]
        assert run["status"] == "SUCCESS"
        served["logs"] = server.graphql(LOGS, {"runId": run["runId"]})
        events = served["logs"]["logsForRun"]["events"]
        assert len(events) > 50 and any(e["__typename"] == "MaterializationEvent" for e in events)
        text = json.dumps(served)
        for name, value in SECRETS.items():
            assert value not in text, f"the read-only UI serves {name}'s value"
        webhook = next(r for r in resources if r["name"] == "alert_webhook")
        url = next(v for v in webhook["configuredValues"] if v["key"] == "url")
        assert url["type"] == "ENV_VAR" and url["value"] == "SPARKIFY_ALERT_WEBHOOK_URL", url

        params = {
            "selector": {**REPOSITORY, "jobName": "sparkify_job"},
            "runConfigData": "{}",
            "mode": "default",
        }
        refused = server.graphql(LAUNCH, {"params": params})["launchRun"]
        assert refused["__typename"] == "UnauthorizedError", refused
        (still_one,) = server.graphql(RUNS)["runsOrError"]["results"]
        assert still_one["runId"] == run["runId"]
