"""`python -m sparkify_assets.preflight`: one line per check, exit 1 when any fails; a bad
setting: its one line on stderr, exit 2."""

import sys

from sparkify_assets.preflight_checks import report, run_preflight
from sparkify_assets.settings import exit_on_bad_setting


def main() -> int:
    with exit_on_bad_setting():  # the same settings as every run
        from sparkify_assets.definitions import defs
    # Outside a run, the resources resolve their settings (EnvVar) here.
    warehouse = defs.resources["warehouse"].process_config_and_initialize()
    lake = defs.resources["lake"].process_config_and_initialize()
    findings = run_preflight(warehouse, lake)
    print("\n".join(report(findings)))
    return 0 if all(f.passed for f in findings) else 1


if __name__ == "__main__":
    sys.exit(main())
