"""Limits on the doors anyone can knock on, counted by Flask-Limiter and answered with 429.

Each limit is a setting (app.py, docs/SECURITY.md): rates such as "5 per minute; 20 per hour",
counted per client address (the one a trusted proxy names, see PARLEY_TRUSTED_PROXIES) or per
username. The counts live in this process's memory, or in the Redis of PARLEY_BUS_URL, which every
process then shares. A request over a limit changes nothing and is told how long to wait.
"""

import math
import time

from flask import current_app, make_response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import TooManyRequests

from views import errors

limiter = Limiter(key_func=get_remote_address, strategy="moving-window")


def init_app(app):
    # in the Redis of the bus, every process counts in one place; while it is away, each in its memory
    app.config["RATELIMIT_STORAGE_URI"] = app.config["BUS_URL"] or "memory://"
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
    limiter.init_app(app)


def failed_sign_in(response):
    return response.status_code == 401


def done(response):
    return response.status_code < 400


def too_many(what, seconds):
    """The refusal a page shows: "Too many messages. Please try again in 1 second." """
    return f"Too many {what}. Please try again in {seconds} second{'' if seconds == 1 else 's'}."


def limit(setting, what, show=None, key=get_remote_address, counts=None):
    """Decorate a view so its POSTs are counted against the rates of `setting` (per client address,
    or per `key`); past them it answers 429 with Retry-After and "Too many `what`…", rendered by
    `show(message)` (by default an error page, or the alert fragment for htmx). `counts(response)`:
    which answers count (failed_sign_in, done); every one when None."""

    def breached(request_limit):
        seconds = max(1, math.ceil(request_limit.window[0] - time.time()))  # [0]: when it resets
        message = too_many(what, seconds)
        response = make_response(show(message) if show else errors.show(TooManyRequests(message)), 429)
        response.headers["Retry-After"] = str(seconds)
        return response

    return limiter.limit(
        lambda: current_app.config[setting],
        key_func=key,
        methods=["POST"],
        error_message=what,
        deduct_when=counts,
        on_breach=breached,
    )


def username():
    """The username a sign-in names, as the key of its own count (never empty: an empty key is not
    counted at all)."""
    return "user:" + request.form.get("username", "").strip().lower()[:200]
