"""A real S3 endpoint for tests: moto's server mode in a subprocess on a loopback port.

Real HTTP and a real boto3 client, so pagination, StartAfter and ETags behave as they do against
S3 (moto's in-process mock would patch boto3 instead). The fixtures on it (`s3_endpoint`,
`aws_credentials`, `s3_client`, `s3_lake`) are in conftest.py; the benchmark uses `moto_server()`
directly.

The fake credentials are set only for the tests that ask for them (`aws_credentials`, through
monkeypatch), never for the whole session.
"""

import contextlib
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.support import free_port

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Settings that would point boto3 somewhere else than the test server.
FOREIGN_SETTINGS = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def _answers(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
    except urllib.error.HTTPError:
        return True  # an HTTP answer of any kind: the server is up
    except OSError:
        return False
    return True


def _start(port: int, log) -> subprocess.Popen:
    command = [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def moto_server(timeout: float = 30.0) -> Iterator[str]:
    """Run `moto_server` on a free loopback port; yield its endpoint URL; always stop it."""
    with tempfile.TemporaryFile() as log:
        for _attempt in range(3):  # another process may take the free port before moto does
            port = free_port()
            endpoint = f"http://127.0.0.1:{port}"
            process = _start(port, log)
            try:
                deadline = time.monotonic() + timeout
                while process.poll() is None and not _answers(endpoint):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"moto_server did not answer on {endpoint}")
                    time.sleep(0.1)
                if process.poll() is None:
                    yield endpoint
                    return
            finally:
                _stop(process)
        log.seek(0)
        raise RuntimeError(f"moto_server would not start:\n{log.read().decode()[-2000:]}")
