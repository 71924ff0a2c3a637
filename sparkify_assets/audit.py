"""Write-audit-publish: a star table's blocking rules (checks.RULES) judge the rows its step is
about to publish, inside the step's transaction, before commit. When one fails the transaction
rolls back, so analysts never see those rows; they are kept in `audit_failures` and the step
fails naming each rule and its count. The rules are check specs of the asset itself.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from dagster import AssetCheckResult, AssetCheckSpec

from sparkify_assets.checks import (
    DEFAULT_MAX_REJECT_RATE,
    RULES,
    SAMPLE_ROWS,
    Rule,
    check_result,
    check_spec,
    evaluate,
    rule_parameters,
)
from sparkify_assets.resources.engines.base import Session, Warehouse

AUDIT_KEPT_ROWS = 100  # failing rows per rule an audit keeps in audit_failures


def specs(table: str) -> list[AssetCheckSpec]:
    """The check specs of `table`'s audit: declared by the asset, reported from its step."""
    return [check_spec(r) for r in RULES if r.table == table and r.audits]


@dataclass(frozen=True)
class Verdict:
    """One audit rule's answer on the rows a merge is about to publish."""

    rule: Rule
    failing: int
    header: list[str]
    rows: list[tuple]  # up to AUDIT_KEPT_ROWS, by key
    scope: str

    def result(self) -> AssetCheckResult:
        return check_result(
            self.rule, self.failing, self.header, self.rows[:SAMPLE_ROWS], self.scope
        )


class AuditFailed(Exception):
    """A blocking rule failed on the rows about to be published: the transaction must roll back."""

    def __init__(self, table: str, verdicts: list[Verdict]):
        self.table = table
        self.verdicts = verdicts
        failed = [v for v in verdicts if v.failing]
        super().__init__(
            f"{table}: nothing published, the audit failed: "
            + "; ".join(f"{v.rule.name} ({v.failing} row(s): {v.rule.description})" for v in failed)
            + ". The rows are in audit_failures; fix or remove the objects that brought them, "
            "then run again."
        )


def judge(
    session: Session, table: str, incremental: bool, raise_on_failure: bool = True
) -> list[Verdict]:
    """Judge what a merge into `table` is about to publish, in its transaction: every blocking
    rule of the table, narrowed (after an `incremental` merge) to the rows the merge touched, as
    the temp tables it left say (the `touched__<table>` sections of sql/checks.sql). Raise
    AuditFailed when a rule fails (unless not `raise_on_failure`: the checks job's every-row
    audit of what is published)."""
    rules = [r for r in RULES if r.table == table and r.audits]
    narrowed = incremental and any(r.narrow for r in rules)
    if narrowed:
        for narrow_table in sorted({t for r in rules for t in r.narrow}):
            session.run("checks", f"touched__{narrow_table}")
    parameters = rule_parameters(DEFAULT_MAX_REJECT_RATE)
    verdicts = []
    for rule in rules:
        scoped = narrowed and bool(rule.narrow)
        failing, header, rows = evaluate(session, rule, parameters, scoped, AUDIT_KEPT_ROWS)
        scope = "what this run is about to publish" if scoped else "every row, as published"
        verdicts.append(Verdict(rule, failing, header, rows, scope))
    if raise_on_failure and any(v.failing for v in verdicts):
        raise AuditFailed(table, verdicts)
    return verdicts


def keep_failures(
    warehouse: Warehouse, failed: AuditFailed, run_id: str, windows: Iterable
) -> None:
    """Keep the rows a failed audit stopped in `audit_failures`, in a transaction of its own
    (the merge's rolled back), with the load batches the run took in."""
    windows = list(windows)
    base = {
        "run_id": run_id,
        "table_name": failed.table,
        "load_batch": max((w.up_to for w in windows), default=0),
        "load_window": ", ".join(map(str, windows)),
        "failed_at": datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "),
    }
    rows = [
        {
            **base,
            "rule": v.rule.name,
            "failing_rows": v.failing,
            "row_key": str(row[0])[:1024],
            # ASCII JSON (4 KiB at most, as the column holds): the row, column by column.
            "row_values": json.dumps(dict(zip(v.header, row, strict=True)), default=str)[:4096],
        }
        for v in failed.verdicts
        for row in v.rows
    ]
    warehouse.ensure_tables(["audit_failures"])
    with warehouse.session() as session:
        session.run_many("audit_failures", "record", rows)
