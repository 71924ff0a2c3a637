"""The SQL in sql/ (sql_files.py): read once in Redshift's dialect, translated for every engine,
identifiers checked, columns read from the CREATE TABLEs."""

import sqlglot

from sparkify_assets import sql_files


def test_every_sql_file_translates_for_every_engine():
    translated = sql_files.all_statements()
    for (name, section, dialect), statements in translated.items():
        assert statements, (name, section, dialect)
        for statement in statements:
            sqlglot.parse_one(statement, read=dialect)  # what we send parses back
            if dialect != "redshift":
                for word in ("DISTKEY", "SORTKEY", "DISTSTYLE"):
                    assert word not in statement.upper().replace("_", " ").split("*/")[-1]


def test_redshift_text_keeps_distribution_and_sort_keys():
    (create,) = sql_files.statements("songplays", "create", "redshift")
    assert "DISTKEY(start_time)" in create and "SORTKEY(start_time)" in create
    (create,) = sql_files.statements("users", "create", "redshift")
    assert "DISTSTYLE ALL" in create


def test_staging_columns_follow_the_jsonpaths():
    for table, count in (("staging_events", 18), ("staging_songs", 10)):
        keys = sql_files.json_keys(table)
        assert len(keys) == count
        names = [c.name for c in sql_files.columns(table)]
        assert names[:count] == [k.lower() for k in keys]
        assert names[count:] == ["source_key", "source_line", "load_batch"]


def test_every_table_column_is_described():
    for table in sql_files.TABLE_ASSETS:
        undescribed = [c.name for c in sql_files.columns(table) if not c.description]
        assert undescribed == [], table
