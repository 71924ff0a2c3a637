"""Analytics reports: the analytics team's questions, answered from the star schema, as charts
(charts.py) and tables, in the asset's metadata and in one HTML file."""

import html
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    Config,
    MarkdownMetadataValue,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from sparkify_assets import charts, load_protocol, sql_files
from sparkify_assets.assets.staging import ONE_RUN
from sparkify_assets.assets.star import artists, play_times, songplays, songs, users
from sparkify_assets.automation import AFTER_INPUTS_CHANGE
from sparkify_assets.failures import refusals_fail_at_once
from sparkify_assets.metadata import as_text, markdown_table
from sparkify_assets.resources.engines.base import WAREHOUSE_STEP, Session, Warehouse

# The questions shown as tables too (sql/reports.sql), with their titles.
REPORTS = {
    "paid_user_plays": "Plays by paid users (the analytics team's first query)",
    "most_played_songs": "Most played songs",
    "most_played_artists": "Most played artists",
    "plays_by_hour": "Plays by hour of day (UTC)",
}
CHARTS = ("plays_per_hour", "plays_per_day", "paid_share", "top_songs", "top_artists")
REPORT_FILE = "analytics_report.html"  # in the warehouse's report folder
TABLE_STYLE = (
    "body{font-family:sans-serif} table{border-collapse:collapse} "
    "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}"
)


class ReportConfig(Config):
    report_path: str | None = Field(
        default=None,
        description="Where the report is written as one HTML file (relative to the working "
        "directory of the run). Default: analytics_report.html in the warehouse's report folder "
        "(SPARKIFY_REPORT_DIR, or beside the DuckDB file).",
    )


def daily_levels(rows) -> tuple[list[date], list[int], list[int]]:
    """(day, level, plays) rows as days with their free and paid plays."""
    plays: dict[date, dict[str, int]] = defaultdict(lambda: {"free": 0, "paid": 0})
    for day, level, count in rows:
        by_level = plays[day]
        if level in by_level:  # the level domain check reports any other value
            by_level[level] += count
    days = sorted(plays)
    return days, [plays[d]["free"] for d in days], [plays[d]["paid"] for d in days]


def draw(session: Session, answers: dict[str, list]) -> dict[str, bytes]:
    """Every chart of the report, as PNG images by name."""
    days, free, paid = daily_levels(session.query("reports", "plays_by_day_and_level")[1])
    share = [p / (f + p) if f + p else 0.0 for f, p in zip(free, paid, strict=True)]
    hours = answers["plays_by_hour"]
    songs_ = answers["most_played_songs"]
    artists_ = answers["most_played_artists"]
    return {
        "plays_per_hour": charts.plays_per_hour([h for h, _ in hours], [n for _, n in hours]),
        "plays_per_day": charts.plays_per_day(days, free, paid),
        "paid_share": charts.paid_share(days, share),
        "top_songs": charts.top(
            "Most played songs", [f"{t} ({a})" for t, a, _ in songs_], [n for *_, n in songs_]
        ),
        "top_artists": charts.top(
            "Most played artists", [str(a) for a, _ in artists_], [n for _, n in artists_]
        ),
    }


def html_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """One HTML table; every name and value escaped (titles and names come from the lake)."""

    def cells(tag: str, values: Sequence[Any]) -> str:
        return "".join(f"<{tag}>{html.escape(as_text(v))}</{tag}>" for v in values)

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return f"<table><thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody></table>"


def write_html(path: Path, sections: Sequence[tuple[str, str]], images: dict[str, bytes]) -> None:
    """The report as one self-contained HTML file: charts inline, then each (title, HTML table)
    of `sections`."""
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Sparkify analytics report</title>",
        f"<style>{TABLE_STYLE}</style>",
        "<h1>Sparkify analytics report</h1>",
    ]
    for name, image in images.items():
        parts.append(f"<p><img alt='{name}' src='{charts.data_uri(image)}'></p>")
    for title, table in sections:
        parts.append(f"<h2>{html.escape(title, quote=False)}</h2>{table}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")


@multi_asset(
    specs=[
        AssetSpec(
            "analytics_report",
            group_name="reports",
            deps=[songplays, users, songs, artists, play_times],
            kinds={"sql"},
            automation_condition=AFTER_INPUTS_CHANGE,
            description="The analytics team's questions over the star schema: charts of plays "
            "per hour, plays per day by free and paid users, the paid share over time and the "
            "most played songs and artists; tables of plays by paid users, the top songs and "
            "artists, and plays by hour.",
        )
    ],
    backfill_policy=ONE_RUN,
    **WAREHOUSE_STEP,
)
def analytics_report(
    context: AssetExecutionContext, config: ReportConfig, warehouse: Warehouse
) -> MaterializeResult:
    answers: dict[str, list] = {}
    # A first run may select only part of the graph: absent tables read as empty.
    tables_read = sql_files.TABLE_ASSETS
    with refusals_fail_at_once(), load_protocol.reading(warehouse, tables_read) as session:
        for name in REPORTS:
            answers[name] = session.query("reports", name)
        images = draw(session, {name: rows for name, (_, rows) in answers.items()})
    charts_md = "\n\n".join(
        f"![{name}]({charts.data_uri(image)})" for name, image in images.items()
    )
    tables_md = "\n\n".join(
        f"### {title}\n\n{markdown_table(*answers[name])}" for name, title in REPORTS.items()
    )
    path = Path(config.report_path or warehouse.report_folder() / REPORT_FILE)
    write_html(path, [(REPORTS[name], html_table(*answers[name])) for name in REPORTS], images)
    context.log.info(f"analytics report: {len(images)} charts, written to {path}")
    return MaterializeResult(
        metadata={
            "report": MarkdownMetadataValue(f"{charts_md}\n\n{tables_md}"),
            "report_file": MetadataValue.path(str(path.resolve())),
            **{f"{name}_rows": len(rows) for name, (_, rows) in answers.items()},
        }
    )
