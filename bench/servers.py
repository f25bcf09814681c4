"""Start the server under test (Parley or a baseline) on 127.0.0.1 and read its worker's CPU and memory."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PASSWORD = "bench-password-1"
QUEUE = "Bench"
SLUG = "bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_file_limit():
    """Thousands of sockets on each side: lift the soft limit on open files to the hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def org_toml(agents, max_chats):
    """One queue, one profile and `agents` agents who may each hold `max_chats` chats."""
    lines = [f'[[queue]]\nname = "{QUEUE}"\n', f'[[profile]]\nname = "Bench desk"\nqueues = ["{QUEUE}"]\n']
    for i in range(agents):
        lines.append(
            f'[[agent]]\nusername = "agent{i}"\npassword = "{PASSWORD}"\nname = "Agent {i}"\n'
            f'profiles = ["Bench desk"]\nmax_chats = {max_chats}\n'
        )
    return "\n".join(lines)


class Server:
    """A server process with its own data folder; `worker_pids` are the gunicorn workers doing the work
    (`worker_pid` the first)."""

    name = "server"

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="parley-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.folder / "server.log"
        self.process = None
        self.worker_pids = []

    def command(self):
        raise NotImplementedError

    def env(self):
        return dict(os.environ, PYTHONPATH=str(ROOT))

    def start(self, timeout=30):
        raise_file_limit()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not come up: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        self.worker_pids = self._find_workers()
        return self

    @property
    def worker_pid(self):
        return self.worker_pids[0]

    def _healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def _find_workers(self):
        """The gunicorn workers are the master's children; without one the master does the work."""
        master = self.process.pid
        workers = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                workers.append(int(entry))
        return sorted(workers) or [master]

    def cpu_seconds(self):
        """User plus system CPU time of the workers so far."""
        return sum(_cpu_seconds(pid) for pid in self.worker_pids)

    def rss_mb(self):
        return sum(_rss_mb(pid) for pid in self.worker_pids)

    def log_errors(self):
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [line for line in text.splitlines() if "Traceback" in line or "ERROR" in line]

    def stop(self, keep=False):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not keep:
            shutil.rmtree(self.folder, ignore_errors=True)


def _cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Parley(Server):
    """`parley serve` with a fresh data folder and a generated organisation; on PostgreSQL in a fresh
    database made beside the one `database_url` names (and dropped at the end), with `workers`
    workers and the bus of `bus_url` if given."""

    name = "parley"

    def __init__(self, agents, max_chats, database_url="", bus_url="", workers=1):
        super().__init__()
        self.database_url = new_database(database_url) if database_url else ""
        self.bus_url = bus_url
        self.workers = workers
        self.data = self.folder / "data"
        org = self.folder / "org.toml"
        org.write_text(org_toml(agents, max_chats))
        subprocess.run(
            [sys.executable, "-m", "cli", "load", str(org), "--data", str(self.data)],
            cwd=ROOT,
            env=self.env(),
            check=True,
            capture_output=True,
        )

    def env(self):
        # offers must not expire while a loaded machine is slow to accept them; chatters are present.
        # The limits stay on at their defaults: the load's pages say (as a trusted proxy in front would)
        # that each comes from an address of its own (bench/load.py)
        env = dict(
            super().env(), PARLEY_DATA=str(self.data), PARLEY_OFFER_TIMEOUT="120", PARLEY_TRUSTED_PROXIES="1"
        )
        env.update({"PARLEY_DATABASE_URL": self.database_url, "PARLEY_BUS_URL": self.bus_url})
        return env

    def command(self):
        serve = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        return [sys.executable, "-m", "cli", *serve]

    def stop(self, keep=False):
        super().stop(keep)
        if self.database_url and not keep:
            drop_database(self.database_url)


def new_database(url):
    """A new empty PostgreSQL database on the server of `url` (whose user may create one): its URL."""
    import psycopg

    name = f"parley_bench_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def drop_database(url):
    import psycopg

    name = urlsplit(url).path.strip("/")
    with psycopg.connect(urlsplit(url)._replace(path="/postgres").geturl(), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Baseline(Server):
    """A baseline app (bench/baselines/) under the same gunicorn gevent settings as Parley."""

    def __init__(self, name):
        super().__init__()
        self.name = name

    def env(self):
        return dict(super().env(), BENCH_DATA=str(self.folder))

    def command(self):
        return [sys.executable, "-m", "bench.baselines.serve", self.name, str(self.port)]
