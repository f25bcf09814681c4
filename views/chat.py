"""The chatter's page: start a chat in a queue, wait, talk, end; and what its socket pushes."""

from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup

from data import actions, identity, posting, routing
from data import transcript as transcripts
from data.changes import RoutingError
from data.checks import has_control, is_email
from data.db import prepared
from data.models import Attachment, Chat, Message, Queue
from live.announce import announce
from live.events import ChatChanged, Log, MailStatus, Typing, Updated
from views.compose import error, post_message, socket_message, typing_html
from views.files import serve
from views.fragments import append_to, htmx_request, replace
from views.messages import message_html
from views.widget import chatter_cookie_options

bp = Blueprint("chat", __name__)

MAX_NAME = 80
MAX_URL = 2000
CHAT_COOKIE_AGE = timedelta(days=1)
KEPT_TOKEN = 1500  # bytes of identity token the session cookie keeps for the next chat (cookies: 4 KB)


def _queue_or_404(slug):
    return _enabled_queue(slug).first() or abort(404, "There is no such chat.")


# both run on every request of a chat page: compiled once (data.db.prepared)
@prepared
def _enabled_queue(slug):
    return Queue.select().where((Queue.slug == slug) & Queue.enabled).limit(1)


@prepared
def _chat_by_token(token, slug):
    return Chat.select().join(Queue).where((Chat.token == token) & (Queue.slug == slug)).limit(1)


def _cookie_name(slug):
    return f"parley_chat_{slug}"


def chat_from_cookie(slug):
    """The chat this browser started in the queue `slug`, found by its secret token, or None."""
    token = request.cookies.get(_cookie_name(slug))
    if not token:
        return None
    return _chat_by_token(token, slug).first()


@bp.get("/chat/<slug>")
def page(slug):
    """Show the pre-chat form, or this browser's chat in the queue."""
    chat = chat_from_cookie(slug)
    if chat is None:
        queue = _queue_or_404(slug)  # a disabled queue takes no new chats; open ones go on
        # a host site's signed identity and page travel in the pre-chat form to the chat's start
        token = request.args.get("identity", "")[: identity.MAX_TOKEN + 1]
        form = {"identity": token, "page": page_url(request.args.get("from") or _outside_referrer())}
        who = _verified(token)
        if who:
            form.update(name=who.name, email=who.email)
        return _show(queue, errors={}, form=form, verified=who)
    return _show(chat.queue, chat)


def _show(queue, chat=None, status=200, **context):
    """The chat page; for htmx (the pre-chat form sent) only its <main>, which htmx puts in place."""
    if chat is not None:
        context.update(
            messages=list(Message.for_chatter(chat)), chat_base=url_for("chat.page", slug=queue.slug)
        )
    template = "partials/chat_main.html" if htmx_request() else "chat.html"
    return render_template(template, queue=queue, chat=chat, **context), status


@bp.post("/chat/<slug>")
def start(slug):
    """Start a chat in the queue with the optional name and e-mail."""
    queue = _queue_or_404(slug)
    name = request.form.get("name", "").strip()
    email = request.form.get("email", "").strip()
    token = request.form.get("identity", "")
    who = _verified(token)
    if who:  # what the host site vouches for wins over anything typed
        name, email = who.name or name, who.email or email
    errors = {}
    if len(name) > MAX_NAME:
        errors["name"] = f"Your name can be at most {MAX_NAME} characters."
    if email and not is_email(email):
        errors["email"] = "This does not look like an e-mail address."
    started_from = page_url(request.form.get("page"))
    if errors:
        form = {"name": name, "email": email, "identity": token, "page": started_from}
        return _show(queue, status=400, errors=errors, form=form, verified=who)
    chat, changes = routing.start_chat(
        queue,
        name=name,
        email=email,
        name_verified=bool(who and who.name),
        email_verified=bool(who and who.email),
        started_from=started_from,
        user_agent=request.headers.get("User-Agent", "")[:512],
    )
    announce(changes)
    # "Start a new chat" brings them back (see new()); a token too big for a cookie is not kept
    kept = token if who and len(token) <= KEPT_TOKEN else ""
    session[f"again_{slug}"] = {"identity": kept, "from": started_from or ""}
    if htmx_request():  # the chat at once, without a second request for the page
        response = make_response(_show(queue, Chat.get_by_id(chat.id)))
        response.headers["HX-Replace-Url"] = url_for("chat.page", slug=slug)  # as the redirect would
    else:
        response = redirect(url_for("chat.page", slug=slug), 303)
    response.set_cookie(
        _cookie_name(slug), chat.token, max_age=CHAT_COOKIE_AGE, **chatter_cookie_options(f"/chat/{slug}")
    )
    return response


