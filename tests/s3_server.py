"""A real S3 endpoint for tests: moto's server mode in a subprocess on a loopback port.

Real HTTP and a real boto3 client, so pagination, StartAfter and ETags behave as they do against
S3 (moto's in-process mock would patch boto3 instead). The fixtures on it (`s3_endpoint`,
`aws_credentials`, `s3_client`, `s3_lake`) are in conftest.py; the benchmark uses `moto_server()`
directly.

`latency_proxy()` puts S3's latency in front of it: every request answered a set time late
(30 ms by default), counted, with the most requests in flight at once; it can also answer a
bucket's writes with 403, as a lake that a loader may only read does.

The fake credentials are set only for the tests that ask for them (`aws_credentials`, through
monkeypatch), never for the whole session.
"""

import contextlib
import http.client
import http.server
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
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


class _ProxyStats:
    """What went through a latency proxy: requests by method, and the most in flight at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_method: Counter = Counter()
        self.requests: list[tuple[str, str]] = []  # (method, path) of each whole request
        self.ranged: list[str] = []  # the path of each GET of a byte range (an object's head)
        self.in_flight = self.max_in_flight = 0
        self.fail_once: set[str] = set()  # paths answered once with a 503, then served
        self.read_only: set[str] = set()  # buckets whose writes are answered 403 Access Denied

    def start(self, method: str, path: str = "", ranged: bool = False) -> None:
        with self._lock:
            self.by_method[method] += 1
            path = urllib.parse.unquote(path)
            if ranged:
                self.ranged.append(path)
            else:
                self.requests.append((method, path))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def should_fail(self, path: str) -> bool:
        with self._lock:
            if path in self.fail_once:
                self.fail_once.discard(path)
                return True
            return False

    def refuses(self, method: str, path: str) -> bool:
        """A write (PUT, POST, DELETE) into a read-only bucket (path-style: /bucket/key)."""
        bucket = path.lstrip("/").split("/", 1)[0]
        return method in ("PUT", "POST", "DELETE") and bucket in self.read_only

    def reset(self) -> None:
        with self._lock:
            self.by_method.clear()
            self.max_in_flight = self.in_flight


def _proxy_handler(target: str, delay: float, stats: _ProxyStats):
    host, port = urllib.parse.urlsplit(target).netloc.split(":")
    local = threading.local()  # one keep-alive connection to the server per proxy thread

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as S3 clients expect

        def log_message(self, *_args) -> None:
            pass

        def _forward(self) -> None:
            ranged = self.command == "GET" and bool(self.headers.get("Range"))
            stats.start(self.command, urllib.parse.urlsplit(self.path).path, ranged)
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                time.sleep(delay)
                path = urllib.parse.urlsplit(self.path).path
                if stats.should_fail(path):
                    answer = (503, [("Content-Type", "application/xml")], SLOW_DOWN)
                elif stats.refuses(self.command, path):
                    answer = (403, [("Content-Type", "application/xml")], ACCESS_DENIED)
                else:
                    answer = self._upstream(body)
            finally:
                # Out of flight before the client can see the answer: counted after it, the
                # client's next request could start first and be counted with this one.
                stats.end()
            self._answer(*answer)

        def _upstream(self, body):
            try:
                return self._exchange(body)
            except (http.client.HTTPException, OSError):
                # the server closed a kept-alive connection: once more on a new one
                local.con = None
                return self._exchange(body)

        def _exchange(self, body):
            if getattr(local, "con", None) is None:
                local.con = http.client.HTTPConnection(host, int(port), timeout=60)
            local.con.request(self.command, self.path, body, dict(self.headers))
            answer = local.con.getresponse()
            return answer.status, answer.getheaders(), answer.read()

        def _answer(self, status: int, headers, data: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    return Handler


ACCESS_DENIED = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
SLOW_DOWN = (
    b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
)


@contextlib.contextmanager
def latency_proxy(target: str, delay: float = 0.030) -> Iterator[tuple[str, _ProxyStats]]:
    """An HTTP proxy on a loopback port in front of `target` (moto's endpoint) that answers every
    request `delay` seconds late, as S3 does: yield its endpoint URL and its counters."""
    stats = _ProxyStats()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(target, delay, stats))
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, name="latency-proxy", daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", stats
    finally:
        server.shutdown()
        server.server_close()
