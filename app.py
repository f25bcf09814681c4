"""Parley: create_app() builds the web application; main() is the `parley` command."""

import argparse
import math
import os
import secrets
import sys

from flask import Flask, abort, render_template, request, session
from flask_login import LoginManager

from data import frame_origins, routing
from data.db import connection, db, open_database
from data.models import Agent
from views.fragments import htmx_request
from views.widget import is_chatter_request

DEMO_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "demo.toml")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MAX_UPLOAD = 5 * 20 * 1024 * 1024 + 1024 * 1024  # five files of 20 MB and the rest of the form


class SettingError(ValueError):
    """A PARLEY_* setting that cannot be used; the text names it."""


def settings_from_env():
    """Read the PARLEY_* settings, with the defaults CONTRACT.md promises."""
    return {
        "DATA": os.path.abspath(os.environ.get("PARLEY_DATA", "./data")),
        "OFFER_TIMEOUT": seconds("PARLEY_OFFER_TIMEOUT", "30"),
        "LEAVE_GRACE": seconds("PARLEY_LEAVE_GRACE", "10"),
        "IDENTITY_SECRET": os.environ.get("PARLEY_IDENTITY_SECRET", ""),
        "FRAME_ORIGINS": env_frame_origins(os.environ.get("PARLEY_FRAME_ORIGINS", "")),
        "SMTP_URL": smtp_url(os.environ.get("PARLEY_SMTP_URL", "").strip()),
        "MAIL_FROM": os.environ.get("PARLEY_MAIL_FROM", "").strip() or "parley@localhost",
        "MAIL_RETRY_DELAYS": retry_delays(os.environ.get("PARLEY_MAIL_RETRY_DELAYS", "30 120 600 1800")),
        "PING_INTERVAL": seconds("PARLEY_PING_INTERVAL", "25"),
        "DEMO": os.environ.get("PARLEY_DEMO") == "1",
    }


def env_frame_origins(text):
    """PARLEY_FRAME_ORIGINS: space-separated origins (https://shop.example, https://*.shop.example)."""
    origins, error = frame_origins.parse(text)
    if error:
        raise SettingError(f"PARLEY_FRAME_ORIGINS: {error}")
    return origins


def smtp_url(text):
    from data.mail import parse_smtp_url

    if text:
        try:
            parse_smtp_url(text)
        except ValueError as e:
            raise SettingError(f"PARLEY_SMTP_URL: {e}") from None
    return text


def retry_delays(text):
    """PARLEY_MAIL_RETRY_DELAYS: seconds before each retry of a failed transcript mail."""
    try:
        delays = tuple(float(d) for d in text.replace(",", " ").split())
    except ValueError:
        delays = (-1,)
    if any(d < 0 for d in delays):
        raise SettingError(f"PARLEY_MAIL_RETRY_DELAYS: {text!r} is not a list of seconds like '30 120 600'")
    return delays


def seconds(name, default):
    """The setting `name`, a number of seconds above zero."""
    text = os.environ.get(name, default)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise SettingError(f"{name}: {text!r} is not a number of seconds above 0, like 25")
    return value


def secret_key(folder):
    """PARLEY_SECRET_KEY, or one generated once and kept in the data folder."""
    key = os.environ.get("PARLEY_SECRET_KEY")
    if key:
        return key
    path = os.path.join(folder, "secret_key")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    with open(path) as f:
        return f.read().strip()


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
    routing.settings = routing.Settings(
        offer_timeout=app.config["OFFER_TIMEOUT"], leave_grace=app.config["LEAVE_GRACE"]
    )
    open_database(app.config["DATA"])
    _init_mail(app)
    _init_requests(app)
    _init_login(app)
    # imported once gevent has patched threading (in the server's worker): live/ makes locks as it loads
    from live import timers
    from live.adapter import SOCKET_OPTIONS
    from views import actions, admin, auth, chat, console, files, live, logs, messages, transcripts, widget

    app.login_manager.unauthorized_handler(auth.signed_out)
    app.add_template_global(messages.message_html)  # every log of messages, on a page or pushed
    app.session_interface = widget.Sessions()  # chat pages keep a session cookie of their own
    for module in (auth, console, actions, chat, files, live, transcripts, widget, admin, logs):
        app.register_blueprint(module.bp)
    app.config["SOCK_SERVER_OPTIONS"] = SOCKET_OPTIONS
    live.sock.init_app(app)
    if background:
        timers.start(app)
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
        # chat pages may be framed by the host sites the organisation allows (the widget)
        ancestors = "'self'"
        if is_chatter_request():
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
        """Say the server accepts work."""
        return "ok", 200, {"Content-Type": "text/plain"}

    for code in (400, 403, 404, 405, 409, 413):
        app.register_error_handler(code, _error_page)


