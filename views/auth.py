"""Signing agents in and out; what a signed-out browser and an agent who is no supervisor get."""

import functools
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_url, login_user, logout_user

from data import routing
from data.models import Agent
from live.announce import announce
from views import limits
from views.fragments import htmx_request

bp = Blueprint("auth", __name__)


def _login_page(error):
    return render_template("login.html", error=error, username=request.form.get("username", ""))


# failed sign-ins (401) are counted per username and per client address, and slowed past each rate
@bp.route("/login", methods=["GET", "POST"])
@limits.limit(
    "LIMIT_SIGNIN_USER", "failed sign-ins as this user", _login_page, limits.username, limits.failed_sign_in
)
@limits.limit(
    "LIMIT_SIGNIN_ADDRESS", "failed sign-ins from your address", _login_page, counts=limits.failed_sign_in
)
def login():
    """Show the sign-in form; sign the agent in on good credentials."""
    error = None
    if request.method == "POST":
        agent = Agent.authenticate(request.form.get("username", "").strip(), request.form.get("password", ""))
        if agent is not None:
            session.clear()  # a fresh session (and CSRF token) on sign-in: no fixation
            login_user(agent)
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong username or password."
    return _login_page(error), 401 if error else 200


def _safe_next(target):
    """Follow ?next= only to a path on this site."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("console.console")


@bp.post("/logout")
@login_required
def logout():
    """Log off from the queues, leave open chats and end the session."""
    announce(routing.sign_out(current_user))
    current_user.end_sessions()  # a copied cookie dies with this one
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def signed_out():
    """Send a browser that is not signed in to the sign-in page, and back here after it. An htmx
    request is told to take its page there (HX-Redirect), with nothing to swap: the sign-in page
    would otherwise land in the part of the page that asked (an alert, a tab)."""
    if htmx_request():
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = page.path if page.netloc == request.host and page.path != "/" else None
        return "", 401, {"HX-Redirect": url_for("auth.login", next=back)}
    return redirect(login_url("auth.login", request.url))


def supervisor_required(view):
    """Let only a signed-in supervisor in: others sign in first, agents who are not get a 403."""

    @functools.wraps(view)
    @login_required
    def guarded(*args, **kwargs):
        if not current_user.supervisor:
            abort(403, "Only supervisors may open this page.")
        return view(*args, **kwargs)

    return guarded
