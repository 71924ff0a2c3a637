"""The Dagster UI as the team meets it: the asset graph, "Materialize all" over the lake's days,
the event log's partitions, an asset's checks.

Starts `dagster-webserver -w workspace.yaml` on a free loopback port, and `dagster-daemon` while
a backfill needs it (see `tests/ui_server.py`), and drives Debian's headless Chromium through them
with Selenium: the global asset graph shows every asset and group; "Materialize all" opens the
partitions dialog (`staging_events` is partitioned by day), where the sample lake's days are
picked as one range and launched as a backfill; the daemon runs it with one run over the whole
range for `staging_events` (its single-run backfill policy), the other assets in runs of their
own (Dagster does not put an unpartitioned asset in the run of a partitioned one), every run
succeeds and the tables hold what the reference computes from the lake. The Partitions tab of
`staging_events` counts the lake's days materialized and every other day missing, and a day
shows its own objects and rows. An asset's page shows its description, row count and columns,
and its freshness policy as Dagster's freshness daemon judged it (Passing after the load, Failed
once its latest load is 27 hours old); its Checks tab lists every check, passed.
What the definitions hold (assets, groups, checks, sensors) is read from `defs`, so the test
follows them.

Screenshots go to the test's tmp folder always, and with SPARKIFY_UPDATE_SCREENSHOTS=1 also to
`docs/images/` (the README shows `docs/images/asset-graph.png` and
`docs/images/staging-events-partitions.png`).

Without Chromium, chromedriver or selenium it skips and says why; with SPARKIFY_REQUIRE_SERVICES=1
(as CI sets) it fails instead.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, DefaultScheduleStatus, DefaultSensorStatus

from sparkify_assets import event_days, sql_files
from sparkify_assets.assets.reports import CHARTS
from sparkify_assets.definitions import defs
from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from sparkify_assets.resources.lake import SAMPLE_LAKE
from tests.reference import compute, data_objects
from tests.support import (
    REPO,
    assert_matches_reference,
    evaluate_freshness,
    record_loads,
    service_unavailable,
)
from tests.ui_server import browser_unavailable, chromium, dagster_daemon, dagster_webserver

UPDATE_SCREENSHOTS = os.environ.get("SPARKIFY_UPDATE_SCREENSHOTS") == "1"
DOCS_IMAGES = REPO / "docs" / "images"
# The issue names these; whatever else `defs` holds is expected too.
NAMED_ASSETS = {
    "log_data",
    "song_data",
    "staging_events",
    "staging_songs",
    "users",
    "songs",
    "artists",
    "time",
    "songplays",
    "analytics_report",
}
CHECKED_ASSET = "songplays"  # the asset whose page and Checks tab the test opens
EVENTS_ASSET = "staging_events"  # the asset partitioned by day, whose Partitions tab it opens
REPORT_ASSET = "analytics_report"  # the asset whose charts the test looks at
# What the asset page says of the freshness policy's window (SPARKIFY_FRESH_WITHIN_HOURS: 26).
FAIL_WINDOW = "Fails if more than 26 hours since last materialization"
# The box of the status row, and the section beside the page, both headed "Freshness policy".
FRESHNESS_SECTION = "//*[normalize-space(text())='Freshness policy']/.."
WAIT = 30  # seconds for anything on a page to show
# Seconds for the whole backfill: the daemon looks at it every 30 s, and starts the runs of what
# is downstream of a run once that run is done.
BACKFILL_TIMEOUT = 300
# What the graph's nodes show (the node facet settings a user picks in the graph's toolbar): the
# description (what one row means), owners, checks, materialization status and kinds.
NODE_FACETS = ["description", "owner", "checks", "status", "kind-tag"]
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
RANGE_START, RANGE_END = event_days.RANGE_START_TAG, event_days.RANGE_END_TAG
# What a partition's panel shows of a day never materialized.
NO_MATERIALIZATION = "Latest materialization None"
BACKFILL_TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


GRAPH = defs.resolve_asset_graph()


def _asset_names() -> dict[str, str]:
    """Asset name -> group, of every asset in the definitions (the lake's too)."""
    return {key.to_user_string(): GRAPH.get(key).group_name for key in GRAPH.get_all_asset_keys()}


def _materializable() -> set[str]:
    return {
        k.to_user_string() for k in GRAPH.get_all_asset_keys() if GRAPH.get(k).is_materializable
    }


def _unpartitioned() -> set[str]:
    return {a for a in _materializable() if not GRAPH.get(AssetKey(a)).is_partitioned}


def _description(asset: str) -> str:
    return GRAPH.get(AssetKey(asset)).description or ""


def _check_names(asset: str) -> list[str]:
    """Every check of `asset`: its own (a star table's audit) and the separate ones."""
    definitions = [*(defs.assets or []), *(defs.asset_checks or [])]
    return sorted(
        spec.name
        for definition in definitions
        for spec in getattr(definition, "check_specs", ())
        if spec.asset_key.to_user_string() == asset
    )


def lake_days(lake: Path) -> dict[str, dict[str, int]]:
    """Each day of the lake's event log (its keys name their days): its objects, and the rows the
    reference stages and rejects from them (a row keeps the key of its object)."""
    names = [c.name for c in sql_files.columns(EVENTS_ASSET) if c.name != "load_batch"]
    key_at = names.index("source_key")
    days: dict[str, dict[str, int]] = {}
    for key, _ in data_objects(str(lake)):
        if key.startswith("log_data/"):
            day = event_days.day_named_in(key)
            days.setdefault(day, {"objects": 0, "rows": 0, "rejected": 0})["objects"] += 1
    expected = compute(lake)
    for row in expected.staging_events:
        days[event_days.day_named_in(row[key_at])]["rows"] += 1
    for table, key, _line in expected.rejects:
        if table == EVENTS_ASSET:
            days[event_days.day_named_in(key)]["rejected"] += 1
    return days


def days_between(first: str, last: str) -> list[str]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def partition_count() -> int:
    """How many days the event log's partitions hold today, on the server's default first day."""
    return event_days.daily_partitions(event_days.DEFAULT_FIRST_DAY).get_num_partitions()


def _text(value: str) -> str:
    """Text as the page shows it: markdown code marks gone, whitespace collapsed."""
    return " ".join(value.replace("`", "").split())


def _literal(value: str) -> str:
    """`value` as an XPath string literal."""
    return f'"{value}"' if '"' not in value else f"'{value}'"


@pytest.fixture
def browser(tmp_path):
    reason = browser_unavailable()
    if reason:
        service_unavailable(reason)
    with chromium(tmp_path) as driver:
        yield driver


@pytest.fixture
def server(browser, tmp_path):
    with dagster_webserver(tmp_path) as webserver:
        yield webserver


class Page:
    """The browser on the webserver, with explicit waits and screenshots."""

    def __init__(self, driver, server, shots: Path):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.server, self.shots = driver, server, shots
        self.By, self.WebDriverWait = By, WebDriverWait
        self.daemon = None  # the daemon, once one runs: its log tells what a backfill did

    def open(self, path: str) -> None:
        self.driver.get(self.server.url + path)

    def until(self, what: str, condition, timeout: float = WAIT):
        return self.WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(
            lambda _driver: condition(), message=f"waited {timeout:.0f} s for {what}"
        )

    def visible(self, xpath: str) -> list:
        found = []
        for element in self.driver.find_elements(self.By.XPATH, xpath):
            try:
                if element.is_displayed():
                    found.append(element)
            except Exception:  # re-rendered between find and check: look again next poll
                return []
        return found

    def wait_visible(self, what: str, xpath: str, timeout: float = WAIT):
        return self.until(what, lambda: self.visible(xpath), timeout)[0]

    def click(self, what: str, xpath: str) -> None:
        self.until(f"{what} to be clickable", lambda: self._click(xpath))

    def _click(self, xpath: str) -> bool:
        for element in self.visible(xpath):
            try:
                if element.is_enabled():
                    element.click()
                    return True
            except Exception:  # covered or re-rendered: try again
                return False
        return False

    def checked(self, xpath: str) -> list[bool] | None:
        """Whether each checkbox at `xpath` is checked (a switch's own input is drawn over, so
        not "displayed"); None when the page re-rendered in between."""
        try:
            return [e.is_selected() for e in self.driver.find_elements(self.By.XPATH, xpath)]
        except Exception:
            return None

    def text_of(self, xpath: str) -> str:
        """The text of the first visible element at `xpath`, or "" when there is none yet."""
        try:
            return " ".join(_text(e.text) for e in self.visible(xpath)[:1])
        except Exception:  # gone between find and read
            return ""

    def body_text(self) -> str:
        try:
            return _text(self.driver.find_element(self.By.TAG_NAME, "body").text)
        except Exception:
            return ""

    def wait_text(self, what: str, text: str, timeout: float = WAIT) -> None:
        self.until(what, lambda: _text(text) in self.body_text(), timeout)

    def settled(self, what: str, probe, timeout: float = 10) -> None:
        """Wait until `probe()` gives the same answer twice in a row (an animation is over)."""
        last = [object()]

        def same() -> bool:
            now = probe()
            if now == last[0]:
                return True
            last[0] = now
            return False

        self.WebDriverWait(self.driver, timeout, poll_frequency=0.3).until(
            lambda _driver: same(), message=f"waited {timeout:.0f} s for {what} to settle"
        )

    def screenshot(self, name: str, publish: bool = False) -> None:
        self.driver.save_screenshot(str(self.shots / name))
        if publish and UPDATE_SCREENSHOTS:
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(DOCS_IMAGES / name))


