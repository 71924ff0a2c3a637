"""`python -m sparkify_assets`: materialize the whole graph in this process and say what it made.

Uses the same Definitions (and so the same environment variables) as `dagster dev`. Runs are
recorded in $DAGSTER_HOME when it is set, else in a throwaway instance.
"""

import os
import sys

from dagster import DagsterInstance

from sparkify_assets.definitions import defs
from sparkify_assets.sql_files import TABLE_ASSETS


def main() -> int:
    instance = (
        DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    )
    result = defs.resolve_job_def("sparkify_job").execute_in_process(
        instance=instance, raise_on_error=False
    )
    warehouse = defs.resources["warehouse"]
    print(f"\nwarehouse: {warehouse.engine} at {warehouse.location}")
    print(f"lake:      {defs.resources['lake'].url}\n")
    for event in result.get_asset_materialization_events():
        name = event.asset_key.to_user_string()
        meta = event.materialization.metadata
        if name in TABLE_ASSETS:
            rows = meta["dagster/row_count"].value
            rejected = meta.get("rows_rejected")
            note = f"  ({rejected.value} rejected)" if rejected and rejected.value else ""
            print(f"  {name:<16}{rows:>12,} rows{note}")
    print("\nrun " + ("succeeded" if result.success else "FAILED") + f": {result.run_id}")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
