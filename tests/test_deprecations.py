"""The package uses no deprecated or superseded Dagster API, and silences no warning of one.

Dagster warns of a deprecated API with Python's DeprecationWarning and of a superseded one with
its SupersessionWarning. The definitions are imported (alerts on, so every sensor is built) in a
fresh interpreter where both are errors, and where the package setting a filter that would ignore
either is an error too: a silenced warning fails as loudly as a shown one. The source is also read
for such filters on paths an import does not run.
"""

import ast
import os
import subprocess
import sys

from tests.support import REPO, importing_this_checkout

PACKAGE = REPO / "sparkify_assets"

# Runs in the subprocess: both kinds of warning are errors, and so is the package ignoring one.
IMPORT_STRICTLY = """
import sys
import warnings

from dagster import SupersessionWarning

DEPRECATIONS = (DeprecationWarning, SupersessionWarning)
warnings.simplefilter("error", SupersessionWarning)  # DeprecationWarning: -W on the command line


def refusing(set_filter, category_at):
    def guarded(action, *args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        category = kwargs.get("category", args[category_at] if len(args) > category_at else Warning)
        hides = action == "ignore" and any(issubclass(d, category) for d in DEPRECATIONS)
        if hides and caller.split(".")[0] == "sparkify_assets":
            raise AssertionError(f"{caller} ignores {category.__name__}")
        return set_filter(action, *args, **kwargs)

    return guarded


warnings.simplefilter = refusing(warnings.simplefilter, 0)
warnings.filterwarnings = refusing(warnings.filterwarnings, 1)

import sparkify_assets.definitions as definitions

print(sorted(sensor.name for sensor in definitions.defs.sensors))
"""


def test_the_definitions_import_with_dagster_deprecations_as_errors(tmp_path):
    env = importing_this_checkout(
        {**os.environ, "SPARKIFY_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook"}
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", IMPORT_STRICTLY],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stale_table_alert_sensor" in result.stdout


def filters_that_hide_deprecations(source: str) -> list[int]:
    """Lines of `source` that set a warnings filter ignoring deprecations (any filter naming no
    category, or a category they belong to), or turn Dagster's warnings off."""
    hiding = {"Warning", "DeprecationWarning", "FutureWarning", "SupersessionWarning"}
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in ("disable_dagster_warnings", "_warnings_on"):
                lines.append(node.lineno)
        if not isinstance(node, ast.Call):
            continue
        called = getattr(node.func, "attr", getattr(node.func, "id", ""))
        keywords = {k.arg: k.value for k in node.keywords}
        if called in ("simplefilter", "filterwarnings"):
            action = node.args[0] if node.args else keywords.get("action")
            at = 0 if called == "simplefilter" else 1
            category = node.args[at + 1] if len(node.args) > at + 1 else keywords.get("category")
        elif called == "catch_warnings":
            action, category = keywords.get("action"), keywords.get("category")
        else:
            continue
        if not (isinstance(action, ast.Constant) and action.value == "ignore"):
            continue
        named = getattr(category, "attr", getattr(category, "id", None))
        if category is None or named in hiding:
            lines.append(node.lineno)
    return lines


def test_no_module_of_the_package_silences_a_deprecation():
    found = {
        str(path.relative_to(REPO)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if (lines := filters_that_hide_deprecations(path.read_text(encoding="utf-8")))
    }
    assert found == {}
    # What the scan looks for: the filters the freshness checks were built under.
    assert filters_that_hide_deprecations(
        'import warnings\nwith warnings.catch_warnings():\n    warnings.simplefilter("ignore")\n'
    ) == [3]
    assert filters_that_hide_deprecations('warnings.simplefilter("ignore", BetaWarning)') == []
