"""Target 5's measurements: the day after a year, loaded by the CLI into (a) a warehouse holding
only the catalogue and (b) one holding the year, both cloned from states saved once. Both timed
runs are the whole graph for the new day's partition (`--partition-range DAY...DAY`), the run
the lake sensor requests when that day arrives."""

from __future__ import annotations

from benchmarks.bench import Bench
from benchmarks.lakes import LakeSpec, compose_lake, ensure_lake, link_tree
from benchmarks.project_graph import all_assets_but


def measure_incremental(bench: Bench, engine, year_spec: LakeSpec, year_base: str | None) -> None:
    """The day after the year, into (a) a warehouse holding only the catalogue and (b) one
    holding the year. Both start from a saved state, cloned for each repetition."""
    year_lake = ensure_lake(year_spec, bench.log)
    day_spec = year_spec.next_day()
    day_lake = ensure_lake(day_spec, bench.log)
    new_day = (day_spec.start.isoformat(),) * 2
    work = bench.work / f"lakes-{engine.name}"
    songs_only = compose_lake(work / "songs-only", [(year_lake, "song_data")])
    empty_plus_day = compose_lake(
        work / "songs-plus-day", [(year_lake, "song_data"), (day_lake, "log_data")]
    )
    year_plus_day = compose_lake(
        work / "year-plus-day", [(year_lake, "song_data"), (year_lake, "log_data")]
    )
    link_tree(day_lake / "log_data", year_plus_day / "log_data")
    entry: dict = {"spec": year_spec, "setup": [], "empty": [], "year": []}
    bench.results.incremental[engine.name] = entry
    bench.log(f"incremental on {engine.name}: year = {year_spec.name}")
    if year_base is None:
        label = f"{engine.name} year setup"
        runs, diagnostic, year_base = bench.load(
            engine, year_spec, year_lake, 1, keep=True, label=label
        )
        entry["setup"] += runs + ([diagnostic] if diagnostic else [])
    if year_base is None:
        entry["error"] = "the year could not be loaded, so there is nothing to add a day to"
        return
    # The catalogue state: every asset but staging_events (the project refuses a lake without
    # log_data/), so that the star tables' watermarks already include the catalogue and the
    # timed run takes in the new day only, as in (b).
    songs_base = engine.fresh()
    entry["setup"].append(
        bench.run(
            f"{engine.name} catalogue setup",
            engine,
            songs_base,
            songs_only,
            select=all_assets_but("staging_events"),
        )
    )
    for rep in range(bench.plan.reps):
        for scenario, base, lake in (
            ("empty", songs_base, empty_plus_day),
            ("year", year_base, year_plus_day),
        ):
            handle = engine.clone(base)
            label = f"{engine.name} day into {scenario} #{rep + 1}"
            entry[scenario].append(bench.run(label, engine, handle, lake, days=new_day))
            engine.drop(handle)
    entry["bases"] = (songs_base, year_base)
    entry["lakes"] = (empty_plus_day, year_plus_day)
    entry["days"] = new_day  # the timed runs' range: a profile of them runs for it too


def release_incremental(bench: Bench) -> None:
    """Drop the saved states the incremental runs were cloned from."""
    for name, entry in bench.results.incremental.items():
        engine = bench.duck if name == "duckdb" else bench.pg
        for base in entry.get("bases", ()):
            engine.drop(base)
