"""Throwaway PostgreSQL, Redis and nginx servers from Debian's packages, on free ports in temporary
folders: the multi-process tests never depend on a service that happens to be running.

tests/run installs the packages when missing; here they are only found and started.
"""

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from conftest import ROOT, free_port, wait_for

AS_ROOT = os.geteuid() == 0


def _program(pattern, package):
    found = sorted(glob.glob(pattern)) or ([shutil.which(pattern)] if shutil.which(pattern) else [])
    if not found:
        raise RuntimeError(f"{pattern} is missing: install Debian's {package} (bash tests/run does, as root)")
    return found[-1]


def _listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Service:
    """A server process of ours, stopped (and its folder removed) by stop()."""

    process = None
    folder = None
    stop_signal = signal.SIGTERM

    def _start(self, command, port, what, user=None):
        if user and AS_ROOT:
            command = ["runuser", "-u", user, "--", *command]
        log = open(os.path.join(self.folder, "server.log"), "ab")  # noqa: SIM115 - the process keeps it
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_for(lambda: self._alive() and _listening(port), timeout=30, message=f"{what} on port {port}")

    def _alive(self):
        if self.process.poll() is not None:
            raise AssertionError(f"{type(self).__name__} exited: {self.log()}")
        return True

    def log(self):
        path = os.path.join(self.folder, "server.log")
        return Path(path).read_text(errors="replace") if os.path.exists(path) else ""

    def kill(self):
        """Die at once, as a crashed server would (kill -9)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, self.stop_signal)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def remove(self):
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class Postgres(Service):
    """A PostgreSQL cluster with fsync off (a test's data need not survive a power cut)."""

    stop_signal = signal.SIGINT  # "fast": SIGTERM would wait for every client to leave first

    def __init__(self):
        self.bin = os.path.dirname(_program("/usr/lib/postgresql/*/bin/postgres", "postgresql"))
        # outside pytest's own temporary folders, which the postgres user may not enter
        self.folder = tempfile.mkdtemp(prefix="parley-pg-")
        self.port = free_port()
        if AS_ROOT:
            shutil.chown(self.folder, "postgres", "postgres")
        self.data = os.path.join(self.folder, "data")
        subprocess.run(
            self._as_owner(
                [f"{self.bin}/initdb", "-D", self.data, "-A", "trust", "-U", "parley", "--no-sync"]
            ),
            check=True,
            capture_output=True,
        )

    def _as_owner(self, command):
        return ["runuser", "-u", "postgres", "--", *command] if AS_ROOT else command

    def start(self):
        settings = ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200"]
        command = [f"{self.bin}/postgres", "-D", self.data, "-p", str(self.port), "-k", self.folder]
        command += ["-c", "listen_addresses=127.0.0.1", *(x for s in settings for x in ("-c", s))]
        self._start(command, self.port, "PostgreSQL", user="postgres")
        # it listens before it takes queries ("the database system is starting up")
        wait_for(self._ready, timeout=30, message=f"PostgreSQL on port {self.port} to take queries")
        return self

    def _ready(self):
        try:
            return self.psql("SELECT 1") == "1"
        except subprocess.CalledProcessError:
            return self._alive() and False

    def url(self, database="postgres"):
        return f"postgresql://parley@127.0.0.1:{self.port}/{database}"

    def create_database(self, name):
        """A new empty database; its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def psql(self, sql, database="postgres"):
        """Run `sql` with psql; its output (unaligned, tuples only)."""
        command = [f"{self.bin}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
        result = subprocess.run(
            [*command, self.url(database)], check=True, capture_output=True, text=True, timeout=60
        )
        return result.stdout.strip()


class Redis(Service):
    """A Redis server that keeps nothing on disk."""

    def __init__(self):
        self.server = _program("redis-server", "redis-server")
        self.folder = tempfile.mkdtemp(prefix="parley-redis-")
        self.port = free_port()

        self.used = 0

    def start(self):
        command = [self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.folder]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--databases", "1000"]
        self._start(command, self.port, "Redis")
        return self

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def new_url(self):
        """The URL of a database number no test used: Parley's channels and limits are apart by it."""
        self.used += 1
        return f"redis://127.0.0.1:{self.port}/{self.used}"


NGINX_CONFIG = """
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{body}
}}
"""


class Nginx(Service):
    """nginx in front of Parley processes, with the configuration docs/SCALING.md gives."""

    def __init__(self, ports):
        self.binary = _program("/usr/sbin/nginx", "nginx-light")
        self.folder = tempfile.mkdtemp(prefix="parley-nginx-")
        self.port = free_port()
        self.config = os.path.join(self.folder, "nginx.conf")
        body = documented_config(self.port, ports)
        Path(self.config).write_text(NGINX_CONFIG.format(folder=self.folder, body=body))

    def start(self):
        self._start([self.binary, "-c", self.config, "-p", self.folder], self.port, "nginx")
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


def documented_config(port, upstreams):
    """docs/SCALING.md's nginx configuration, listening on `port` in front of the `upstreams` ports."""
    text = (ROOT / "docs" / "SCALING.md").read_text()
    block = re.search(r"```nginx\n(.*?)```", text, re.DOTALL).group(1)
    listen = "    listen 80;\n"
    documented = re.findall(r"    server 127\.0\.0\.1:\d+ (.*);\n", block)
    assert listen in block and documented, "docs/SCALING.md's nginx block lost its listen or servers"
    servers = "".join(f"    server 127.0.0.1:{p} {documented[0]};\n" for p in upstreams)
    block = re.sub(r"(    server 127\.0\.0\.1:\d+ .*;\n)+", servers, block)
    return block.replace(listen, f"    listen 127.0.0.1:{port};\n")
