"""Every error as Parley's own page (or, for htmx, a fragment for the alert area), never a bare one.

Ids in URLs are checked against what the database can hold: /offers/<10**30>/accept is a 404,
not a query that overflows.
"""

from flask import current_app, render_template, request, session
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.routing import IntegerConverter

from data.checks import MAX_INTEGER
from data.db import UNAVAILABLE, log_failure, on_postgres
from views.fragments import htmx_request

MESSAGES = {
    413: "Nothing was sent: at most 5 files can go with a message, each at most 20 MB.",
    500: "Something went wrong on our side, and what you asked may not have been done. "
    "Please try again in a moment.",
    503: "Parley cannot reach its database just now. Please try again in a moment.",
}


class DatabaseId(IntegerConverter):
    """`<int:…>` in every route: a whole number the database can hold, else no match (404)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=MAX_INTEGER, signed=False):
        super().__init__(url_map, fixed_digits, min, max, signed)


def init_app(app):
    app.url_map.converters["int"] = DatabaseId  # before the blueprints' routes are bound
    for code in (400, 403, 404, 405, 409, 413, 500):
        app.register_error_handler(code, error_page)
    if on_postgres():  # a server of its own, which may be restarting (SQLite's file is always there)
        for error in UNAVAILABLE:
            app.register_error_handler(error, unavailable_page)


def error_page(error):
    """Show an error as a short page, or as a fragment for htmx to put in the page."""
    if error.code in MESSAGES and error.description == type(error).description:  # Werkzeug's own
        error.description = MESSAGES[error.code]
    return show(error), error.code


def show(error):
    if htmx_request():
        return render_template("partials/error.html", message=error.description)
    return render_template("error.html", error=error)


def unavailable_page(error):
    """The database cannot be reached (PostgreSQL restarting) or is too busy now: 503, try again soon.
    A request that failed stored nothing, so nothing a page was told had been stored is lost."""
    log_failure(current_app.logger, f"{request.method} {request.path}", error)
    page = ServiceUnavailable(MESSAGES[503])
    # rendered without the context processors: flask-login's would ask the database for the user
    templates = current_app.jinja_env
    if htmx_request():
        body = templates.get_template("partials/error.html").render(message=page.description)
    else:
        body = templates.get_template("error.html").render(
            error=page, csrf_token=lambda: session.get("csrf", "")
        )
    return body, 503, {"Retry-After": "5"}
