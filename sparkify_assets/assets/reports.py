"""Analytics reports: the analytics team's questions, answered from the star schema."""

from dagster import AssetExecutionContext, MarkdownMetadataValue, MaterializeResult, asset

from sparkify_assets import load_protocol, sql_files
from sparkify_assets.assets.star import artists, play_times, songplays, songs, users
from sparkify_assets.metadata import markdown_table
from sparkify_assets.resources.engines.base import WAREHOUSE_STEP, Warehouse

REPORTS = {
    "paid_user_plays": "Plays by paid users (the analytics team's first query)",
    "most_played_songs": "Most played songs",
    "most_played_artists": "Most played artists",
    "plays_by_hour": "Plays by hour of day (UTC)",
}


@asset(
    **WAREHOUSE_STEP,
    group_name="reports",
    deps=[songplays, users, songs, artists, play_times],
    kinds={"sql"},
)
def analytics_report(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    """The analytics team's questions over the star schema, answered as markdown tables: plays
    by paid users, the most played songs and artists, and plays by hour of day."""
    sections = []
    metadata = {}
    # A first run may select only part of the graph: absent tables read as empty.
    with load_protocol.reading(warehouse, sql_files.TABLE_ASSETS) as session:
        for name, title in REPORTS.items():
            header, rows = session.query("reports", name)
            sections.append(f"### {title}\n\n{markdown_table(header, rows)}")
            metadata[f"{name}_rows"] = len(rows)
    report = "\n\n".join(sections)
    context.log.info(f"analytics report:\n{report}")
    return MaterializeResult(metadata={"report": MarkdownMetadataValue(report), **metadata})