@contextmanager
def diagnosed(page: Page):
    """On a failure, keep a screenshot of the page and the webserver's last log lines."""
    try:
        yield
    except BaseException as exc:
        try:
            page.screenshot("failure.png")
            exc.add_note(f"page: {page.driver.current_url}; screenshots in {page.shots}")
        except Exception:
            pass
        exc.add_note("dagster-webserver log, last lines:\n" + page.server.log_tail())
        if page.daemon:
            exc.add_note("dagster-daemon log, last lines:\n" + page.daemon.log_tail())
        raise


def node_xpath(name: str) -> str:
    """An asset's name on its node in the graph (nodes are HTML inside SVG foreignObjects)."""
    return (
        "//*[local-name()='foreignObject']"
        f"//div[contains(@class, 'assetName')][normalize-space()={_literal(name)}]"
    )


def group_xpath(name: str) -> str:
    return f"//*[local-name()='foreignObject']//*[normalize-space(text())={_literal(name)}]"


def open_asset_graph(page: Page, assets: dict[str, str]) -> None:
    """The global asset graph, full width, every group expanded, every asset on screen."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    # Groups open from a known state, collapsed: the page keeps which were open.
    page.driver.execute_script(
        "Object.keys(localStorage).filter(k => k.startsWith('asset-graph-open-graph-nodes'))"
        ".forEach(k => localStorage.removeItem(k));"
    )
    page.open("/asset-groups")
    page.wait_visible(
        "the 'Materialize all' button",
        "//button[starts-with(normalize-space(), 'Materialize all')]",
    )
    for group in sorted(set(assets.values())):
        page.wait_visible(f"group {group} on the graph", group_xpath(group))
    # The sidebar (a tree of groups) off, so the graph gets the width.
    page.click(
        "the button that hides the sidebar", "//button[.//*[@aria-label='panel_show_right']]"
    )
    page.until("the sidebar to close", lambda: not page.visible("//input[@placeholder='Jump to…']"))
    # The graph's own shortcut for "Expand all groups" (⌥E); the new layout fits the width.
    ActionChains(page.driver).key_down(Keys.ALT).send_keys("e").key_up(Keys.ALT).perform()
    page.until("every group to expand", lambda: "expanded=" in page.driver.current_url)
    try:
        page.until(
            "every asset on the graph", lambda: all(page.visible(node_xpath(n)) for n in assets)
        )
    except TimeoutException:
        missing = [n for n in sorted(assets) if not page.visible(node_xpath(n))]
        raise AssertionError(f"the asset graph does not show: {missing}") from None
    page.settled(
        "the graph layout", lambda: [e.rect for e in page.visible(node_xpath(sorted(assets)[0]))]
    )


def launch_days(page: Page, first: str, last: str) -> str:
    """From the graph: "Materialize all", the days `first` to `last` typed as one range in the
    partitions dialog (which opens on the recent days only: every day shown first), "Launch
    backfill"; the id of the backfill the page says it created."""
    page.click("'Materialize all'", "//button[starts-with(normalize-space(), 'Materialize all')]")
    page.wait_text(
        "the partitions dialog", f"Launch runs to materialize {len(_materializable())} assets"
    )
    page.click(
        "'Show all partitions'",
        "//*[self::a or self::button][normalize-space()='Show all partitions']",
    )
    days = page.wait_visible(
        "the partition range input", "//input[starts-with(@placeholder, 'ex: ')]"
    )
    days.click()
    days.send_keys(f"[{first}...{last}]\n")
    span = len(days_between(first, last))
    page.wait_text("the days to be selected", f"Partition selection {span} partitions")
    page.screenshot("partitions-dialog.png")
    page.click("'Launch backfill'", "//button[normalize-space()='Launch backfill']")
    notice = page.until(
        "the 'Created backfill' notice",
        lambda: page.text_of("//*[starts-with(normalize-space(), 'Created backfill')]"),
    )
    return notice.removeprefix("Created backfill").split()[0]


