"""The analytics report (assets/reports.py, sql/reports.sql): every answer in the report's
markdown equals the same question answered in plain Python from the reference tables
(tests/reference.py), on DuckDB and on PostgreSQL."""

from __future__ import annotations

import base64
import contextlib
import re
import uuid
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from dagster import materialize

from sparkify_assets.assets.reports import CHARTS, REPORTS, daily_levels, html_table
from sparkify_assets.definitions import ALL_ASSETS
from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from sparkify_assets.resources.engines.postgres import PostgresWarehouse
from sparkify_assets.resources.lake import Lake
from sparkify_assets.settings import build_warehouse
from tests.reference import compute
from tests.support import (
    PG,
    admin_connection,
    drop_database,
    markdown_rows,
    metadata_of,
    run_graph,
    shown,
)

HEADERS = {
    "paid_user_plays": ["first_name", "last_name", "gender", "level", "artist_name", "user_agent"],
    "most_played_songs": ["title", "artist_name", "plays"],
    "most_played_artists": ["artist_name", "plays"],
    "plays_by_hour": ["hour", "plays"],
}


def nulls_last(value):
    return (value is None, "" if value is None else value)


def expected_reports(lake) -> dict[str, list[tuple]]:
    """The analytics team's questions, answered from the reference's star tables."""
    star = compute(lake)
    users = {u[0]: u for u in star.users}  # user_id, first, last, gender, level, last_seen_at
    songs = {s[0]: s for s in star.songs}  # song_id, title, artist_id, year, duration
    artists = {a[0]: a for a in star.artists}  # artist_id, name, location, latitude, longitude
    hours = {t[0]: t[1] for t in star.time}  # start_time, hour, ...
    # songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, agent
    plays = star.songplays

    paid = [p for p in plays if p[3] not in (None, "free") and p[2] in users and p[5] in artists]
    paid.sort(key=lambda p: (p[1], p[0]))
    by_song = Counter(
        (songs[p[4]][1], artists[p[5]][1] if p[5] in artists else None)
        for p in plays
        if p[4] in songs
    )
    by_artist = Counter(artists[p[5]][1] for p in plays if p[5] in artists)
    by_hour = Counter(hours[p[1]] for p in plays if p[1] in hours)
    return {
        "paid_user_plays": [(*users[p[2]][1:4], p[3], artists[p[5]][1], p[8]) for p in paid[:10]],
        "most_played_songs": sorted(
            ((title, name, n) for (title, name), n in by_song.items()),
            key=lambda r: (-r[2], nulls_last(r[0]), nulls_last(r[1])),
        )[:10],
        "most_played_artists": sorted(by_artist.items(), key=lambda r: (-r[1], nulls_last(r[0])))[
            :10
        ],
        "plays_by_hour": sorted(by_hour.items()),
    }


def report_sections(markdown: str) -> dict[str, str]:
    """The report's sections by title: `### <title>` and a markdown table each."""
    sections = {}
    for part in markdown.split("### ")[1:]:
        title, _, table = part.partition("\n\n")
        sections[title] = table
    return sections


def assert_report_answers(result, lake) -> None:
    metadata = metadata_of(result, "analytics_report")
    sections = report_sections(metadata["report"])
    assert list(sections) == list(REPORTS.values())
    for name, expected in expected_reports(lake).items():
        assert expected, f"the lake gives {name} nothing to report"
        header, rows = markdown_rows(sections[REPORTS[name]])
        assert header == HEADERS[name], name
        assert rows == [[shown(v) for v in row] for row in expected], name
        assert metadata[f"{name}_rows"] == len(expected), name


def test_the_report_answers_each_question_on_duckdb(built_duckdb, lake_template):
    assert_report_answers(built_duckdb.result, lake_template)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INLINE_PNG = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def inline_images(text: str) -> list[bytes]:
    return [base64.b64decode(data) for data in INLINE_PNG.findall(text)]


class ReportPage(HTMLParser):
    """An HTML report read back: each table under its <h2> title, as rows of cell texts (the
    header row first), and every start tag seen."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: list[str] = []
        self.title: list[str] | None = None
        self.cell: list[str] | None = None
        self.rows: list[list[str]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "h2":
            self.title = []
        elif tag == "table":
            self.rows = self.tables.setdefault("".join(self.title or []), [])
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("th", "td"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        for text in (self.cell, self.title if self.tags[-1:] == ["h2"] else None):
            if text is not None:
                text.append(data)


def cells(row) -> list[str]:
    return ["NULL" if value is None else str(value) for value in row]


def assert_tables_in_page(page: str, expected: dict[str, list[tuple]]) -> None:
    """The page holds each report as a real table (header cells, then a row per answer, each
    value whole), and no markdown table."""
    tables = ReportPage(page).tables
    assert list(tables) == list(REPORTS.values())
    for name, rows in expected.items():
        header, *body = tables[REPORTS[name]]
        assert header == HEADERS[name], name
        assert body == [cells(row) for row in rows], name
    assert not [line for line in page.splitlines() if line.lstrip().startswith("|")]


def test_the_report_file_holds_html_tables_beside_the_duckdb_file(
    built_duckdb_copy, lake_template, tmp_path, monkeypatch
):
    """Not in the working directory: beside the warehouse it reports on."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = materialize(
        ALL_ASSETS,
        selection=["analytics_report"],
        resources={"warehouse": built_duckdb_copy, "lake": Lake(url=".")},
    )
    path = Path(built_duckdb_copy.path).parent / "analytics_report.html"
    assert metadata_of(result, "analytics_report")["report_file"] == str(path)
    assert_tables_in_page(path.read_text(encoding="utf-8"), expected_reports(lake_template))
    assert list(elsewhere.iterdir()) == []


