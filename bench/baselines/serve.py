"""Serve a baseline app with exactly Parley's gunicorn settings: `python -m bench.baselines.serve NAME PORT`."""

import sys

import server


class BaselineServer(server.Server):
    def __init__(self, name, port):
        self.app_name = name
        super().__init__("127.0.0.1", port)

    def load_config(self):
        super().load_config()
        self.cfg.set("worker_class", "gevent")  # Parley's worker class without its 1012 goodbye

    def load(self):
        if self.app_name == "echo":
            from bench.baselines.echo_app import app
        else:
            from bench.baselines.socketio_app import app
        return app


if __name__ == "__main__":
    BaselineServer(sys.argv[1], int(sys.argv[2])).run()
