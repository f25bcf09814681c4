"""What one page may send over its socket: messages and typing notices, each a rate with a burst
(PARLEY_LIMIT_SOCKET_MESSAGES, PARLEY_LIMIT_SOCKET_TYPING), counted by Flask-Limiter's own storage
and moving window (views/limits.py), so the counts are shared by every process when they live in
Redis. A message over the rate is refused and comes back to its page; a typing notice over it is
dropped, which coalesces a flood into the few a second that an agent can read."""

import functools
import math
import time

from flask import current_app
from limits import parse_many

from views.limits import limiter


def too_many_messages(page):
    """None if `page` (a chat, an agent) may send a message now, else the refusal to show."""
    wait = _hit("LIMIT_SOCKET_MESSAGES", "socket-messages", page)
    if not wait:
        return None
    return f"Too many messages. Please try again in {wait} seconds."


def may_type(page, chat_id):
    """Whether a typing notice of `page` in the chat goes on to the others (else it is dropped)."""
    return not _hit("LIMIT_SOCKET_TYPING", "socket-typing", page, str(chat_id))


def _hit(setting, *key):
    """Count one event under `key` against each rate of `setting`: 0 if all held, else how many
    seconds until the first one that is full frees a place (nothing counted then)."""
    strategy = limiter.limiter
    rates = _rates(current_app.config[setting])
    for rate in rates:
        if not strategy.test(rate, *key):
            reset = strategy.get_window_stats(rate, *key).reset_time
            return max(1, math.ceil(reset - time.time()))
    for rate in rates:
        strategy.hit(rate, *key)
    return 0


@functools.cache
def _rates(text):
    return parse_many(text)
