"""What every table asset reports about its table: rows, columns, lineage and a preview."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import (
    AssetKey,
    MarkdownMetadataValue,
    MetadataValue,
    TableColumn,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
)

from sparkify_assets import sql_files
from sparkify_assets.resources.engines.base import Session


def table_schema(table: str) -> TableSchema:
    """The column schema read from the table's CREATE TABLE in `sql/` (comments describe)."""
    return TableSchema(
        columns=[
            TableColumn(name=c.name, type=c.type, description=c.description)
            for c in sql_files.columns(table)
        ]
    )


def column_lineage(deps: Mapping[str, Sequence[tuple[str, str]]]) -> TableColumnLineage:
    """`{column: [(upstream table, upstream column), ...]}` as Dagster column lineage."""
    return TableColumnLineage(
        deps_by_column={
            column: [TableColumnDep(asset_key=AssetKey(t), column_name=c) for t, c in sources]
            for column, sources in deps.items()
        }
    )


def as_text(value: Any) -> str:
    """A value as a table shows it to people: NULL for none."""
    return "NULL" if value is None else str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return as_text(value).replace("|", "\\|").replace("\n", " ")[:80]

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table_metadata(
    session: Session,
    table: str,
    lineage: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    **counts: int,
) -> dict[str, Any]:
    """Row count, schema, lineage, a preview of the first rows by key, and this run's counts."""
    names, preview = session.query("tables", "preview", table=table)
    # The standard `dagster/` keys: the UI shows them as the table's row count, columns, lineage.
    standard = {
        "dagster/row_count": MetadataValue.int(session.count(table)),
        "dagster/column_schema": MetadataValue.table_schema(table_schema(table)),
    }
    if lineage:
        standard["dagster/column_lineage"] = MetadataValue.column_lineage(column_lineage(lineage))
    return {
        **standard,
        **counts,
        "preview": MarkdownMetadataValue(markdown_table(names, preview)),
    }