def _error_page(error):
    """Show an error as a short page, or as a fragment for htmx to put in the page."""
    if error.code == 413:
        error.description = "Nothing was sent: at most 5 files of 20 MB each can go with a message."
    if htmx_request():
        return render_template("partials/error.html", message=error.description), error.code
    return render_template("error.html", error=error), error.code


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


# --- the `parley` command --------------------------------------------------------------------


def main(argv=None):
    """Run the `parley` command line."""
    parser = argparse.ArgumentParser(prog="parley", description="Parley, a web chat desk for support teams.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the server", description="Start the Parley server.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--data", help="data folder (default: $PARLEY_DATA or ./data)")
    serve.add_argument(
        "--demo", action="store_true", help="load the demo organisation into an empty database"
    )
    load = commands.add_parser(
        "load", help="apply an organisation file", description="Apply an organisation file."
    )
    load.add_argument("file", help="the organisation file (TOML)")
    load.add_argument("--data", help="data folder (default: $PARLEY_DATA or ./data)")
    export = commands.add_parser(
        "export",
        help="write the organisation file",
        description="Write the stored organisation as a file for `parley load`. Passwords are not "
        "exported: agents without a password in the file keep theirs when it is loaded.",
    )
    export.add_argument("file", help="where to write it (TOML); - for standard output")
    export.add_argument("--data", help="data folder (default: $PARLEY_DATA or ./data)")
    for name, does in (
        ("export-chatter", "print every chat of the chatter with this e-mail address as JSON"),
        ("delete-chatter", "delete every ended chat of the chatter with this e-mail address"),
    ):
        chatter = commands.add_parser(name, help=does, description=does[0].upper() + does[1:] + ".")
        chatter.add_argument("email", help="the e-mail address the chatter gave (any case)")
        chatter.add_argument("--data", help="data folder (default: $PARLEY_DATA or ./data)")
    args = parser.parse_args(argv)
    if args.data:
        os.environ["PARLEY_DATA"] = args.data
    try:
        settings_from_env()
    except SettingError as e:
        print(f"parley: {e}", file=sys.stderr)
        return 2
    if args.command == "load":
        return _load(args.file)
    if args.command == "export":
        return _export(args.file)
    if args.command == "export-chatter":
        return _export_chatter(args.email)
    if args.command == "delete-chatter":
        return _delete_chatter(args.email)
    return _serve(args)


def _load(path):
    from data.org import OrgError, load_file

    open_database(settings_from_env()["DATA"])
    try:
        with connection():
            counts = load_file(path)
    except OrgError as e:
        print(f"parley load: {e}", file=sys.stderr)
        print("Nothing was changed.", file=sys.stderr)
        return 1
    print("Loaded " + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + ".")
    return 0


def _export(path):
    from data.models import now
    from data.org_export import export_text

    open_database(settings_from_env()["DATA"])
    with connection():
        text = export_text(now())
    if path == "-":
        sys.stdout.write(text)
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"Wrote the organisation to {path} (passwords are not exported).")
    return 0


def _export_chatter(email):
    import json

    from data.retention import export_chatter

    open_database(settings_from_env()["DATA"])
    with connection():
        found = export_chatter(email)
    json.dump(found, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    if not found["chats"]:
        print(f"parley export-chatter: no chats of {email}", file=sys.stderr)
    return 0


def _delete_chatter(email):
    from data.retention import delete_chatter

    open_database(settings_from_env()["DATA"])
    with connection():
        deleted, still_open = delete_chatter(email)
    print(f"Deleted {deleted} chat{'s' * (deleted != 1)} of {email}.")
    if still_open:
        print(
            f"{still_open} chat{'s are' if still_open != 1 else ' is'} still open and kept: "
            "run this again once they have ended.",
            file=sys.stderr,
        )
        return 1
    return 0


def _serve(args):
    from data.org import load_file

    folder = settings_from_env()["DATA"]
    open_database(folder)
    with connection():
        if args.demo and not Agent.select().exists():
            load_file(DEMO_FILE)
            print("Loaded the demo organisation. Log in as (username / password):")
            for line in _demo_logins():
                print("  " + line)
        elif args.demo:
            print("The database already holds an organisation; the demo was not loaded.")
    if args.demo:
        os.environ["PARLEY_DEMO"] = "1"  # the worker serves the demo host page (/demo/host)
        print("A pretend host site with the chat widget: /demo/host")
    db.close_all()
    from server import run

    return run(args.host, args.port)


def _demo_logins():
    import tomllib

    with open(DEMO_FILE, "rb") as f:
        agents = tomllib.load(f)["agent"]
    for a in agents:
        role = "supervisor" if a.get("supervisor") else "agent"
        yield f"{a['username']} / {a['password']}  ({a['name']}, {role})"


if __name__ == "__main__":
    sys.exit(main())