BACKFILL = """query ($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status } ... on PythonError { message } } }"""
BACKFILL_RUNS = """query ($id: String!) { runsOrError(filter: {tags: [
  {key: "dagster/backfill", value: $id}]}) { ... on Runs { results {
  runId status tags { key value } assetSelection { path } } } } }"""
RUN_PARTITIONS = """query ($id: ID!) { logsForRun(runId: $id, limit: 100000) {
  ... on EventConnection { events { ... on MaterializationEvent {
  assetKey { path } partition } } } } }"""


def backfill_runs(page: Page, backfill_id: str) -> list[dict]:
    """The runs of the backfill: id, status, tags (a dict) and the assets each materializes."""
    data = page.server.graphql(BACKFILL_RUNS, {"id": backfill_id})
    return [
        run
        | {
            "tags": {t["key"]: t["value"] for t in run["tags"]},
            "assets": sorted("/".join(a["path"]) for a in run["assetSelection"] or []),
        }
        for run in data["runsOrError"]["results"]
    ]


def run_of(page: Page, backfill_id: str, asset: str) -> dict:
    """The backfill's run that materializes `asset`, once it has finished (its status)."""

    def finished():
        runs = [r for r in backfill_runs(page, backfill_id) if asset in r["assets"]]
        if runs:
            return runs[0] if runs[0]["status"] in TERMINAL else None
        status = backfill_status(page, backfill_id)
        assert status not in BACKFILL_TERMINAL, (
            f"backfill {backfill_id} {status}, no run of {asset}"
        )
        return None

    return page.until(f"the backfill's run of {asset} to finish", finished, BACKFILL_TIMEOUT)


