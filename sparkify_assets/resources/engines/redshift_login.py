"""Logging in to Redshift without a stored database password: temporary credentials from IAM.

A provisioned cluster gives them through `redshift:GetClusterCredentials` (the database user is
then `IAM:<user>`), a Serverless workgroup through `redshift-serverless:GetCredentials`. boto3
finds the AWS credentials that may ask for them in its usual chain (environment, profile,
instance role). Neither password is ever logged: it lives only in the connection call.
"""

from __future__ import annotations

from typing import Protocol

import boto3
import botocore.exceptions


class LoginSettings(Protocol):
    user: str
    database: str
    login_region: str | None
    cluster_identifier: str | None
    workgroup: str | None
    aws_endpoint_url: str | None


class LoginError(RuntimeError):
    """IAM did not give temporary credentials; the message says what to fix."""


def temporary_login(settings: LoginSettings) -> tuple[str, str]:
    """(database user, temporary password) for the cluster or workgroup in `settings`."""
    try:
        if settings.workgroup:
            answer = _client("redshift-serverless", settings).get_credentials(
                workgroupName=settings.workgroup, dbName=settings.database
            )
            return answer["dbUser"], answer["dbPassword"]
        if settings.cluster_identifier:
            answer = _client("redshift", settings).get_cluster_credentials(
                ClusterIdentifier=settings.cluster_identifier,
                DbUser=settings.user,
                DbName=settings.database,
                AutoCreate=False,
            )
            return answer["DbUser"], answer["DbPassword"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise LoginError(
            f"IAM gave no temporary Redshift credentials for {settings.user!r}: {exc} (check "
            "SPARKIFY_REDSHIFT_CLUSTER or _WORKGROUP, SPARKIFY_REDSHIFT_REGION and what the AWS "
            "credentials may do)"
        ) from None
    raise LoginError(
        "no way to log in to Redshift: set SPARKIFY_DB_PASSWORD, or SPARKIFY_REDSHIFT_CLUSTER "
        "(or SPARKIFY_REDSHIFT_WORKGROUP) to log in with IAM"
    )


def _client(service: str, settings: LoginSettings):
    if not settings.login_region:
        raise LoginError(
            "IAM login needs the cluster's region, and the endpoint's host name does not say it: "
            "set SPARKIFY_REDSHIFT_REGION"
        )
    return boto3.client(
        service, region_name=settings.login_region, endpoint_url=settings.aws_endpoint_url
    )
