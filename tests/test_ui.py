"""The Dagster UI as the team meets it: the asset graph, "Materialize all", a run, an asset's checks.

Starts `dagster-webserver -w workspace.yaml` on a free loopback port (see `tests/ui_server.py`) and
drives Debian's headless Chromium through it with Selenium: the global asset graph shows every
asset and group; "Materialize all" launches a run from the page, and the run succeeds; an asset's
page shows its description, row count and columns, and its freshness policy as Dagster's
freshness daemon judged it (Passing after the run, Failed once its latest load is 27 hours
old); its Checks tab lists every check, passed.
What the definitions hold (assets, groups, checks, sensors) is read from `defs`, so the test
follows them.

Screenshots go to the test's tmp folder always, and with SPARKIFY_UPDATE_SCREENSHOTS=1 also to
`docs/images/` (the README shows `docs/images/asset-graph.png`).

Without Chromium, chromedriver or selenium it skips and says why; with SPARKIFY_REQUIRE_SERVICES=1
(as CI sets) it fails instead.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from sparkify_assets import sql_files
from sparkify_assets.assets.reports import CHARTS
from sparkify_assets.definitions import defs
from tests.support import REPO, evaluate_freshness, record_loads, service_unavailable
from tests.ui_server import browser_unavailable, chromium, dagster_webserver

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
REPORT_ASSET = "analytics_report"  # the asset whose charts the test looks at
# What the asset page says of the freshness policy's window (SPARKIFY_FRESH_WITHIN_HOURS: 26).
FAIL_WINDOW = "Fails if more than 26 hours since last materialization"
# The box of the status row, and the section beside the page, both headed "Freshness policy".
FRESHNESS_SECTION = "//*[normalize-space(text())='Freshness policy']/.."
WAIT = 30  # seconds for anything on a page to show
RUN_TIMEOUT = 120  # seconds for the materialization launched from the page
# What the graph's nodes show (the node facet settings a user picks in the graph's toolbar): the
# description (what one row means), owners, checks, materialization status and kinds.
NODE_FACETS = ["description", "owner", "checks", "status", "kind-tag"]
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


GRAPH = defs.resolve_asset_graph()


def _asset_names() -> dict[str, str]:
    """Asset name -> group, of every asset in the definitions (the lake's too)."""
    return {key.to_user_string(): GRAPH.get(key).group_name for key in GRAPH.get_all_asset_keys()}


def _materializable() -> set[str]:
    return {
        k.to_user_string() for k in GRAPH.get_all_asset_keys() if GRAPH.get(k).is_materializable
    }


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


def launched_run(page: Page) -> dict:
    """The run launched from the page, once the webserver has it."""

    def first_run():
        data = page.server.graphql(
            "{ runsOrError { ... on Runs { results { runId status jobName } } } }"
        )
        runs = data["runsOrError"]["results"]
        return runs[0] if runs else None

    return page.until("the launched run to be recorded", first_run)


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


def wait_for_run(page: Page, run_id: str) -> str:
    query = """query ($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""

    def status():
        value = page.server.graphql(query, {"id": run_id})["runOrError"]["status"]
        return value if value in TERMINAL else None

    return page.until(f"run {run_id} to finish", status, timeout=RUN_TIMEOUT)


def evaluate_freshness_once(server, hours_ago: float | None = None) -> str:
    """One iteration of Dagster's freshness daemon on the webserver's instance (none runs in
    this test), after a load of the checked asset `hours_ago` hours ago if given; its state."""
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

    with diagnosed(page):
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

        # 2. "Materialize all" from the page launches a run, which succeeds.
        page.click(
            "'Materialize all'", "//button[starts-with(normalize-space(), 'Materialize all')]"
        )
        notice = page.until(
            "the 'Launched run' notice",
            lambda: page.text_of("//*[contains(text(), 'Launched run')]"),
        )
        run = launched_run(page)
        assert run["runId"][:8] in notice, (notice, run)
        status = wait_for_run(page, run["runId"])
        assert status == "SUCCESS", (
            f"run {run['runId']} ended {status}:\n{run_failures(page, run['runId'])}"
        )
        page.open(f"/runs/{run['runId']}")
        page.wait_visible("the run's status: Success", "//*[normalize-space(text())='Success']")
        page.wait_text("the run's events", "RUN_SUCCESS")
        page.screenshot("run.png")

        # 3. Back on the graph, every asset is materialized; this is the README's picture.
        open_asset_graph(page, assets)
        page.until(
            "every node to show its materialization",
            lambda: (
                len(
                    page.visible(
                        "//*[local-name()='foreignObject']//*[normalize-space(text())='Materialized']"
                    )
                )
                >= len(_materializable())
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

        # 4. An asset's page: what one row means, its row count, its columns; and, the daemon
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

        # 5. Its Checks tab lists every check, each passed in the run launched above.
        open_checks_tab(page, CHECKED_ASSET, checks)
        for name in checks:
            row = check_row(name, checks)
            page.until(
                f"{name} to show Succeeded",
                lambda row=row, name=name: page.text_of(row) == f"{name} Succeeded",
            )
        page.screenshot(f"asset-{CHECKED_ASSET}-checks.png", publish=True)

        # 6. The report's charts on its asset page: the markdown metadata shows each as an
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

        # 7. The sensors and schedules the definitions hold are listed under Automation.
        sensors = sorted(s.name for s in defs.sensors or [])
        schedules = sorted(s.name for s in defs.schedules or [])
        assert "weekly_checks_schedule" in schedules
        page.open("/automation")
        for name in [*sensors, *schedules]:
            page.wait_visible(f"{name}", f"//*[normalize-space(text())={_literal(name)}]")
        page.screenshot("automation.png", publish=True)

        # 8. The table's latest load 27 hours old (a materialization stored with Dagster's clock
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