def backfill_status(page: Page, backfill_id: str) -> str:
    answer = page.server.graphql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
    assert answer["__typename"] == "PartitionBackfill", answer
    return answer["status"]


def wait_for_runs(page: Page, backfill_id: str) -> list[dict]:
    """The backfill's runs, once each has finished and together they hold every asset (or the
    backfill has finished: a failed run holds back what is downstream of it)."""

    def finished():
        runs = backfill_runs(page, backfill_id)
        if not runs or any(r["status"] not in TERMINAL for r in runs):
            return None
        if {a for r in runs for a in r["assets"]} >= _materializable():
            return runs
        return runs if backfill_status(page, backfill_id) in BACKFILL_TERMINAL else None

    return page.until(f"the runs of backfill {backfill_id} to finish", finished, BACKFILL_TIMEOUT)


def wait_for_backfill(page: Page, backfill_id: str) -> str:
    """The backfill's status, once the daemon has done with it."""

    def status():
        value = backfill_status(page, backfill_id)
        return value if value in BACKFILL_TERMINAL else None

    return page.until(f"backfill {backfill_id} to finish", status, BACKFILL_TIMEOUT)


def partitions_of(page: Page, run_id: str, asset: str) -> set[str]:
    """The partitions of `asset` the run materialized."""
    events = page.server.graphql(RUN_PARTITIONS, {"id": run_id})["logsForRun"]["events"]
    return {
        e["partition"]
        for e in events
        if e.get("assetKey") and "/".join(e["assetKey"]["path"]) == asset
    }


