"""Transcripts by e-mail for the chatter: queue one, see what became of it; the server's mail sender."""

import threading

from flask import Blueprint, render_template, request, url_for

from data import mail
from data.db import connection
from data.models import Chat
from views import limits
from views.chat import _own_chat
from views.fragments import or_page
from views.live import hub

bp = Blueprint("transcripts", __name__)

_wake = threading.Event()  # set when a mail is queued: the sender tries it at once


def _too_many_mails(message):
    return status_html(_own_chat(request.view_args["slug"]), error=message)


@bp.post("/chat/<slug>/transcript/email")
# only mails queued count: an address refused sends nothing
@limits.limit(
    "LIMIT_TRANSCRIPT_MAILS", "transcripts e-mailed from your address", _too_many_mails, counts=limits.done
)
def email(slug):
    """Queue the ended chat's transcript for the address the chatter gave."""
    chat = _own_chat(slug)
    try:
        mail.queue_transcript(chat, request.form.get("email", ""))
    except mail.RateLimited as e:
        return status_html(chat, error=str(e)), 429
    except mail.MailRefused as e:
        return status_html(chat, error=str(e)), 409 if chat.state != "ended" else 400
    _wake.set()
    return or_page(status_html(Chat.get_by_id(chat.id)), url_for("chat.page", slug=slug))


def status_html(chat, error=""):
    return render_template("partials/transcript_status.html", chat=chat, error=error)


def start_sender(app, every=1.0):
    """Send queued and due transcript mails, and tell each chatter's page how it went, forever."""

    def loop():
        while True:
            _wake.wait(every)
            _wake.clear()
            try:
                with connection():
                    for queued in mail.due():
                        mail.attempt(queued)  # records sent, retrying or failed
                        hub.publish(f"chat:{queued.chat_id}", ("mail", queued.chat_id))
            except Exception:  # noqa: BLE001 - the sender must outlive any one failure
                app.logger.exception("mail sender failed")

    threading.Thread(target=loop, name="parley-mail", daemon=True).start()
