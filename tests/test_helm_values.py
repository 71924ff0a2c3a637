"""The Helm chart's values hold the production instance of deploy/dagster.yaml, setting for setting:
a change to one that the other misses fails here."""

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_helm_values_configure_the_instance_deploy_dagster_yaml_describes():
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text(encoding="utf-8"))
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text(encoding="utf-8"))
    extra = values["additionalInstanceConfig"]
    for block in ("concurrency", "run_monitoring", "run_retries", "freshness"):
        assert extra[block] == instance[block], block
    daemon = values["dagsterDaemon"]
    # written once: the chart's own blocks for these stay off
    assert not daemon["runMonitoring"]["enabled"] and not daemon["runRetries"]["enabled"]
    coordinator = daemon["runCoordinator"]["config"]["customRunCoordinator"]
    assert {k: coordinator[k] for k in ("module", "class", "config")} == instance["run_coordinator"]
    for kind in ("schedule", "sensor"):
        purge = values["retention"][kind]["purgeAfterDays"]
        assert purge == instance["retention"][kind]["purge_after_days"], kind
    (code,) = values["dagster-user-deployments"]["deployments"]
    assert code["dagsterApiGrpcArgs"] == ["-m", "sparkify_assets.definitions"]
    # secrets only by reference: no value of a secret setting in plain env
    plain = {e["name"] for e in code["env"]}
    assert not plain & {"SPARKIFY_DB_PASSWORD", "SPARKIFY_ALERT_WEBHOOK_URL", "DAGSTER_PG_PASSWORD"}
