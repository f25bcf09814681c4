"""What a Python team would pick instead: Flask-SocketIO rooms, each message stored in SQLite, then relayed."""

import os
import sqlite3
import threading
import time

from flask import Flask
from flask_socketio import SocketIO, emit, join_room

app = Flask(__name__)
socketio = SocketIO(app, async_mode="gevent", cors_allowed_origins="*")
folder = os.environ.get("BENCH_DATA", ".")
db = sqlite3.connect(os.path.join(folder, "relay.db"), isolation_level=None, check_same_thread=False)
db.execute("PRAGMA journal_mode=wal")
db.execute("PRAGMA synchronous=normal")
db.execute(
    "CREATE TABLE IF NOT EXISTS message (id INTEGER PRIMARY KEY, room TEXT, text TEXT, created_at REAL)"
)
lock = threading.Lock()


@app.get("/healthz")
def healthz():
    return "ok"


@socketio.on("join")
def join(room):
    join_room(room)


@socketio.on("msg")
def message(data):
    with lock:
        db.execute(
            "INSERT INTO message (room, text, created_at) VALUES (?, ?, ?)",
            (data["r"], data["t"], time.time()),
        )
    emit("msg", data, to=data["r"], include_self=False)
