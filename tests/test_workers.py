"""`parley serve --workers N` and PARLEY_BUS_URL at start: several worker processes on one port, which
hear each other through Redis; what is refused, and how it is said."""

import os
import shutil
import signal
from pathlib import Path

import redis
from conftest import Parley, children, free_port, wait_for
from test_postgres import parley


def test_more_than_one_worker_without_a_bus_is_refused(tmp_path):
    server = Parley(tmp_path / "data")
    refused = parley(server, "serve", "--port", str(server.port), "--workers", "2")
    assert refused.returncode == 2
    assert "--workers 2 needs PARLEY_BUS_URL=redis://" in refused.stderr
    assert "Traceback" not in refused.stderr
    zero = parley(server, "serve", "--workers", "0")
    assert zero.returncode == 2 and "'0' is not a number of processes from 1 up" in zero.stderr


def test_a_bus_that_cannot_be_reached_is_refused_at_start_with_what_to_check(tmp_path):
    port = free_port()  # nothing listens there
    server = Parley(tmp_path / "data", env={"PARLEY_BUS_URL": f"redis://:s3cret@127.0.0.1:{port}/0"})
    refused = parley(server, "serve", "--port", str(server.port))
    assert refused.returncode == 1
    assert f"cannot reach the bus at redis://:***@127.0.0.1:{port}/0" in refused.stderr
    assert "Check that Redis is running there" in refused.stderr
    assert "s3cret" not in refused.stderr and "Traceback" not in refused.stderr

    wrong = parley(server, "serve", env={"PARLEY_BUS_URL": "http://user:s3cret@127.0.0.1/0"})
    assert wrong.returncode == 2
    assert "PARLEY_BUS_URL: 'http://user:***@127.0.0.1/0' is not a redis://" in wrong.stderr


def connections(pid, port):
    """How many established connections to `port` process `pid` holds (read from /proc)."""
    rows = (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
    inodes = {f"socket:[{r[9]}]" for r in rows if r[3] == "01" and int(r[1].split(":")[1], 16) == port}
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.readlink(fd) in inodes)


def test_two_workers_on_one_port_hear_each_other(tmp_path, org_database, redis_server, people):
    """Consoles of one agent spread over both workers all get the offer of a chat started on either."""
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(org_database, folder / "parley.db")
    server = Parley(folder, env={"PARLEY_BUS_URL": redis_server.new_url()}, workers=2).start()
    try:
        workers = wait_for(lambda: len(children(server.process.pid)) == 2, message="two workers")
        workers = children(server.process.pid)
        ann = people.agent(server, "ann", "Support desk")
        consoles = []
        # the kernel hands each new connection to either worker: open consoles until both hold one
        while len(consoles) < 40 and not all(connections(w, server.port) for w in workers):
            consoles.append(ann.connect())
            consoles[-1].wait_for_text('id="status"')
        assert all(connections(w, server.port) for w in workers), "every console went to one worker"
        chatter = people.chatter(server)
        chat = chatter.start(name="Wanda Workers")
        for console in consoles:
            console.wait_for_text(f'id="tab-{chat}"')
    finally:
        server.stop()
    assert not server.errors(), server.log.read_text()


def test_a_worker_started_while_redis_is_away_waits_for_it(tmp_path, org_database, redis_server, people):
    """gunicorn replaces a worker that died while Redis was away: the server goes on, and once Redis is
    back the new worker's pages hear the other worker's events."""
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(org_database, folder / "parley.db")
    bus = redis_server.new_url()
    server = Parley(folder, env={"PARLEY_BUS_URL": bus}, workers=2).start()
    try:
        first = wait_for(lambda: len(children(server.process.pid)) == 2 and children(server.process.pid))
        redis_server.stop()
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: len(set(children(server.process.pid)) - set(first)) == 1, message="a new worker")
        said = wait_for(
            lambda: server.process.poll() is None and "cannot reach the bus" in server.log.read_text()
        )
        assert said, "the new worker said it waits for the bus"
        redis_server.start()
        workers = children(server.process.pid)
        # both hear the bus again (and have closed what pages they held): from now on nothing is missed
        control = f"parley:{bus.rsplit('/', 1)[1]}:bus"
        with redis.Redis.from_url(bus) as listeners:
            wait_for(lambda: listeners.pubsub_numsub(control)[0][1] == 2, message="both workers on the bus")
        ann = people.agent(server, "ann", "Support desk")
        consoles = []
        while len(consoles) < 40 and not all(connections(w, server.port) for w in workers):
            consoles.append(ann.connect())
            consoles[-1].wait_for_text('id="status"', timeout=20)
        assert all(connections(w, server.port) for w in workers), "every console went to one worker"
        chat = people.chatter(server).start(name="Rita Respawned")
        for console in consoles:
            console.wait_for_text(f'id="tab-{chat}"')
    finally:
        server.stop()
    assert not server.errors(), server.log.read_text()
