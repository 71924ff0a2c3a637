"""The wiring: definitions load, the graph has the expected shape, settings fail clearly."""

import pytest

from sparkify_assets.definitions import ConfigError, build_definitions, build_lake, build_warehouse

# The asset graph, as reviewed: an accidental change to the lineage shows up here.
GRAPH = {
    "staging_events": set(),
    "staging_songs": set(),
    "users": {"staging_events"},
    "time": {"staging_events"},
    "songs": {"staging_songs"},
    "artists": {"staging_songs"},
    "songplays": {"staging_events", "staging_songs", "users", "time", "songs", "artists"},
    "analytics_report": {"songplays", "users", "songs", "artists", "time"},
}


def test_definitions_load_with_no_configuration():
    defs = build_definitions({})
    graph = defs.resolve_asset_graph()
    shape = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert shape == GRAPH
    assert defs.resolve_job_def("sparkify_job").executor_def.name == "in_process"
    assert defs.resolve_job_def("full_refresh_job")


def test_every_asset_says_what_a_row_means():
    graph = build_definitions({}).resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert (
            "row" in (graph.get(key).description or "")
            or key.to_user_string() == "analytics_report"
        )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SPARKIFY_WAREHOUSE": "oracle"},
            "SPARKIFY_WAREHOUSE='oracle' is not supported; use one of: duckdb, postgres, redshift",
        ),
        (
            {"SPARKIFY_WAREHOUSE": "postgres", "SPARKIFY_DB_PORT": "54x"},
            "SPARKIFY_DB_PORT='54x' is not a TCP port",
        ),
        ({"SPARKIFY_LAKE": "/no/such/folder"}, "SPARKIFY_LAKE='/no/such/folder' is not a folder"),
        ({"SPARKIFY_LAKE": "s3://"}, "SPARKIFY_LAKE='s3://' names no bucket"),
        ({"SPARKIFY_LAKE": "gs://bucket/x"}, "SPARKIFY_LAKE='gs://bucket/x' is not supported"),
    ],
)
def test_bad_setting_names_the_variable_and_what_it_accepts(env, message):
    with pytest.raises(ConfigError) as error:
        build_definitions(env)
    assert message in str(error.value)


def test_password_travels_as_env_var_not_as_text(monkeypatch):
    monkeypatch.setenv("SPARKIFY_DB_PASSWORD", "s3cret-value")
    env = {"SPARKIFY_WAREHOUSE": "postgres", "SPARKIFY_DB_PASSWORD": "s3cret-value"}
    warehouse = build_warehouse(env)
    assert "s3cret-value" not in repr(warehouse.__dict__)
    assert "s3cret-value" not in warehouse.location
    assert build_lake({}).url.endswith("sample_lake")


def test_every_asset_is_owned_and_grouped_and_shows_its_engine():
    graph = build_definitions({}).resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert (
            node.owners
            and "duckdb" in node.kinds
            and node.group_name in ("staging", "star", "reports")
        )