def open_partitions(page: Page, asset: str, materialized: int) -> None:
    """The asset's Partitions tab, once it counts `materialized` partitions materialized, none
    failed, and every other day missing (as many days as there are today: the page's or now's, if
    midnight passed in between)."""
    before = partition_count()
    page.open(f"/assets/{asset}?view=partitions")
    page.wait_text("the count of materialized partitions", f"Materialized ({materialized})")
    page.wait_text("the count of failed partitions", "Failed (0)")
    page.until(
        "the count of missing partitions",
        lambda: any(
            f"Missing ({total - materialized})" in page.body_text()
            for total in {before, partition_count()}
        ),
    )


def list_row(day: str | None = None) -> str:
    """XPath of the row of `day` (or of any day) in the Partitions tab's list: its name, beside
    its status dot (the panel's heading names the day too, without a dot)."""
    named = f"[@data-tooltip={_literal(day)}]" if day else "[@data-tooltip]"
    return f"//div{named}[following-sibling::div]"


def open_partition(page: Page, day: str) -> None:
    """One day of the open Partitions tab: its row in the list (found by typing its month into
    the list's filter), clicked; its own panel beside the list."""
    search = page.wait_visible("the partitions' filter", "//input[@placeholder='Filter by name…']")
    if search.get_attribute("value") != day[:7]:
        search.clear()
        search.send_keys(day[:7])
    page.click(f"partition {day} in the list", list_row(day))
    page.until(f"partition {day}'s panel", lambda: f"partition={day}" in page.driver.current_url)


def frame_partition(page: Page, last_entry: str) -> None:
    """For the picture: the open partition's panel scrolled down to its metadata entry
    `last_entry`, and the list to its end (the month's first day: it runs newest first)."""
    entry = page.wait_visible(
        f"metadata entry {last_entry}", f"//tr[td[1][normalize-space()={_literal(last_entry)}]]"
    )
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", entry)
    row = page.wait_visible("a row of the list", list_row())
    page.driver.execute_script(
        "let e = arguments[0];"
        "while (e && !(e.scrollHeight > e.clientHeight"
        " && getComputedStyle(e).overflowY !== 'visible')) e = e.parentElement;"
        "e.scrollTop = e.scrollHeight;",
        row,
    )
    page.settled("the list", lambda: [(e.text, e.rect["y"]) for e in page.visible(list_row())])


def metadata_value(page: Page, label: str) -> str:
    """The value beside metadata entry `label` in the open partition's table ("" until shown)."""
    return page.text_of(f"//tr[td[1][normalize-space()={_literal(label)}]]/td[2]")