def test_on_postgres_the_report_file_goes_to_its_setting_or_data(
    built_postgres, lake_template, tmp_path, monkeypatch
):
    """SPARKIFY_REPORT_DIR when set, else data/ in the working directory."""
    monkeypatch.setenv("SPARKIFY_DB_PASSWORD", PG["password"])
    monkeypatch.chdir(tmp_path)
    server = {
        "SPARKIFY_WAREHOUSE": "postgres",
        "SPARKIFY_DB_HOST": PG["host"],
        "SPARKIFY_DB_PORT": str(PG["port"]),
        "SPARKIFY_DB_NAME": built_postgres.database,
        "SPARKIFY_DB_USER": PG["user"],
        "SPARKIFY_DB_PASSWORD": PG["password"],
    }
    expected = expected_reports(lake_template)
    for report_dir, folder in (
        (str(tmp_path / "reports"), tmp_path / "reports"),
        ("", tmp_path / "data"),
    ):
        warehouse = build_warehouse(server | {"SPARKIFY_REPORT_DIR": report_dir})
        materialize(
            ALL_ASSETS,
            selection=["analytics_report"],
            resources={"warehouse": warehouse, "lake": Lake(url=".")},
        )
        page = (folder / "analytics_report.html").read_text(encoding="utf-8")
        # Ties at the tenth row order by the database's collation: the first rows, whole.
        tables = ReportPage(page).tables
        for name, rows in expected.items():
            header, *body = tables[REPORTS[name]]
            assert header == HEADERS[name] and body[:1] == [cells(rows[0])], name


def test_report_tables_escape_the_names_from_the_lake():
    """A title is whatever the lake says: it shows as text and never becomes markup."""
    title = '<script>alert("x")</script> & <b>Ü</b>'
    page = html_table(["title", "plays"], [(title, 3), (None, 1)])
    read = ReportPage(f"<h2>t</h2>{page}")
    assert read.tables == {"t": [["title", "plays"], [title, "3"], ["NULL", "1"]]}
    assert "script" not in read.tags and "b" not in read.tags


def test_the_report_draws_its_charts_in_the_metadata_and_in_its_file(built_duckdb_copy, tmp_path):
    report_path = tmp_path / "reports" / "analytics.html"
    result = materialize(
        ALL_ASSETS,
        selection=["analytics_report"],
        resources={"warehouse": built_duckdb_copy, "lake": Lake(url=".")},
        run_config={"ops": {"analytics_report": {"config": {"report_path": str(report_path)}}}},
    )
    metadata = metadata_of(result, "analytics_report")
    assert metadata["report_file"] == str(report_path)
    charts = re.findall(r"!\[(\w+)\]\(data:image/png;base64,", metadata["report"])
    assert charts == list(CHARTS)
    images = inline_images(metadata["report"])
    assert all(image.startswith(PNG_SIGNATURE) and len(image) > 2_000 for image in images)
    # The file holds the same charts, and the tables.
    page = Path(metadata["report_file"]).read_text(encoding="utf-8")
    assert inline_images(page) == images
    assert all(title in page for title in REPORTS.values())


@pytest.fixture
def postgres_in_byte_order():
    """A PostgreSQL database that sorts text by its bytes (collation C), as Redshift and DuckDB
    do: the reports order titles and names, and ties at the tenth row depend on it."""
    name = f"sparkify_test_{uuid.uuid4().hex[:12]}"
    with contextlib.closing(admin_connection()) as admin, admin.cursor() as cur:
        cur.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
            "LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    try:
        yield PostgresWarehouse(database=name, **PG)
    finally:
        drop_database(name)


def test_the_report_answers_each_question_on_postgres(postgres_in_byte_order, lake_template):
    assert_report_answers(run_graph(postgres_in_byte_order, lake_template), lake_template)


def test_plays_per_day_split_by_level_match_the_reference(built_duckdb, lake_template):
    warehouse = DuckDBWarehouse(path=str(built_duckdb.path))
    with warehouse.connect() as session:
        days, free, paid = daily_levels(session.query("reports", "plays_by_day_and_level")[1])
    expected = Counter((p[1].date(), p[3]) for p in compute(lake_template).songplays)
    assert {(d, "free"): n for d, n in zip(days, free, strict=True)} | {
        (d, "paid"): n for d, n in zip(days, paid, strict=True)
    } == {(d, level): expected.get((d, level), 0) for d in days for level in ("free", "paid")}
    assert sum(free) + sum(paid) == sum(expected.values())
