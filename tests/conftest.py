"""Fixtures shared by every test: a fresh database per test, a SQLite file or (for the tests of a module
marked `both_engines`, run once on each) a PostgreSQL database."""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from data import timing
from data.schema import open_database

ENGINES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc):
    """Run each test of a module marked `both_engines` that uses a database on each engine."""
    if metafunc.definition.get_closest_marker("both_engines") and "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture
def engine(request):
    """The engine of the test's database: "sqlite" unless the test runs on both."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for this test process (a pytest-xdist worker), started when first asked."""
    from services import Postgres

    server = Postgres().start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def redis_server():
    """One Redis server for this test process, started when first asked; each test takes a database
    number of its own (Redis.new_url), which keeps Parley's channels and limits apart."""
    from services import Redis

    server = Redis().start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def postgres_templates(postgres_server, tmp_path_factory):
    """Databases copied for each test: "parley_empty" with Parley's tables, "parley_org" with
    tests/org.toml loaded."""
    empty = postgres_server.create_database("parley_empty")
    open_database(str(tmp_path_factory.mktemp("pg-empty")), empty).close_all()
    org = Parley(
        tmp_path_factory.mktemp("pg-org"), database_url=postgres_server.create_database("parley_org")
    )
    org.load()
    return postgres_server


@pytest.fixture
def postgres_database(request):
    """new() makes a database copied from a template (a whole copy is faster than making the tables);
    each is dropped after the test. Its URL."""
    made = []

    def new(template="parley_empty"):
        server = request.getfixturevalue("postgres_templates")
        name = f"test_{os.getpid()}_{len(made)}_{random.randrange(1 << 30)}"
        server.psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        made.append((server, name))
        return server.url(name)

    yield new
    for server, name in made:
        server.psql(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(engine, postgres_database):
    """The test's database: empty for the SQLite file in the data folder, or a new PostgreSQL one's URL."""
    return postgres_database() if engine == "postgresql" else ""


@pytest.fixture
def database(tmp_path, database_url):
    """A new database in a temporary folder, bound to every model."""
    database = open_database(str(tmp_path / "data"), database_url)
    database.connect(reuse_if_open=True)
    yield database
    database.close()
    database.close_all()


@pytest.fixture(autouse=True)
def routing_settings():
    """Each test starts with the default routing settings and may change them freely."""
    saved = timing.settings
    timing.settings = timing.Settings()
    yield timing.settings
    timing.settings = saved


# --- a real server on 127.0.0.1 ------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
ORG_FILE = Path(__file__).resolve().parent / "org.toml"
PASSWORDS = {"ann": "ann-password", "ben": "ben-password", "cat": "cat-password", "dan": "dan-password"}
PASSWORDS["sue"] = "sue-password"


# bind(0) is not enough: a server restarting on its port leaves it free for a moment, the other
# pytest-xdist worker could be handed it, and its browser would then talk to our server. So each
# worker takes ports from its own share of 20000-31999 (below the kernel's ephemeral ones), never
# one twice, in an order of its own (another test run on the machine does not walk in step).
_worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
_share = 12000 // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_ports = list(range(20000 + _share * _worker, 20000 + _share * (_worker + 1)))
random.Random(os.getpid()).shuffle(_ports)
_ports = iter(_ports)


def free_port():
    """A port nothing listens on that no other test of this run has been or will be given."""
    for port in _ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # something else has it
            return port
    raise RuntimeError("this worker used all its ports: run fewer workers")


def listens_on(pid, port):
    """Whether process `pid` holds the listening socket of 127.0.0.1:`port` (read from /proc)."""
    rows = (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
    inodes = {f"socket:[{r[9]}]" for r in rows if r[3] == "0A" and int(r[1].split(":")[1], 16) == port}
    fds = Path(f"/proc/{pid}/fd")
    return any(os.readlink(fd) in inodes for fd in fds.iterdir())


def children(pid):
    """The processes `pid` started (a server's workers)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def wait_for(condition, timeout=10.0, interval=0.05, message="condition"):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class Parley:
    """A `parley serve` process with its own data folder and port, loaded with tests/org.toml.

    `env` adds or overrides environment variables, e.g. {"PARLEY_IDENTITY_SECRET": ...}.
    """

    # leave_grace: a chatter whose page never connected counts as gone after it, and most tests drive
    # chatters over HTTP alone; 60 s, not the server's 10, so that a slow machine never takes one away
    def __init__(self, folder, offer_timeout=30, leave_grace=60, env=None, database_url="", workers=1):
        self.folder = folder
        self.workers = workers
        self.database_url = database_url  # "": the SQLite file in `folder`
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(
            os.environ,
            PARLEY_DATA=str(folder),
            PARLEY_OFFER_TIMEOUT=str(offer_timeout),
            PARLEY_LEAVE_GRACE=str(leave_grace),
        )
        if database_url:
            self.env["PARLEY_DATABASE_URL"] = database_url
        self.env.update(env or {})
        self.process = None
        self.log = folder.parent / f"server-{self.port}.log"
        self.cwd = ROOT  # where its commands run

    def command(self, *args):
        return [sys.executable, "-m", "cli", *args]

    def load(self, org_file=ORG_FILE):
        subprocess.run(
            self.command("load", str(org_file)), cwd=self.cwd, env=self.env, check=True, capture_output=True
        )

    def start(self):
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command("serve", "--port", str(self.port), "--workers", str(self.workers)),
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(self._healthy, timeout=60, message=f"the server at {self.url} (log: {self.log})")
        except AssertionError:
            self.stop()  # a server that came up too late must not outlive the test that gave up on it
            raise
        return self

    def _healthy(self):
        if self.process.poll() is not None:
            raise AssertionError(f"the server exited with {self.process.returncode}: {self.log.read_text()}")
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                answered = response.read() == b"ok"
        except OSError:
            return False
        if answered and not listens_on(self.process.pid, self.port):
            raise AssertionError(f"another process took port {self.port}: this test would talk to it")
        return answered

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def errors(self):
        """Tracebacks the server logged: a test that passes with these still found a bug."""
        text = self.log.read_text() if self.log.exists() else ""
        return [line for line in text.splitlines() if "Traceback" in line]


@pytest.fixture(scope="session")
def org_database(tmp_path_factory):
    """A database with tests/org.toml loaded once, copied into each server's data folder."""
    folder = tmp_path_factory.mktemp("org")
    Parley(folder).load()
    return folder / "parley.db"


@pytest.fixture
def start_server(tmp_path, request, engine, postgres_database):
    """Start a fresh server on the test's engine; settings (offer_timeout, leave_grace, env) may be passed."""
    servers = []

    def start(**settings):
        if engine == "postgresql":
            settings.setdefault("database_url", postgres_database("parley_org"))
        server = Parley(tmp_path / f"data{len(servers)}", **settings)
        server.folder.mkdir()
        if not server.database_url:
            shutil.copy(request.getfixturevalue("org_database"), server.folder / "parley.db")
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()
    for server in servers:
        assert not server.errors(), server.log.read_text()


@pytest.fixture
def server(start_server):
    """A fresh server with the default settings."""
    return start_server()


@pytest.fixture
def people():
    """Agents and chatters talking to a server over HTTP and sockets, all closed at the end."""
    from clients import People

    crowd = People()
    yield crowd
    crowd.close()
