"""The production server: gunicorn with gevent workers that each hold thousands of sockets.

`run` serves from the calling process, or (on PostgreSQL) becomes `python -m server HOST PORT WORKERS`.
Several workers accept on the one listening socket gunicorn opens before it forks them; they tell
each other what changed through the bus of PARLEY_BUS_URL (live/redis_bus.py).
"""

import atexit
import gc
import os
import sys

import gevent
from gunicorn.app.base import BaseApplication
from gunicorn.workers.ggevent import GeventWorker

# measured here: 1,000 (gunicorn's default) hangs socket 1,001 and every request after it
WORKER_CONNECTIONS = 10000
# on SIGTERM, requests in flight get this long; open sockets are told to reconnect at once
GRACEFUL_TIMEOUT = 5
# a full collection stops every socket at once (measured 60-200 ms with 1,000 chats): fewer objects
# reach the oldest generation when the youngest is collected less often (CPython's default is 700)
GC_THRESHOLDS = (7000, 10, 10)


class Worker(GeventWorker):
    """The gevent worker, which on SIGTERM first tells every browser to reconnect (close code 1012)."""

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        from live import sockets

        gevent.spawn(sockets.close_all, 1012)


class Server(BaseApplication):
    """gunicorn serving the app that `create_app(background=True)` builds in the worker."""

    def __init__(self, host, port, workers=1):
        self.bind = f"{host}:{port}"
        self.workers = workers
        super().__init__()

    def load_config(self):
        for key, value in {
            "bind": self.bind,
            "workers": self.workers,  # more than one only with a bus between them (cli.py checks)
            "worker_class": Worker,
            "worker_connections": WORKER_CONNECTIONS,
            "timeout": 60,
            "graceful_timeout": GRACEFUL_TIMEOUT,
            # an idle keep-alive connection holds a graceful stop (SIGTERM) for this long
            "keepalive": 2,
            # no proxy is believed about HTTPS but those PARLEY_TRUSTED_PROXIES counts (app.py, ProxyFix)
            "forwarded_allow_ips": "",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
        }.items():
            self.cfg.set(key, value)

    def load(self):
        from app import create_app  # in the worker: see run()

        app = create_app(background=True)
        # what start-up made lives as long as the process: no collection need walk it again
        gc.collect()
        gc.freeze()
        atexit.register(gc.unfreeze)  # so the last collection still frees them, before modules go
        gc.set_threshold(*GC_THRESHOLDS)
        return app


def run(host, port, workers=1, fresh=False):
    """Serve Parley until SIGTERM or Ctrl+C.

    `fresh` (on PostgreSQL): as a fresh interpreter that this process becomes, which imports the app
    only in the worker, once gevent has patched it. This process has imported peewee, which makes
    its connection state thread-local (every greenlet of the worker would share one connection) and
    imports psycopg, which chooses then whether to wait for PostgreSQL cooperatively.
    """
    url_host = f"[{host}]" if ":" in host else host
    print(f"Parley is running at http://{url_host}:{port}/  (Ctrl+C to stop)", flush=True)
    if not fresh:
        Server(host, port, workers).run()
        return 0
    here = os.path.dirname(os.path.abspath(__file__))  # this very Parley, whatever the folder run from
    path = os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH"))))
    command = [sys.executable, "-P", "-m", "server", host, str(port), str(workers)]
    os.execve(sys.executable, command, {**os.environ, "PYTHONPATH": path})


if __name__ == "__main__":
    Server(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])).run()
