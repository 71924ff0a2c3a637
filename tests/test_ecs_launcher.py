"""Runs on AWS (deploy/ecs/): the instance of deploy/ecs/dagster.yaml launches a run of the whole
graph as one ECS task, against moto's ECS, EC2, IAM and Secrets Manager on loopback. The run task
is deploy/ecs/task-definition.json, registered as an operator registers it; its secrets are
references to Secrets Manager, never values. Then the task's command runs here with the
environment ECS would give its container (secrets resolved into it), on the shared instance's
PostgreSQL storage, and builds every table as the reference computes them."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import string
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.instance.ref import InstanceRef
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

from tests.support import (
    DAGSTER,
    PG,
    REPO,
    assert_matches_reference,
    create_database,
    drop_database,
    every_day,
    importing_this_checkout,
    kill_hard,
)

ECS_DIR = REPO / "deploy" / "ecs"
ECS_INSTANCE = ECS_DIR / "dagster.yaml"
TASK_DEFINITION = ECS_DIR / "task-definition.json"
REGION = "us-east-1"
# Recognizable, so a test can tell they appear nowhere they should not.
WEBHOOK = "https://hooks.example.invalid/services/T0/B0/ecs-webhook-secret-3f9a"


def test_the_ecs_instance_is_the_production_instance_with_an_ecs_launcher():
    """deploy/ecs/dagster.yaml is deploy/dagster.yaml (storage, queue, pools, run monitoring,
    retries, retention) plus the run launcher: the two never drift apart."""
    ecs = yaml.safe_load(ECS_INSTANCE.read_text())
    production = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    launcher = ecs.pop("run_launcher")
    assert ecs == production
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")


def test_the_image_installs_the_project_as_the_readme_does():
    """The Dockerfile installs the project itself with its pins (`pip install -e .`, as `make
    run` does) and downloads nothing else. It is not built here."""
    steps = (ECS_DIR / "Dockerfile").read_text()
    assert "python -m pip install -e ." in steps
    assert "FROM python:3.11" in steps
    for fetch in ("curl", "wget", "ADD http", "apt-get"):
        assert fetch not in steps


class TaskMetadataEndpoint:
    """The ECS task metadata endpoint (v4) of the task the daemon runs in, on a loopback port:
    what the launcher asks to learn its cluster and task."""

    def __init__(self, cluster: str, task_arn: str):
        body = json.dumps({"Cluster": cluster, "TaskARN": task_arn, "Name": "daemon"}).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Aws:
    """What an operator sets up once, in moto: a VPC, the roles, the secrets, the cluster, the
    run task definition (deploy/ecs/task-definition.json) and the daemon's running task."""

    def __init__(self, endpoint: str, settings: dict, secrets: dict):
        def client(name):
            return boto3.client(name, endpoint_url=endpoint, region_name=REGION)

        self.ecs, self.ec2, self.iam, self.sm = (
            client(n) for n in ("ecs", "ec2", "iam", "secretsmanager")
        )
        tag = uuid.uuid4().hex[:10]
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        # Fargate tasks' network interfaces get DNS names (and moto needs it to start them).
        self.ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        self.subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"][
            "SubnetId"
        ]
        self.security_group = self.ec2.create_security_group(
            GroupName=f"sparkify-{tag}", Description="sparkify tasks", VpcId=vpc
        )["GroupId"]
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )
        roles = {
            name: self.iam.create_role(RoleName=f"{name}-{tag}", AssumeRolePolicyDocument=trust)[
                "Role"
            ]["Arn"]
            for name in ("sparkify-execution", "sparkify-task")
        }
        self.secret_arns = {
            name: self.sm.create_secret(Name=f"sparkify/{tag}/{name}", SecretString=value)["ARN"]
            for name, value in secrets.items()
        }
        self.cluster = self.ecs.create_cluster(clusterName=f"sparkify-{tag}")["cluster"][
            "clusterArn"
        ]
        self.family = f"sparkify-run-{tag}"
        values = settings | {
            "SPARKIFY_ECS_TASK_DEFINITION": self.family,
            "SPARKIFY_ECS_EXECUTION_ROLE_ARN": roles["sparkify-execution"],
            "SPARKIFY_ECS_TASK_ROLE_ARN": roles["sparkify-task"],
            "SPARKIFY_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sparkify-assets:test",
            "SPARKIFY_ECS_LOG_GROUP": "/sparkify/runs",
            "AWS_REGION": REGION,
            "SPARKIFY_DB_PASSWORD_SECRET_ARN": self.secret_arns["SPARKIFY_DB_PASSWORD"],
            "SPARKIFY_ALERT_WEBHOOK_SECRET_ARN": self.secret_arns["SPARKIFY_ALERT_WEBHOOK_URL"],
            "DAGSTER_PG_PASSWORD_SECRET_ARN": self.secret_arns["DAGSTER_PG_PASSWORD"],
        }
        # As `envsubst < task-definition.json` fills it: every ${NAME} must have a value.
        registration = json.loads(string.Template(TASK_DEFINITION.read_text()).substitute(values))
        self.task_definition = self.ecs.register_task_definition(**registration)["taskDefinition"][
            "taskDefinitionArn"
        ]
        daemon = self.ecs.register_task_definition(
            family=f"sparkify-daemon-{tag}",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="512",
            memory="1024",
            containerDefinitions=[
                {"name": "daemon", "image": values["SPARKIFY_IMAGE"], "memory": 1024}
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        network = {
            "awsvpcConfiguration": {
                "subnets": [self.subnet],
                "securityGroups": [self.security_group],
                "assignPublicIp": "DISABLED",
            }
        }
        self.daemon_task = self.ecs.run_task(
            cluster=self.cluster,
            taskDefinition=daemon,
            launchType="FARGATE",
            networkConfiguration=network,
            overrides={"containerOverrides": [{"name": "daemon", "command": ["daemon"]}]},
        )["tasks"][0]["taskArn"]

    def tasks(self) -> list[dict]:
        arns = self.ecs.list_tasks(cluster=self.cluster)["taskArns"]
        return self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"]


def recording_calls(client) -> list[tuple[str, dict]]:
    """Every API call `client` makes from now on: (operation, parameters as sent)."""
    calls: list[tuple[str, dict]] = []

    def record(model, params, **_):
        calls.append((model.name, json.loads(json.dumps(params, default=str))))

    client.meta.events.register("provide-client-params.ecs.*", record)
    return calls


def container_environment(aws: Aws, task: dict, task_definition: dict) -> dict:
    """The environment ECS gives the run's container: the task definition's `environment`, and
    each of its `secrets` fetched from Secrets Manager by its valueFrom (as the ECS agent does,
    with the execution role)."""
    (container,) = task_definition["containerDefinitions"]
    env = {item["name"]: item["value"] for item in container["environment"]}
    for secret in container["secrets"]:
        value = aws.sm.get_secret_value(SecretId=secret["valueFrom"])["SecretString"]
        env[secret["name"]] = value
    for override in task["overrides"]["containerOverrides"]:
        env |= {item["name"]: item["value"] for item in override.get("environment", [])}
    return env


@pytest.fixture
def storage():
    name = create_database()
    try:
        yield name
    finally:
        drop_database(name)


def test_a_run_is_launched_as_one_ecs_task_with_secret_references_and_completes(
    s3_endpoint, aws_credentials, storage, postgres_warehouse, lake_dir, tmp_path, monkeypatch
):
    started = time.monotonic()
    settings = {  # what the operator fills into the task definition: no secret among them
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_PORT": str(PG["port"]),
        "DAGSTER_PG_DB": storage,
        "DAGSTER_PG_USER": PG["user"],
        "SPARKIFY_LAKE": str(lake_dir),
        "SPARKIFY_WAREHOUSE": "postgres",
        "SPARKIFY_DB_HOST": postgres_warehouse.host,
        "SPARKIFY_DB_PORT": str(postgres_warehouse.port),
        "SPARKIFY_DB_NAME": postgres_warehouse.database,
        "SPARKIFY_DB_USER": postgres_warehouse.user,
        "SPARKIFY_UI_URL": "https://dagster.example.invalid",
    }
    secrets = {
        "SPARKIFY_DB_PASSWORD": postgres_warehouse.password,
        "SPARKIFY_ALERT_WEBHOOK_URL": WEBHOOK,
        "DAGSTER_PG_PASSWORD": PG["password"],
    }
    aws = Aws(s3_endpoint, settings, secrets)
    metadata = TaskMetadataEndpoint(aws.cluster, aws.daemon_task)
    instance = workspace = worker = None
    try:
        # The daemon's environment: the instance's settings, boto3 pointed at moto.
        home = tmp_path / "home"
        home.mkdir()
        shutil.copy(ECS_INSTANCE, home / "dagster.yaml")
        daemon_env = settings | {
            "DAGSTER_PG_PASSWORD": PG["password"],
            "SPARKIFY_ECS_TASK_DEFINITION": aws.family,
            "ECS_CONTAINER_METADATA_URI_V4": metadata.url,
            "AWS_ENDPOINT_URL": s3_endpoint,
        }
        for name, value in daemon_env.items():
            monkeypatch.setenv(name, value)
        instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
        launcher = instance.run_launcher
        assert type(launcher).__name__ == "EcsRunLauncher"
        calls = recording_calls(launcher.ecs)

        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(
                executable_path=sys.executable,
                module_name="sparkify_assets.definitions",
                working_directory=str(REPO),
            ),
            location_name="sparkify",
        )
        workspace = WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin))
        location = workspace.create_request_context().get_code_location("sparkify")
        (repository,) = location.get_repositories().values()
        remote_job = repository.get_full_job("sparkify_job")
        from sparkify_assets.definitions import defs

        run = instance.create_run_for_job(
            job_def=defs.resolve_job_def("sparkify_job"),
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            tags=every_day(lake_dir),
        )
        instance.launch_run(run.run_id, workspace)  # as the daemon does, off the queue

        # Exactly one task started, with the registered definition, in the daemon's network.
        run_tasks = [params for operation, params in calls if operation == "RunTask"]
        assert len(run_tasks) == 1, calls
        assert not [op for op, _ in calls if op == "RegisterTaskDefinition"]
        (request,) = run_tasks
        assert request["taskDefinition"] == aws.task_definition
        assert request["cluster"] == aws.cluster
        assert request["launchType"] == "FARGATE"
        assert request["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [aws.subnet]
        vpc_config = request["networkConfiguration"]["awsvpcConfiguration"]
        assert vpc_config["securityGroups"] == [aws.security_group]
        (override,) = request["overrides"]["containerOverrides"]
        assert override["name"] == "run"
        assert override["command"][:3] == ["dagster", "api", "execute_run"]
        assert set(override) == {"name", "command"}  # no environment added to the task
        assert {"key": "dagster/run_id", "value": run.run_id} in request["tags"]

        (task,) = [t for t in aws.tasks() if t["taskArn"] != aws.daemon_task]
        assert instance.get_run_by_id(run.run_id).tags["ecs/task_arn"] == task["taskArn"]
        assert task["taskDefinitionArn"] == aws.task_definition
        task_definition = aws.ecs.describe_task_definition(taskDefinition=aws.task_definition)[
            "taskDefinition"
        ]
        (container,) = task_definition["containerDefinitions"]
        assert sorted(container["secrets"], key=lambda s: s["name"]) == sorted(
            ({"name": n, "valueFrom": arn} for n, arn in aws.secret_arns.items()),
            key=lambda s: s["name"],
        )
        assert not {item["name"] for item in container["environment"]} & set(secrets)
        seen = json.dumps([request, task, task_definition, calls])
        for name, value in secrets.items():
            assert value not in seen, f"{name}'s value is in the request or task definition"

        # The container: the task's command with the environment ECS gives it, nothing else
        # of this process's (no AWS credentials, no DAGSTER_HOME). The image has the package
        # installed and `dagster` on PATH; here this checkout and its environment stand in.
        env = container_environment(aws, task, task_definition) | {
            "PATH": os.pathsep.join([str(DAGSTER.parent), "/usr/bin", "/bin"]),
            "HOME": str(tmp_path),
        }
        assert {name: env[name] for name in secrets} == secrets
        env = importing_this_checkout(env)
        log = (tmp_path / "run-task.log").open("wb")
        worker = subprocess.Popen(
            override["command"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            code = worker.wait(timeout=120)
        except subprocess.TimeoutExpired:
            code = None
        output = Path(log.name).read_text(errors="replace")
        assert code == 0, output[-3000:]
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.SUCCESS, output[-3000:]
        for name, value in secrets.items():
            assert value not in output, f"{name}'s value is in the run task's output"
        assert_matches_reference(postgres_warehouse, lake_dir)
        print(f"launched, ran and compared in {time.monotonic() - started:.1f} s")
    finally:
        if worker is not None and worker.poll() is None:
            kill_hard(worker)
        if workspace is not None:
            with contextlib.suppress(Exception):
                workspace.__exit__(None, None, None)
        if instance is not None:
            instance.dispose()
        metadata.close()
