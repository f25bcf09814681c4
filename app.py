"""Parley's web application: create_app() and what every request goes through."""

import os
import secrets

from flask import Flask, abort, request, session
from flask_login import LoginManager
from werkzeug.middleware.proxy_fix import ProxyFix

from data import frame_origins, timing
from data.db import db
from data.models import Agent
from data.schema import open_database
from settings import secret_key, settings_from_env
from views.widget import is_chatter_request

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MAX_UPLOAD = 5 * 20 * 1024 * 1024 + 1024 * 1024  # five files of 20 MB and the rest of the form


def create_app(background=False, **overrides):
    """Build the Flask app; `background` starts the timer that expires offers (the server does)."""
    app = Flask(__name__, template_folder="views", static_folder="static")
    app.jinja_loader.searchpath.append(os.path.dirname(os.path.abspath(__file__)))
    app.config.update(settings_from_env())
    app.config.update(overrides)
    app.config.update(
        SECRET_KEY=secret_key(app.config["DATA"]),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=MAX_UPLOAD,
    )
    timing.settings = timing.Settings(
        offer_timeout=app.config["OFFER_TIMEOUT"],
        leave_grace=app.config["LEAVE_GRACE"],
        idle_warning=app.config["IDLE_WARNING"],
        left_chat_end=app.config["LEFT_CHAT_END"],
        away_grace=app.config["AWAY_GRACE"],
        unattended_grace=app.config["UNATTENDED_GRACE"],
    )
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:  # the client's address, scheme and host as the trusted proxies say
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    open_database(app.config["DATA"], app.config["DATABASE_URL"])
    _init_mail(app)
    _init_quota(app)
    _init_requests(app)
    _init_login(app)
    # imported once gevent has patched threading (in the server's worker): live/ makes locks as it loads
    from live import timers
    from live.adapter import SOCKET_OPTIONS
    from views import errors, files, limits

    app.request_class = files.Request  # a file past 20 MB is refused while it streams in
    errors.init_app(app)  # before the routes: ids too big for the database are 404s
    limits.init_app(app)
    from views import (
        actions,
        admin,
        auth,
        chat,
        console,
        left_messages,
        live,
        logs,
        messages,
        transcripts,
        widget,
    )

    app.login_manager.unauthorized_handler(auth.signed_out)
    app.before_request(auth.session_age)
    app.add_template_global(messages.message_html)  # every log of messages, on a page or pushed
    app.add_template_global(console.messages_link_html)  # the top bars' link to the messages left
    app.session_interface = widget.Sessions()  # chat pages keep a session cookie of their own
    for module in (
        auth,
        console,
        actions,
        chat,
        files,
        live,
        transcripts,
        widget,
        admin,
        logs,
        left_messages,
    ):
        app.register_blueprint(module.bp)
    app.config["SOCK_SERVER_OPTIONS"] = SOCKET_OPTIONS
    live.sock.init_app(app)
    if background:
        if app.config["BUS_URL"]:
            from live import redis_bus

            redis_bus.start(app, app.config["BUS_URL"])
        timers.start(app)
        left_messages.start_wait_watch(app)
    return app


def _init_mail(app):
    from data import identity, mail

    mail.settings = mail.MailSettings(
        smtp_url=app.config["SMTP_URL"],
        mail_from=app.config["MAIL_FROM"],
        outbox=os.path.join(app.config["DATA"], "outbox"),
        retry_delays=app.config["MAIL_RETRY_DELAYS"],
    )
    if identity.short_secret(app.config["IDENTITY_SECRET"]):
        app.logger.warning("PARLEY_IDENTITY_SECRET is shorter than 32 bytes: use a long random secret")


def _init_quota(app):
    from data import quota

    quota.settings = quota.QuotaSettings(
        per_chat=app.config["FILES_PER_CHAT_MB"] * quota.MB,
        min_free=app.config["MIN_FREE_DISK_MB"] * quota.MB,
    )


def _init_requests(app):
    @app.before_request
    def open_connection():
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def close_connection(exc):
        if not db.is_closed():
            db.close()

    @app.before_request
    def check_csrf():
        if request.method in UNSAFE_METHODS:
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
            if not sent or not secrets.compare_digest(sent, csrf_token()):
                abort(400, "Your session expired or the form is stale. Reload the page and try again.")

    @app.context_processor
    def template_helpers():
        return {"csrf_token": csrf_token}

    @app.template_filter("filesize")
    def filesize(size):
        """1234567 -> "1.2 MB"."""
        for unit in ("bytes", "KB", "MB"):
            if size < 1024 or unit == "MB":
                return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
            size /= 1024

    @app.template_filter("timespan")
    def timespan(delta):
        """timedelta(seconds=75) -> "1 min 15 s"."""
        seconds = int(delta.total_seconds())
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        if hours:
            return f"{hours} h {minutes} min"
        return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:  # over HTTPS, directly or through a trusted proxy: HTTPS from now on
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        # chat pages may be framed by the host sites the organisation allows (the widget)
        ancestors = "'self'"
        if is_chatter_request() and response.status_code != 503:  # a 503: the database cannot say
            allowed = dict.fromkeys((*app.config["FRAME_ORIGINS"], *frame_origins.stored()))
            ancestors = " ".join(("'self'", *allowed))
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            f"connect-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'self'",
        )
        return response

    @app.get("/healthz")
    def healthz():
        """Say whether the server accepts work: 503 with the reason when it cannot."""
        from data import health

        problem = health.problem()
        if problem:
            return f"unhealthy: {problem}", 503, {"Content-Type": "text/plain"}
        return "ok", 200, {"Content-Type": "text/plain"}


def csrf_token():
    """The session's CSRF token, made on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _init_login(app):
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = None
    manager.session_protection = "basic"

    manager.user_loader(Agent.for_session)
