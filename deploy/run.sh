#!/usr/bin/env bash
# The production processes, one per call, each in the foreground (for systemd, a container or a
# terminal of its own):
#
#   deploy/run.sh setup         once per storage database: create Dagster's tables, the pool limit
#   deploy/run.sh code-server   the code (sparkify_assets.definitions) in its own gRPC server;
#                               its run workers are its child processes
#   deploy/run.sh daemon        the queue, run monitoring and retries, sensors and schedules
#   deploy/run.sh webserver     the UI and its GraphQL API
#
# All of them need DAGSTER_HOME holding deploy/dagster.yaml (as dagster.yaml) and its
# DAGSTER_PG_* settings; the code server and the run workers also need the SPARKIFY_* settings
# (README, "Configuration"). Where they meet:
#   SPARKIFY_CODE_SERVER_HOST, _PORT   the code server's address (127.0.0.1, 4000)
#   SPARKIFY_WEBSERVER_HOST, _PORT     the UI's address (127.0.0.1, 3000)
# The `dagster` commands are those on PATH (the project's environment).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${DAGSTER_HOME:?set DAGSTER_HOME to a folder holding deploy/dagster.yaml as dagster.yaml}"
export SPARKIFY_CODE_SERVER_HOST="${SPARKIFY_CODE_SERVER_HOST:-127.0.0.1}"
export SPARKIFY_CODE_SERVER_PORT="${SPARKIFY_CODE_SERVER_PORT:-4000}"

case "${1:-}" in
  setup)
    dagster instance migrate
    dagster instance concurrency set warehouse 1
    ;;
  code-server)
    exec dagster code-server start -m sparkify_assets.definitions --location-name sparkify \
      -h "$SPARKIFY_CODE_SERVER_HOST" -p "$SPARKIFY_CODE_SERVER_PORT"
    ;;
  daemon)
    exec dagster-daemon run -w "$here/workspace.yaml"
    ;;
  webserver)
    exec dagster-webserver -w "$here/workspace.yaml" \
      -h "${SPARKIFY_WEBSERVER_HOST:-127.0.0.1}" -p "${SPARKIFY_WEBSERVER_PORT:-3000}"
    ;;
  *)
    echo "usage: $0 setup|code-server|daemon|webserver" >&2
    exit 2
    ;;
esac