def _verified(token):
    """The identity a host site signed into `token`, or None (data/identity.py logs why)."""
    return identity.verify(token, current_app.config["IDENTITY_SECRET"]) if token else None


def _outside_referrer():
    """The Referer, unless it is one of our own pages (a reload, "Start a new chat")."""
    referrer = request.referrer or ""
    return "" if urlsplit(referrer).netloc == request.host else referrer


def page_url(url):
    """The page a chat starts from, if it is a plain http(s) address; "" otherwise."""
    url = (url or "").strip()
    if len(url) > MAX_URL or has_control(url) or not url.lower().startswith(("http://", "https://")):
        return ""
    return url


def own_chat(slug):
    return chat_from_cookie(slug) or abort(403, "This chat is not yours, or it has expired.")


@bp.post("/chat/<slug>/messages")
def send(slug):
    """Send the chatter's message."""
    chat = own_chat(slug)
    return post_message(
        "chat-alert", lambda text, saved: posting.post_by_chatter(chat, text, files=saved), by_chatter=True
    )


def socket_send(chat, sent):
    """Store a message the chat page sent over its socket (see views.compose.socket_message)."""

    def post(text, key):
        return posting.post_by_chatter(chat, text, key=key)

    return socket_message(sent, "chat-alert", post, by_chatter=True)


@bp.get("/chat/<slug>/files/<token>")
def download(slug, token):
    """Serve one of the chat's public files to the chatter whose chat it is."""
    chat = own_chat(slug)
    attachment = Attachment.get_or_none(Attachment.token == token)
    if attachment is None or attachment.chat_id != chat.id or attachment.private:
        abort(404)
    return serve(attachment)


@bp.post("/chat/<slug>/answer")
def answer(slug):
    """Record the chatter's choice among an agent's options."""
    chat = own_chat(slug)
    seq = request.form.get("seq", type=int)
    choice = request.form.get("choice", type=int)
    if seq is None or choice is None:
        return error("Choose one of the options.", "chat-alert", 400)
    try:
        changes = actions.answer(chat, seq, choice)
    except RoutingError as e:
        return error(str(e), "chat-alert", 409)
    announce(changes)
    return "", 204


@bp.post("/chat/<slug>/end")
def end(slug):
    """End the chat from the chatter's side."""
    chat = own_chat(slug)
    announce(routing.end_chat(chat))
    return composer_html(Chat.get_by_id(chat.id))


@bp.post("/chat/<slug>/new")
def new(slug):
    """Forget the ended chat in this browser and show the pre-chat form again, with the host site's
    identity and page of the last chat (a widget's frame has no other way to get them back)."""
    _queue_or_404(slug)
    again = {k: v for k, v in session.pop(f"again_{slug}", {}).items() if v}
    response = redirect(url_for("chat.page", slug=slug, **again), 303)
    response.delete_cookie(_cookie_name(slug), **chatter_cookie_options(f"/chat/{slug}"))
    return response


@bp.get("/chat/<slug>/transcript")
def transcript(slug):
    """Download the chat as plain text, without anything private."""
    chat = own_chat(slug)
    headers = {"Content-Disposition": f'attachment; filename="{transcripts.filename(chat)}"'}
    return Response(transcripts.text(chat), mimetype="text/plain", headers=headers)


def status_html(chat):
    return render_template("partials/chat_status.html", chat=chat, agents=list(chat.agents()))


def composer_html(chat):
    return render_template("partials/chatter_composer.html", chat=chat)


def transcript_status_html(chat, error=""):
    """What became of the transcripts the chatter asked to have e-mailed (views/transcripts.py)."""
    return render_template("partials/transcript_status.html", chat=chat, error=error)


class ChatView:
    """What a chat page's socket sends: the chatter's messages and the chat's state (live.page.View)."""

    def __init__(self, chat):
        self.chat_id = chat.id
        self.chat_base = url_for("chat.page", slug=chat.queue.slug)  # answers and files live below it
        self.seq = 0
        self.ended = None

    def channels(self):
        return [f"chat:{self.chat_id}"]

    def listen(self, follow):
        """The page hears its chat's channel alone, from start to end."""

    def sync(self, seqs, modes):
        self.seq = seqs.get(self.chat_id, 0)
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
        return replace(self._message_html(message)) if message else ""

    def _message_html(self, m):
        return message_html(m, "chatter", chat_base=self.chat_base)

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
        return append_to(f"log-{self.chat_id}", "".join(self._message_html(m) for m in messages))
