"""Preflight of the Redshift engine: what to fix before a first load, each check a finding.

The lake bucket's region, a write into the temp location, and COPY ... NOLOAD of one object of
each staging table through a manifest, the JSONPaths and the IAM role. Each check runs on its
own (`Warehouse.checked`): one that errors is a failed line, never a crash of the others.
"""

from __future__ import annotations

import functools

import psycopg2
from botocore.exceptions import BotoCoreError, ClientError

from sparkify_assets.resources.compression import declared_compression
from sparkify_assets.resources.engines.base import Finding, without_secret
from sparkify_assets.resources.engines.redshift_temp import put_jsonpaths
from sparkify_assets.resources.lake import Lake


def findings(warehouse, lake: Lake, samples) -> list[Finding]:
    """The Redshift checks, once the connection and privileges passed."""
    findings: list[Finding] = []
    findings.append(warehouse.checked("lake bucket region", lambda: _lake_region(warehouse, lake)))
    findings.append(warehouse.checked("temp location", lambda: _temp_writable(warehouse, lake)))
    for table, key in samples.items():
        check = f"COPY {table} from {key} (NOLOAD)"
        copy_check = functools.partial(_check_copy, warehouse, lake, table, key)
        findings.append(warehouse.checked(check, copy_check))
    return findings


def _lake_region(warehouse, lake: Lake) -> tuple[bool, str]:
    region = lake.region()
    fix = "" if region == warehouse.aws_region else "; set SPARKIFY_AWS_REGION to it"
    return region == warehouse.aws_region, f"{lake.bucket} is in {region}{fix}"


def _temp_writable(warehouse, lake: Lake) -> tuple[bool, str]:
    """Write and delete one file in the temp location; it must be in the lake's region
    (one COPY reads its manifest and the lake objects with one REGION)."""
    with warehouse.temp_files(lake) as temp:
        try:
            temp.put("preflight", "")
        except (BotoCoreError, ClientError) as exc:
            return False, (
                f"cannot write to {warehouse.temp_uri}: {exc} (check SPARKIFY_REDSHIFT_TEMP_URI "
                "and that this process may s3:PutObject and s3:DeleteObject there)"
            )
        region = temp.region()
    if region != warehouse.aws_region:
        return False, (
            f"{temp.bucket} is in {region}, the lake in {warehouse.aws_region}: put "
            "SPARKIFY_REDSHIFT_TEMP_URI in a bucket of the lake's region"
        )
    return True, f"{warehouse.temp_uri} is writable, in {region}"


def _check_copy(warehouse, lake: Lake, table: str, key: str) -> tuple[bool, str]:
    """COPY ... NOLOAD of one object through a manifest and the JSONPaths, then the load
    errors read back: what the first load does, loading nothing."""
    try:
        with warehouse.session() as session, warehouse.temp_files(lake) as temp:
            session.run(table, "create_copy_target")
            jsonpaths_uri = put_jsonpaths(temp, table)
            compression = declared_compression(key)
            errors = session.copy_objects(
                table, temp, [lake.s3_uri(key)], jsonpaths_uri, compression, noload=True
            )
            session.rollback()
    except psycopg2.Error as exc:
        reason = without_secret(str(exc), warehouse.password)
        return False, (
            f"{reason} (check SPARKIFY_IAM_ROLE_ARN: the role must be attached to the "
            "cluster and may read the lake and the temp location)"
        )
    view = "sys_load_error_detail" if warehouse.serverless else "stl_load_errors"
    return True, f"{errors} record(s) would be rejected; read from {view}"
