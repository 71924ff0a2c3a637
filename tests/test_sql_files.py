"""The SQL in sql/ (sql_files.py): read once in Redshift's dialect, translated for every engine,
identifiers checked, columns read from the CREATE TABLEs."""

import pytest
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
    assert "DISTKEY (start_time)" in create and "SORTKEY (start_time)" in create
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


def test_only_the_projects_tables_and_columns_fill_identifier_slots():
    for name in ("users", "time", "new_staging_events", "recent_users", "staging_events_copy"):
        assert sql_files.identifier(name) == f'"{name}"'
    assert sql_files.identifier("load_objects") == '"load_objects"'
    for name in ('users"; DROP TABLE users; --', "pg_class", "new_nothing", "users_old", ""):
        with pytest.raises(ValueError, match="is not a table of this project"):
            sql_files.identifier(name)
    slots = (("table", "users"), ("columns", "user_id,level"))
    copy = sql_files.engine_statement("postgres", "copy_csv", slots)
    assert copy == 'COPY "users" ("user_id", "level") FROM STDIN WITH (FORMAT csv)'
    with pytest.raises(ValueError, match="'evil' is not a column"):
        sql_files.engine_statement(
            "postgres", "copy_csv", (("table", "users"), ("columns", "evil"))
        )


def test_an_unknown_dialect_or_section_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown SQL dialect 'mysql'"):
        sql_files.statements("users", "create", "mysql")
    with pytest.raises(KeyError, match="sql/users.sql has no section '-- name: nope'"):
        sql_files.statements("users", "nope", "duckdb")


def test_primary_keys_are_dropped_where_redshift_would_not_enforce_them_either():
    assert "PRIMARY KEY" in sql_files.statements("users", "create", "redshift")[0]
    for dialect in ("duckdb", "postgres"):
        assert "PRIMARY KEY" not in sql_files.statements("users", "create", dialect)[0].upper()


def test_a_narrowed_rule_reads_the_recent_rows_under_the_tables_name():
    slots = (("rule", "songplays__key"),)
    (every_row,) = sql_files.statements("checks", "failing_sample", "duckdb", slots=slots)
    (narrowed,) = sql_files.statements(
        "checks", "failing_sample", "duckdb", narrowed=("songplays",), slots=slots
    )
    assert "recent_" not in every_row and "FROM songplays" in every_row
    assert 'FROM "recent_songplays" AS "songplays"' in narrowed


def test_columns_and_statement_kinds_are_read_from_the_sql():
    user_id, first_name, *_ = sql_files.columns("users")
    assert (user_id.name, user_id.type, user_id.not_null, user_id.max_bytes) == (
        "user_id",
        "INTEGER",
        True,
        None,
    )
    assert (first_name.type, first_name.base_type, first_name.max_bytes) == (
        "VARCHAR(256)",
        "VARCHAR",
        256,
    )
    assert first_name.description == "as of the user's latest event"
    assert sql_files.statement_kinds("load_state", "set") == ("delete", "insert")
    # Every engine's own section holds one statement (engine_statement refuses more).
    assert len(sql_files.all_engine_statements()) == sum(
        len(sql_files.sections(f"engines/{e}")) for e in sql_files.DIALECTS
    )


def test_each_added_column_is_in_its_create_table_as_added():
    # A warehouse upgraded by `added_columns` and one created fresh must hold the same columns.
    upgraded = {t: sql_files.added_columns(t) for t in sql_files.tables()}
    assert upgraded["load_batches"] == ("duplicate_events", "repaired_values")
    for table, added in upgraded.items():
        if not added:
            continue
        created = {c.name: c for c in sql_files.columns(table)}
        adds = sql_files.statements(table, "added_columns", "redshift")
        for column, add in zip(added, adds, strict=True):
            assert column in created, f"{table}.{column} is added but not created"
            assert f"ADD COLUMN {column} {created[column].type}" in add
            assert created[column].not_null == ("NOT NULL" in add)


def test_redshift_gets_each_statement_as_written_in_its_file():
    """sqlglot re-generating Redshift SQL changes it (current_schema() would go out as
    CURRENT_SCHEMA, which Redshift has only as a function): Redshift gets the file's text."""
    (privileges,) = sql_files.statements("preflight", "privileges", "redshift")
    assert privileges.count("current_schema()") == 3
    for path in sorted(sql_files.SQL_DIR.glob("*.sql")):
        lines = path.read_text(encoding="utf-8").splitlines()
        # Comments on lines of their own are not sent; everything else is, as written.
        text = " ".join(" ".join(x for x in lines if not x.lstrip().startswith("--")).split())
        for section in sql_files.sections(path.stem):
            if "${" in sql_files.sections(path.stem)[section]:
                continue  # slots filled: compared in test_engines_redshift
            for statement in sql_files.statements(path.stem, section, "redshift"):
                assert " ".join(statement.split()) in text, (path.stem, section)


def test_narrowing_edits_only_the_table_names_on_redshift():
    slots = (("rule", "users__matches_staging"),)
    (plain,) = sql_files.statements("checks", "failing_sample", "redshift", slots=slots)
    (narrowed,) = sql_files.statements(
        "checks", "failing_sample", "redshift", narrowed=("users", "staging_events"), slots=slots
    )
    assert "recent_" not in plain
    # Each read of the two tables is edited (the SQL reads each twice, under an alias).
    assert plain.count("FROM staging_events AS e") == plain.count("FROM users AS u") == 2
    assert narrowed == plain.replace(
        "FROM staging_events AS e", 'FROM "recent_staging_events" AS e'
    ).replace("FROM users AS u", 'FROM "recent_users" AS u')
    assert (
        narrowed.replace('"recent_staging_events"', "staging_events").replace(
            '"recent_users"', "users"
        )
        == plain
    )
