"""The floor: a bare flask-sock app that echoes every message back on the same socket."""

from flask import Flask
from flask_sock import Sock

app = Flask(__name__)
# the same socket options as Parley (whose pings come from its own pinger, not per socket)
app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": None, "max_message_size": 64 * 1024}
sock = Sock(app)


@app.get("/healthz")
def healthz():
    return "ok"


@sock.route("/ws")
def echo(ws):
    while True:
        ws.send(ws.receive())
