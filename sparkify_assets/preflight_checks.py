"""Preflight checks: prove the production settings work before the first load.

`python -m sparkify_assets.preflight` (or the `preflight_job` in the UI) reads the same settings
as every run, then checks, one line each with what to fix: the lake can be listed and holds event
and song objects; the warehouse answers; the login may create tables and temporary tables; and on
Redshift, that the lake bucket is in SPARKIFY_AWS_REGION and that COPY ... NOLOAD of one event
object and one song object goes through the real manifest and JSONPaths with the IAM role, its
load errors readable. Nothing is loaded and no table changes.
"""

from collections.abc import Iterable

from dagster import Failure, OpExecutionContext, job, op

from sparkify_assets.resources.engines.base import Finding, Warehouse
from sparkify_assets.resources.lake import Lake, LakeError

PREFIXES = {"staging_events": "log_data/", "staging_songs": "song_data/"}


def lake_findings(lake: Lake) -> tuple[list[Finding], dict[str, str]]:
    """Whether each prefix of the lake holds data, and one object key of each (the samples)."""
    findings, samples = [], {}
    for table, prefix in PREFIXES.items():
        try:
            lake.check(prefix)
            # the first page only: one request, not the whole prefix
            first = next((o for page in lake.list_pages(prefix) for o in page.objects), None)
        except LakeError as exc:
            findings.append(Finding(f"lake {prefix}", False, str(exc)))
            continue
        if first is None:
            findings.append(Finding(f"lake {prefix}", False, f"no .json object under {prefix}"))
        else:
            samples[table] = first.key
            findings.append(Finding(f"lake {prefix}", True, f"holds data, e.g. {first.key}"))
    return findings, samples


def run_preflight(warehouse: Warehouse, lake: Lake) -> list[Finding]:
    findings, samples = lake_findings(lake)
    return findings + warehouse.preflight(lake, samples)


def report(findings: Iterable[Finding]) -> list[str]:
    return [f"{'ok  ' if f.passed else 'FAIL'}  {f.check}: {f.detail}" for f in findings]


@op(description="Check the settings against the lake and the warehouse; change nothing.")
def preflight_checks(context: OpExecutionContext, warehouse: Warehouse, lake: Lake) -> None:
    findings = run_preflight(warehouse, lake)
    for line in report(findings):
        context.log.info(line)
    failed = [f.check for f in findings if not f.passed]
    if failed:
        raise Failure(f"preflight failed: {', '.join(failed)}", allow_retries=False)


# A preflight makes a few requests and one COPY ... NOLOAD of each kind: 15 minutes is a hang
# (`dagster/max_runtime`: the daemon's run monitoring cancels it, see deploy/dagster.yaml).
@job(
    description="Before the first load: can the platform read the lake and load the warehouse?",
    tags={"dagster/max_runtime": "900"},
)
def preflight_job():
    preflight_checks()
