"""`python -m sparkify_assets.preflight`: one line per check, exit 1 when any fails."""

import sys

from sparkify_assets.definitions import defs  # the same settings as every run
from sparkify_assets.preflight_checks import report, run_preflight


def main() -> int:
    # Outside a run, the resources resolve their settings (EnvVar) here.
    warehouse = defs.resources["warehouse"].process_config_and_initialize()
    lake = defs.resources["lake"].process_config_and_initialize()
    findings = run_preflight(warehouse, lake)
    print("\n".join(report(findings)))
    return 0 if all(f.passed for f in findings) else 1


if __name__ == "__main__":
    sys.exit(main())
