"""What one page may send over its socket: messages and typing notices, each a rate with a burst
(PARLEY_LIMIT_SOCKET_MESSAGES, PARLEY_LIMIT_SOCKET_TYPING, read by the `limits` package that
Flask-Limiter uses), counted in a moving window in this process's memory: a page's socket lives on one
process. Not in Flask-Limiter's storage: its memory storage rescans every key a hundred times a second
while hits come, which at 1,000 chats took a whole core, and Redis would cost round trips on every
message. A message over the rate is refused and comes back to its page; a typing notice over it is
dropped, which coalesces a flood into the few a second that an agent can read."""

import functools
import math
import threading
import time
from collections import deque

from flask import current_app
from limits import parse_many

from views.limits import too_many

SWEEP_EVERY = 10_000  # hits between two sweeps of the keys nobody used for a whole window

_lock = threading.Lock()
_windows = {}  # key -> (the longest window in seconds, the times of its hits within it, oldest first)
_hits = 0


def too_many_messages(page):
    """None if `page` (a chat, an agent) may send a message now, else the refusal to show."""
    wait = _hit("LIMIT_SOCKET_MESSAGES", "socket-messages", page)
    if not wait:
        return None
    return too_many("messages", wait)


def may_type(page, chat_id):
    """Whether a typing notice of `page` in the chat goes on to the others (else it is dropped)."""
    return not _hit("LIMIT_SOCKET_TYPING", "socket-typing", page, str(chat_id))


def _hit(setting, *key):
    """Count one event under `key` against each rate of `setting`: 0 if all held, else how many
    seconds until the first one that is full frees a place (nothing counted then)."""
    global _hits
    rates = _rates(current_app.config[setting])
    now = time.monotonic()
    with _lock:
        longest, hits = _windows.setdefault(key, (max(r.get_expiry() for r in rates), deque()))
        while hits and hits[0] <= now - longest:
            hits.popleft()
        for rate in rates:
            window = rate.get_expiry()
            if len(hits) >= rate.amount and hits[-rate.amount] > now - window:  # `amount` in it already
                # room again once the oldest of the last `amount` hits leaves the window
                return max(1, math.ceil(hits[-rate.amount] + window - now))
        hits.append(now)
        _hits += 1
        if _hits % SWEEP_EVERY == 0:
            _sweep(now)
    return 0


def _sweep(now):
    for key, (longest, hits) in list(_windows.items()):
        if not hits or hits[-1] <= now - longest:
            del _windows[key]


@functools.cache
def _rates(text):
    return parse_many(text)
