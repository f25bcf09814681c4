"""The embeddable widget: its script for host sites, the cookies of a framed chat page, the demo host.

A host site adds `<script src="https://parley.example/widget.js" data-queue="support" async>`; the
script shows a chat button that opens /chat/<queue> in an iframe. Only the origins in
PARLEY_FRAME_ORIGINS and those supervisors list on /admin (data/frame_origins.py) may frame chat pages
(Content-Security-Policy: frame-ancestors, set in app.py).

Browsers send SameSite=Lax cookies to a page framed by *another site* never, so the chatter's
cookies (the chat's own and the session that holds the CSRF token) are, over HTTPS,
`SameSite=None; Secure; Partitioned`: sent inside the frame, and kept apart per host site (CHIPS),
so they cannot follow the visitor around the web. Over plain HTTP they stay Lax, which serves only
pages of the same site (e.g. another port of 127.0.0.1, as in the tests).
"""

import time

import jwt
from flask import Blueprint, abort, current_app, render_template, request, send_from_directory
from flask.sessions import SecureCookieSessionInterface

bp = Blueprint("widget", __name__)

CHATTER_PATH = "/chat/"
CHATTER_SESSION = "parley_session"  # not "parley_chat_…": those are chats


def is_chatter_request():
    return request.path.startswith(CHATTER_PATH)


def secure_context():
    """True when the browser reached us over HTTPS (directly, or through a proxy that says so).

    A forged X-Forwarded-Proto only makes the sender's own cookies Secure, which hurts no one else.
    """
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure or forwarded == "https"


def chatter_cookie_options(path):
    """Attributes for a cookie of the chat pages: framable by another site over HTTPS, Lax otherwise."""
    embeddable = secure_context()
    return {
        "path": path,
        "httponly": True,
        "samesite": "None" if embeddable else "Lax",
        "secure": embeddable,
        "partitioned": embeddable,
    }


class Sessions(SecureCookieSessionInterface):
    """The agents' session cookie everywhere but on chat pages, which keep one of their own.

    Kept apart, a chat page framed by a host site never rewrites (or needs) an agent's session, and
    its cookie can carry the attributes a frame needs without loosening the agents' Lax one.
    """

    def get_cookie_name(self, app):
        return CHATTER_SESSION if is_chatter_request() else super().get_cookie_name(app)

    def get_cookie_path(self, app):
        return CHATTER_PATH if is_chatter_request() else super().get_cookie_path(app)

    def get_cookie_samesite(self, app):
        if is_chatter_request():
            return chatter_cookie_options(CHATTER_PATH)["samesite"]
        return super().get_cookie_samesite(app)

    def get_cookie_secure(self, app):
        if is_chatter_request():
            return secure_context()
        # the agents' session: Secure over HTTPS, as the request or a trusted proxy (ProxyFix) says
        return request.is_secure or super().get_cookie_secure(app)

    def get_cookie_partitioned(self, app):
        return secure_context() if is_chatter_request() else super().get_cookie_partitioned(app)


@bp.get("/widget.js")
def script():
    """Serve the widget's script to host sites."""
    response = send_from_directory(current_app.static_folder, "widget.js", max_age=300)
    response.mimetype = "text/javascript"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # host pages may be isolated
    return response


@bp.get("/demo/host")
def demo_host():
    """Show a pretend shop with the widget on it (only under `parley serve --demo`)."""
    if not current_app.config.get("DEMO"):
        abort(404)
    secret = current_app.config.get("IDENTITY_SECRET")
    token = ""
    if secret:  # what a host site does for a visitor it knows (README: "Verified chatters")
        claims = {"name": "Dana Demo", "email": "dana@example.com", "exp": int(time.time()) + 3600}
        token = jwt.encode(claims, secret, algorithm="HS256")
    return render_template("demo_host.html", token=token, secret_set=bool(secret))
