"""The production server: gunicorn with one gevent worker that holds thousands of sockets."""

import atexit
import gc

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

    def __init__(self, host, port, create_app):
        self.bind = f"{host}:{port}"
        self.create_app = create_app
        super().__init__()

    def load_config(self):
        for key, value in {
            "bind": self.bind,
            "workers": 1,  # the hub that fans out to sockets lives in this one process
            "worker_class": "server.Worker",
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
        app = self.create_app(background=True)
        # what start-up made lives as long as the process: no collection need walk it again
        gc.collect()
        gc.freeze()
        atexit.register(gc.unfreeze)  # so the last collection still frees them, before modules go
        gc.set_threshold(*GC_THRESHOLDS)
        return app


def run(host, port, create_app):
    """Serve the app `create_app` builds until SIGTERM or Ctrl+C."""
    url_host = f"[{host}]" if ":" in host else host
    print(f"Parley is running at http://{url_host}:{port}/  (Ctrl+C to stop)", flush=True)
    Server(host, port, create_app).run()
    return 0
