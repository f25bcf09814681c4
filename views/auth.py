"""Signing agents in and out."""

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from data import routing
from data.models import Agent
from views import limits
from views.live import announce

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
