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
    """A server process with its own data folder; `worker_pid` is the gunicorn worker doing the work."""

    name = "server"

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="parley-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.folder / "server.log"
        self.process = None
        self.worker_pid = None

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
        self.worker_pid = self._find_worker()
        return self

    def _healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def _find_worker(self):
        """The gunicorn worker is the master's child; without one the master does the work."""
        master = self.process.pid
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                return int(entry)
        return master

    def cpu_seconds(self):
        """User plus system CPU time of the worker so far."""
        with open(f"/proc/{self.worker_pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mb(self):
        with open(f"/proc/{self.worker_pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

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


class Parley(Server):
    """`parley serve` with a fresh data folder and a generated organisation."""

    name = "parley"

    def __init__(self, agents, max_chats):
        super().__init__()
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
        return dict(
            super().env(), PARLEY_DATA=str(self.data), PARLEY_OFFER_TIMEOUT="120", PARLEY_TRUSTED_PROXIES="1"
        )

    def command(self):
        return [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]


class Baseline(Server):
    """A baseline app (bench/baselines/) under the same gunicorn gevent settings as Parley."""

    def __init__(self, name):
        super().__init__()
        self.name = name

    def env(self):
        return dict(super().env(), BENCH_DATA=str(self.folder))

    def command(self):
        return [sys.executable, "-m", "bench.baselines.serve", self.name, str(self.port)]
