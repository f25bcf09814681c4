"""The chatter's page as its socket keeps it (ChatView, a live.page.View) and the fragments it shares
with the page's requests: the chat's status, the offer to leave a message, the composer and the
transcripts' status."""

from flask import render_template, url_for
from markupsafe import Markup

from data import availability, left_messages
from data.models import Chat, Message
from live.events import ChatChanged, Log, MailStatus, Typing, Updated
from views.compose import typing_html
from views.fragments import append_to, replace
from views.messages import message_html


def status_html(chat):
    waiting = chat.state in ("waiting", "offered")
    wait = availability.estimated_wait(chat.queue_id) if waiting else None
    estimate = availability.say_wait(wait) if wait is not None else None
    return render_template(
        "partials/chat_status.html", chat=chat, agents=list(chat.agents()), estimate=estimate
    )


def leave_offer_html(chat, mode, form=None, errors=None):
    """The offer to leave a message instead of waiting on (mode from data/availability.py offer_mode),
    with what the chatter wrote so far carried into it; once they did, the confirmation."""
    if form is None and mode in ("nobody", "late"):
        form = {
            "name": chat.chatter_name,
            "email": chat.chatter_email,
            "text": left_messages.carried_text(chat),
        }
    left = left_messages.left_from(chat).email if mode == "sent" else None
    return Markup(
        render_template(
            "partials/leave_offer.html", chat=chat, mode=mode, form=form or {}, errors=errors or {}, left=left
        )
    )


def composer_html(chat):
    return render_template("partials/chatter_composer.html", chat=chat)


def transcript_status_html(chat, error=""):
    """What became of the transcripts the chatter asked to have e-mailed (views/transcripts.py)."""
    return render_template("partials/transcript_status.html", chat=chat, error=error)


def chatter_seqs(chat_id):
    """The seqs of the messages the chatter sees, in order: the one the page numbers n is seqs[n - 1]
    (see ChatView)."""
    return [m.seq for m in Message.for_chatter(chat_id)]


class ChatView:
    """What a chat page's socket sends: the chatter's messages and the chat's state (live.page.View).

    The page numbers messages by a count of its own (1, 2, 3… of those it sees), never by their seq,
    whose gaps would tell how many private messages the chat holds; it says which it holds by that
    count in its hello.
    """

    def __init__(self, chat):
        self.chat_id = chat.id
        self.chat_base = url_for("chat.page", slug=chat.queue.slug)  # answers and files live below it
        self.seq = 0  # the last message the page holds, by its seq
        self.number = 0  # … and by the page's count
        self.ended = None
        self.offer = None  # the mode of the offer to leave a message that the page shows; None: unknown

    def channels(self):
        return [f"chat:{self.chat_id}"]

    def listen(self, follow):
        """The page hears its chat's channel alone, from start to end."""

    def sync(self, seqs, modes):
        held = chatter_seqs(self.chat_id)
        self.number = max(0, min(seqs.get(self.chat_id, 0), len(held)))  # past the last: the last
        self.seq = held[self.number - 1] if self.number else 0
        self.ended = {"ended": True, "open": False}.get(modes.get(self.chat_id))
        return self._state() + self._messages() + self._mail_status()

    def render(self, event):
        match event:
            case Log(_, fresh):
                return self._messages(fresh)
            case Typing(_, who, private):
                return "" if private or who == "chatter" else replace(typing_html(self.chat_id, who))
            case Updated(_, seq):
                return self._updated(seq)
            case ChatChanged():
                return self._state()
            case MailStatus():
                return self._mail_status()
        return ""

    def _state(self):
        chat = Chat.get_by_id(self.chat_id)
        parts = [replace(status_html(chat))]
        offer = availability.offer_mode(chat)
        if offer != self.offer:  # a page showing the same mode keeps it (static/leave.js): drafts survive
            self.offer = offer
            parts.append(replace(leave_offer_html(chat, offer)))
        ended = chat.state == "ended"
        if ended != self.ended:
            self.ended = ended
            parts.append(replace(composer_html(chat)))
        return Markup("").join(parts)

    def _mail_status(self):
        chat = Chat.get_by_id(self.chat_id)
        return replace(transcript_status_html(chat)) if chat.state == "ended" else ""

    def _updated(self, seq):
        """Re-render a message the page already shows (a question once answered)."""
        if seq > self.seq:
            return ""
        message = Message.for_chatter(self.chat_id).where(Message.seq == seq).first()
        if message is None:
            return ""
        number = Message.for_chatter(self.chat_id).where(Message.seq <= seq).count()
        return replace(self._message_html(message, number))

    def _message_html(self, m, number):
        return message_html(m, "chatter", chat_base=self.chat_base, number=number)

    def _messages(self, fresh=()):
        # messages just stored, next in line, are shown without reading them back; any private one
        # sends the read through Message.for_chatter, the one gate to what a chatter sees
        if fresh and fresh[0].seq == self.seq + 1 and not any(m.private for m in fresh):
            messages = fresh
        else:
            messages = list(Message.for_chatter(self.chat_id, after=self.seq))
        if not messages:
            return ""
        self.seq = messages[-1].seq
        html = "".join(self._message_html(m, self.number + i) for i, m in enumerate(messages, 1))
        self.number += len(messages)
        return append_to(f"log-{self.chat_id}", html)