def open_checks_tab(page: Page, asset: str, checks: list[str]) -> None:
    page.open(f"/assets/{asset}")
    page.click("the Checks tab", "//*[self::a or self::button][normalize-space()='Checks']")
    page.until("the Checks tab to open", lambda: "view=checks" in page.driver.current_url)
    page.wait_text("the number of checks", f"Checks ({len(checks)})")
    for name in checks:
        page.wait_visible(f"check {name}", f"//*[normalize-space(text())={_literal(name)}]")


def check_row(name: str, checks: list[str]) -> str:
    """XPath of check `name`'s row in the Checks tab's list: the largest element around its name
    that holds no other check's name."""
    others = " or ".join(f"normalize-space(text())={_literal(o)}" for o in checks if o != name)
    return f"//*[normalize-space(text())={_literal(name)}]/ancestor::*[not(.//*[{others}])][last()]"


def evaluate_freshness_once(server, hours_ago: float | None = None) -> str:
    """One iteration of Dagster's freshness daemon on the webserver's instance, after a load of
    the checked asset `hours_ago` hours ago if given; its state. (While the daemon runs for the
    backfill, its own iterations judge the same loads the same way.)"""
    with DagsterInstance.from_config(str(server.home)) as instance:
        if hours_ago is not None:
            record_loads(instance, [CHECKED_ASSET], hours_ago=hours_ago)
        return evaluate_freshness(instance, {}, server.home.parent)[CHECKED_ASSET]


def open_freshness(page: Page, asset: str, status: str) -> None:
    """The asset's page, once its freshness policy shows `status` (Passing, Warning, Failed)."""
    page.open(f"/assets/{asset}")
    page.until(
        f"the freshness policy to show {status}",
        lambda: any(
            _text(box.text) == f"Freshness policy {status}"
            for box in page.visible(FRESHNESS_SECTION)
        ),
    )


def automation_row(name: str) -> str:
    """XPath of the Automation page's row of sensor or schedule `name`: the largest element
    around its name that holds one switch."""
    switch = ".//*[contains(@class, 'formatSwitch')]"
    return f"//*[normalize-space(text())={_literal(name)}]/ancestor::*[count({switch}) = 1][last()]"


def run_failures(page: Page, run_id: str) -> str:
    """The failure messages of a run, for the assertion message."""
    data = page.server.graphql(
        """query ($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
             __typename ... on MessageEvent { message level } } } } }""",
        {"id": run_id},
    )
    events = data["logsForRun"].get("events", [])
    return "\n".join(e["message"] for e in events if e.get("level") in ("ERROR", "CRITICAL"))


