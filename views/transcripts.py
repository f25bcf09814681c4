"""Transcripts by e-mail for the chatter: queue one, see what became of it (live/timers.py sends it)."""

from flask import Blueprint, request, url_for

from data import mail
from data.models import Chat
from live.timers import mail_queued
from views import limits
from views.chat import own_chat
from views.chat_view import transcript_status_html
from views.fragments import or_page

bp = Blueprint("transcripts", __name__)


def _too_many_mails(message):
    return transcript_status_html(own_chat(request.view_args["slug"]), error=message)


# only mails queued count: an address refused sends nothing
@bp.post("/chat/<slug>/transcript/email")
@limits.limit(
    "LIMIT_TRANSCRIPT_MAILS", "transcripts e-mailed from your address", _too_many_mails, counts=limits.done
)
def email(slug):
    """Queue the ended chat's transcript for the address the chatter gave."""
    chat = own_chat(slug)
    try:
        mail.queue_transcript(chat, request.form.get("email", ""))
    except mail.RateLimited as e:
        return transcript_status_html(chat, error=str(e)), 429
    except mail.MailRefused as e:
        return transcript_status_html(chat, error=str(e)), 409 if chat.state != "ended" else 400
    mail_queued()
    return or_page(transcript_status_html(Chat.get_by_id(chat.id)), url_for("chat.page", slug=slug))
