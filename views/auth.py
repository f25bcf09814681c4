"""Signing agents in and out; what a signed-out browser and an agent who is no supervisor get."""

import functools
import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_url, login_user, logout_user

from data import routing
from data.models import Agent
from live import sessions
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
            session["since"] = session["seen"] = time.time()
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
    changes = routing.sign_out(current_user)
    current_user.end_sessions()  # a copied cookie dies with this one
    # its sockets close before they could show what signing out changed
    sessions.end_sessions(current_user.id, current_user.session_version + 1)
    announce(changes)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def session_age():
    """Before every request: sign out an agent's session unused for PARLEY_SESSION_IDLE seconds or
    older than PARLEY_SESSION_MAX (a cookie without the times is from before they were kept: ended),
    so the page asks to sign in; note the use of one that lasts."""
    if "_user_id" not in session:
        return
    ends, idle_from = session_deadlines()
    now = time.time()
    if now >= min(ends, idle_from):
        logout_user()
        session.clear()
    elif now - session["seen"] >= min(60, current_app.config["SESSION_IDLE"] / 4):
        session["seen"] = now  # noted in the cookie once a minute at most, not on every request


def session_deadlines():
    """When the signed-in session ends for good, and when for want of use (time.time())."""
    config = current_app.config
    since, seen = session.get("since", 0), session.get("seen", 0)
    return since + config["SESSION_MAX"], seen + config["SESSION_IDLE"]


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
