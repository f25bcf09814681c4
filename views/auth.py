"""Signing agents in and out."""

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from data import routing
from data.models import Agent
from live.announce import announce

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; sign the agent in on good credentials."""
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        agent = Agent.get_or_none(Agent.username == username)
        if agent is not None and agent.enabled and agent.check_password(request.form.get("password", "")):
            session.clear()  # a fresh session (and CSRF token) on sign-in: no fixation
            login_user(agent)
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong username or password."
    status = 401 if error else 200
    return render_template("login.html", error=error, username=request.form.get("username", "")), status


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