def test_asset_graph_materialize_all_and_checks(browser, server, tmp_path):
    assets = _asset_names()
    assert NAMED_ASSETS <= set(assets), f"definitions lack {sorted(NAMED_ASSETS - set(assets))}"
    checks = _check_names(CHECKED_ASSET)
    assert checks, f"no checks defined on {CHECKED_ASSET}"
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = Page(browser, server, shots)
    # The lake the webserver serves (the embedded default); the days the test launches, from its
    # first to its last; one of them whose partition it opens, and the day after them.
    days = lake_days(SAMPLE_LAKE)
    first, last = min(days), max(days)
    in_range = days_between(first, last)
    day = sorted(days)[len(days) // 2]
    after = (dt.date.fromisoformat(last) + dt.timedelta(days=1)).isoformat()

    with diagnosed(page), ExitStack() as daemon:
        # Same origin first, to set what a returning user would have: the community pop-up
        # dismissed, the navigation collapsed (more room for the graph), the node facets.
        page.open("/server_info")
        browser.execute_script(
            "localStorage.setItem('communityNux', '\"1\"');"
            "localStorage.setItem('dagster-nav-collapsed', 'true');"
            "localStorage.setItem('asset-node-facets', arguments[0]);",
            json.dumps(NODE_FACETS),
        )

        # 1. The asset graph shows every group and every asset, the lake's first.
        open_asset_graph(page, assets)
        page.screenshot("asset-graph-before-run.png")

        # 2. "Materialize all" opens the partitions dialog; the lake's days, typed as one range,
        # are launched as a backfill, which the daemon turns into runs. The daemon starts now:
        # it takes a backfill up at its first look, then looks every 30 s (started before the
        # launch, it would have looked just before it, and the backfill would wait).
        backfill_id = launch_days(page, first, last)
        page.daemon = daemon.enter_context(dagster_daemon(server))
        # One run over the whole range materializes staging_events, every day of it.
        events_run = run_of(page, backfill_id, EVENTS_ASSET)
        assert events_run["status"] == "SUCCESS", (
            f"run {events_run['runId']} ended {events_run['status']}:\n"
            + run_failures(page, events_run["runId"])
        )
        assert (events_run["tags"].get(RANGE_START), events_run["tags"].get(RANGE_END)) == (
            first,
            last,
        ), events_run["tags"]
        assert partitions_of(page, events_run["runId"], EVENTS_ASSET) == set(in_range)

        # 3. While the rest of the graph loads: the Partitions tab of staging_events counts the
        # lake's days materialized and every other day missing; a day after the lake's shows no
        # materialization; a day of the lake shows its objects and rows.
        open_partitions(page, EVENTS_ASSET, len(in_range))
        open_partition(page, after)
        page.wait_text(f"{after} without a materialization", f"{after} {NO_MATERIALIZATION}")
        open_partition(page, day)
        page.wait_text(f"{day} materialized", f"{day} Materialized")
        expected = {
            "day_objects": days[day]["objects"],
            "dagster/partition_row_count": days[day]["rows"],
            "day_rows_rejected": days[day]["rejected"],
        }
        for label, value in expected.items():
            page.until(
                f"{day}'s {label} to show {value}",
                lambda label=label, value=value: metadata_value(page, label) == str(value),
            )
        frame_partition(page, "day_duplicate_events")
        page.screenshot("staging-events-partitions.png", publish=True)

        # Every run of the backfill succeeds: staging_events is in one run only, the assets that
        # are not partitioned in runs of their own (Dagster puts no unpartitioned asset in a
        # partitioned one's run), each asset in exactly one run; no other run started (no sensor
        # ticked). The tables hold what the reference computes from the lake.
        runs = wait_for_runs(page, backfill_id)
        failed = {r["runId"]: r["status"] for r in runs if r["status"] != "SUCCESS"}
        assert not failed, f"runs of backfill {backfill_id} not succeeded: {failed}\n" + "\n".join(
            run_failures(page, run_id) for run_id in failed
        )
        assert [r["runId"] for r in runs if EVENTS_ASSET in r["assets"]] == [events_run["runId"]]
        assert sorted(a for r in runs for a in r["assets"]) == sorted(_materializable())
        others = [r for r in runs if r["runId"] != events_run["runId"]]
        assert not [r["tags"] for r in others if RANGE_START in r["tags"]]
        every_run = page.server.graphql("{ runsOrError { ... on Runs { results { runId } } } }")
        assert {r["runId"] for r in every_run["runsOrError"]["results"]} == {
            r["runId"] for r in runs
        }
        assert_matches_reference(DuckDBWarehouse(path=str(server.warehouse_path)), SAMPLE_LAKE)
        page.open(f"/runs/{events_run['runId']}")
        page.wait_visible("the run's status: Success", "//*[normalize-space(text())='Success']")
        page.wait_text("the run's events", "RUN_SUCCESS")
        page.screenshot("run.png")

        # 4. Back on the graph, every asset that is not partitioned shows its materialization
        # (staging_events shows its count of partitions); this is the README's picture.
        open_asset_graph(page, assets)
        page.until(
            "every node to show its materialization",
            lambda: (
                len(
                    page.visible(
                        "//*[local-name()='foreignObject']//*[normalize-space(text())='Materialized']"
                    )
                )
                >= len(_unpartitioned())
            ),
        )
        # One step out, so the tallest group's title clears the toolbar at the top.
        slider = "//*[@role='slider'][@aria-valuenow]"
        page.click("the graph's zoom-out button", "//button[.//*[@aria-label='zoom_out']]")
        page.settled(
            "the zoom",
            lambda: [e.get_attribute("aria-valuenow") for e in page.visible(slider)],
        )
        page.screenshot("asset-graph.png", publish=True)

        # 5. An asset's page: what one row means, its row count, its columns; and, the daemon
        # having judged it again, its freshness policy passing.
        assert evaluate_freshness_once(server) == "PASS"
        open_freshness(page, CHECKED_ASSET, "Passing")
        page.wait_text(f"{CHECKED_ASSET}'s description", _description(CHECKED_ASSET))
        page.wait_text("the row count", "Row count")
        for column in sql_files.columns(CHECKED_ASSET):
            page.wait_visible(
                f"column {column.name}", f"//td[normalize-space()={_literal(column.name)}]"
            )
            description = getattr(column, "description", None)
            if description:
                page.wait_text(f"the description of column {column.name}", description)
        page.screenshot(f"asset-{CHECKED_ASSET}.png", publish=True)

        # 6. Its Checks tab lists every check, each passed in the backfill's run above.
        open_checks_tab(page, CHECKED_ASSET, checks)
        for name in checks:
            row = check_row(name, checks)
            page.until(
                f"{name} to show Succeeded",
                lambda row=row, name=name: page.text_of(row) == f"{name} Succeeded",
            )
        page.screenshot(f"asset-{CHECKED_ASSET}-checks.png", publish=True)

        # 7. The report's charts on its asset page: the markdown metadata shows each as an
        # image the browser decoded.
        page.open(f"/assets/{REPORT_ASSET}")
        page.click("the report's markdown", "//*[self::a or self::button][contains(., 'Show')]")
        charts = "//img[starts-with(@src, 'data:image/png;base64,')]"
        page.until(
            "every chart to be drawn",
            lambda: (
                len(
                    [
                        img
                        for img in page.visible(charts)
                        if page.driver.execute_script("return arguments[0].naturalWidth", img) > 100
                    ]
                )
                >= len(CHARTS)
            ),
        )
        first_chart = page.visible(charts)[0]
        page.driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", first_chart)
        page.screenshot("analytics-report.png", publish=True)

        # The backfill completes once the daemon has seen its last run; then the daemon stops.
        assert wait_for_backfill(page, backfill_id) == "COMPLETED_SUCCESS"
        daemon.close()

        # 8. The sensors and schedules the definitions hold are listed under Automation, each
        # switched as its code declares (the daemon gone, none stays stopped).
        running = {
            s.name: s.default_status == DefaultSensorStatus.RUNNING for s in defs.sensors or []
        }
        running |= {
            s.name: s.default_status == DefaultScheduleStatus.RUNNING for s in defs.schedules or []
        }
        assert "weekly_checks_schedule" in running
        page.open("/automation")
        for name, on in sorted(running.items()):
            switch = f"{automation_row(name)}//*[contains(@class, 'formatSwitch')]/input"
            page.until(
                f"{name}'s switch to show {'on' if on else 'off'}",
                lambda switch=switch, on=on: page.checked(switch) == [on],
            )
        page.screenshot("automation.png", publish=True)

        # 9. The table's latest load 27 hours old (a materialization stored with Dagster's clock
        # set back), judged by Dagster's freshness daemon: its page shows its freshness policy
        # Failed, the load's age and the window.
        assert evaluate_freshness_once(server, hours_ago=27) == "FAIL"
        open_freshness(page, CHECKED_ASSET, "Failed")
        page.wait_text("the last load's age", "Last materialized 27 hours ago")
        page.wait_text("the window", FAIL_WINDOW)
        page.driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center'})",
            page.visible(FRESHNESS_SECTION)[-1],
        )
        page.screenshot("freshness-failed.png", publish=True)
