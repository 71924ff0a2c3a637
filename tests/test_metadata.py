"""What every table asset reports (metadata.py): row count, column schema, column lineage and a
preview of the first rows by key, checked against the reference and the graph."""

from __future__ import annotations

import pytest
from dagster import AssetKey, TableColumnDep

from sparkify_assets import sql_files
from sparkify_assets.definitions import build_definitions
from sparkify_assets.metadata import column_lineage, markdown_table, table_metadata, table_schema
from tests.reference import compute
from tests.support import STAR_TABLES, markdown_rows, metadata_of, shown

KEYED = set(STAR_TABLES)  # a unique first column: the preview's ORDER BY 1 picks exact rows


def test_markdown_table_escapes_cuts_and_shows_null():
    text = markdown_table(["id", "note"], [(1, "a | b"), (None, "line\nbreak"), (2.5, "x" * 100)])
    assert text.splitlines() == [
        "| id | note |",
        "|---|---|",
        "| 1 | a \\| b |",
        "| NULL | line break |",
        f"| 2.5 | {'x' * 80} |",
    ]
    assert markdown_table(["a"], []) == "| a |\n|---|"


def test_table_schema_is_the_create_table_of_sql():
    for table in sql_files.TABLE_ASSETS:
        schema = table_schema(table)
        assert [(c.name, c.type, c.description) for c in schema.columns] == [
            (c.name, c.type, c.description) for c in sql_files.columns(table)
        ]
    (user_id, *_) = table_schema("users").columns
    assert (user_id.name, user_id.type, user_id.description) == (
        "user_id",
        "INTEGER",
        "the app's user id",
    )


def test_column_lineage_names_upstream_assets_and_columns():
    lineage = column_lineage({"user_id": [("staging_events", "userid"), ("users", "user_id")]})
    assert lineage.deps_by_column == {
        "user_id": [
            TableColumnDep(asset_key=AssetKey("staging_events"), column_name="userid"),
            TableColumnDep(asset_key=AssetKey("users"), column_name="user_id"),
        ]
    }


@pytest.mark.parametrize("table", sql_files.TABLE_ASSETS)
def test_every_table_reports_its_rows_schema_and_preview(table, built_duckdb, lake_template):
    metadata = metadata_of(built_duckdb.result, table)
    expected = getattr(compute(lake_template), table)
    assert metadata["dagster/row_count"] == len(expected)
    assert metadata["dagster/column_schema"] == table_schema(table)
    header, rows = markdown_rows(metadata["preview"])
    assert header == [c.name for c in sql_files.columns(table)]
    assert len(rows) == min(5, len(expected))
    if table in KEYED:  # a unique first column: the preview is the first five rows by it
        first = sorted(expected, key=lambda row: row[0])[:5]
        assert rows == [[shown(v) for v in row] for row in first]
        assert metadata["rows_added"] == len(expected) and metadata["rows_changed"] == 0
    else:
        assert metadata["objects_loaded"] == metadata["objects_seen"] > 0
        assert metadata["rows_added"] == len(expected) and metadata["rows_rejected"] == 0


@pytest.mark.parametrize("table", STAR_TABLES)
def test_lineage_names_real_columns_of_the_assets_upstream(table, built_duckdb):
    graph = build_definitions({}).resolve_asset_graph()
    upstream = {k.to_user_string() for k in graph.get(AssetKey(table)).parent_keys}
    columns = {t: {c.name for c in sql_files.columns(t)} for t in sql_files.TABLE_ASSETS}
    lineage = metadata_of(built_duckdb.result, table)["dagster/column_lineage"]
    assert lineage.deps_by_column
    assert set(lineage.deps_by_column) <= columns[table]
    for column, deps in lineage.deps_by_column.items():
        for dep in deps:
            source = dep.asset_key.to_user_string()
            assert source in upstream, (column, source)
            assert dep.column_name in columns[source], (column, source, dep.column_name)


def test_table_metadata_adds_this_runs_counts(built_duckdb_copy):
    with built_duckdb_copy.session() as session:
        metadata = table_metadata(session, "songs", rows_added=3, rows_changed=1)
        assert metadata["dagster/row_count"].value == session.count("songs")
    assert set(metadata) == {
        "dagster/row_count",
        "dagster/column_schema",
        "rows_added",
        "rows_changed",
        "preview",
    }  # no lineage given, none reported
    assert (metadata["rows_added"], metadata["rows_changed"]) == (3, 1)
