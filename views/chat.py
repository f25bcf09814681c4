"""The chatter's page: start a chat in a queue, wait, talk, end (what its socket pushes: views/chat_view.py)."""

import json
import re
import secrets
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
from peewee import IntegrityError

from data import actions, availability, files, hours, identity, posting, routing
from data import transcript as transcripts
from data.changes import RoutingError
from data.checks import has_control, is_email, single_line, whole_number
from data.db import prepared
from data.models import Attachment, Chat, Message, Queue, now
from live.announce import announce
from views import limits
from views.chat_view import chatter_seqs, composer_html, leave_offer_html
from views.compose import MAX_MESSAGE, error, post_message, socket_message
from views.files import serve, take_uploads
from views.fragments import htmx_request
from views.widget import chatter_cookie_options

bp = Blueprint("chat", __name__)

MAX_NAME = 80
MAX_URL = 2000
CHAT_COOKIE_AGE = timedelta(days=1)
START_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")  # a pre-chat form's own key (_with_start_key)


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
    """Show this browser's chat in the queue, or the pre-chat form; never someone else's chat: a page
    opened with the signed identity of another person than the chat's gets a form of its own."""
    token = request.args.get("identity", "")[: identity.MAX_TOKEN + 1]
    who = _verified(token)
    chat = chat_from_cookie(slug)
    if chat is not None and _same_person(chat, who):
        return _show(chat.queue, chat)
    queue = _queue_or_404(slug)  # a disabled queue takes no new chats; open ones go on
    # a host site's signed identity and page travel in the pre-chat form to the chat's start
    form = {"identity": token, "page": page_url(request.args.get("from") or _outside_referrer())}
    if who:
        form.update(name=who.name, email=who.email)
    left = session.pop(f"left_{slug}", None)  # a message just left without htmx: say it arrived
    response = make_response(_show(queue, errors={}, form=_with_start_key(form), verified=who, left=left))
    if chat is not None:  # another person's chat, on a shared browser: this browser forgets it
        response.delete_cookie(_cookie_name(slug), **chatter_cookie_options(f"/chat/{slug}"))
    return response


def _same_person(chat, who):
    """Whether the person a signed identity names (None: no identity given) may see the chat: only
    the one the chat was verified for."""
    if who is None:
        return True
    if who.email:
        return chat.email_verified and chat.chatter_email.lower() == who.email.lower()
    return chat.name_verified and chat.chatter_name == who.name


def _with_start_key(form):
    """The form with a key of its own: sent twice (a double click), it starts one chat."""
    return dict(form, start=secrets.token_urlsafe(16))


def _show(queue, chat=None, status=200, **context):
    """The chat page; for htmx (the pre-chat form sent) only its <main>, which htmx puts in place."""
    if chat is not None:
        context.update(
            messages=list(Message.for_chatter(chat)),
            agents=list(chat.agents()),  # the status line's names, on a reload too (not only once synced)
            chat_base=url_for("chat.page", slug=queue.slug),
            leave_offer=leave_offer_html(chat, availability.offer_mode(chat)),
        )
    else:  # closed, or nobody to answer: the page offers to leave a message (partials/leave_message.html)
        context.setdefault("available", availability.of(queue))
    template = "partials/chat_main.html" if htmx_request() else "chat.html"
    return render_template(template, queue=queue, chat=chat, **context), status


def _too_many_starts(message):
    """The pre-chat form as it was sent, saying how long to wait."""
    queue = _queue_or_404(request.view_args["slug"])
    form = {
        field: request.form.get(field, "") for field in ("name", "email", "identity", "page", "start", "text")
    }
    verified = _verified(form["identity"])
    return _show(queue, errors={"start": message}, form=form, verified=verified)[0]


@bp.post("/chat/<slug>")
@limits.limit("LIMIT_CHAT_STARTS", "chats started from your address", _too_many_starts)
def start(slug):
    """Start a chat in the queue with the optional name and e-mail; a browser that has an open chat
    there gets it back instead."""
    queue = _queue_or_404(slug)
    token = request.form.get("identity", "")
    who = _verified(token)
    held = chat_from_cookie(slug)
    if held is not None and held.state != "ended" and _same_person(held, who):
        return _started(slug, held)
    name = single_line(request.form.get("name"))
    email = single_line(request.form.get("email"))
    if who:  # what the host site vouches for wins over anything typed
        name, email = who.name or name, who.email or email
    errors = {}
    if len(name) > MAX_NAME:
        errors["name"] = f"Your name can be at most {MAX_NAME} characters."
    if email and not is_email(email):
        errors["email"] = "This does not look like an e-mail address."
    started_from = page_url(request.form.get("page"))
    # from the leave-a-message form (nobody there now): what they wrote is their first message
    text = request.form.get("text", "").strip()
    if len(text) > MAX_MESSAGE:
        errors["text"] = f"A message can hold at most {MAX_MESSAGE} characters."
    if not availability.is_open(queue):
        errors["closed"] = "We are closed now: leave a message instead."
    saved = []
    if not errors:
        try:
            saved = take_uploads(request, None)  # no chat yet: only the disk's floor
        except files.FileRefused as e:
            errors["files"] = f"Nothing was sent. {e}"
    if errors:
        form = {"name": name, "email": email, "identity": token, "page": started_from, "text": text}
        status = 409 if "closed" in errors else 400
        return _show(queue, status=status, errors=errors, form=_with_start_key(form), verified=who)
    key = request.form.get("start", "")
    chat, changes = _start_once(
        queue,
        key if START_KEY.fullmatch(key) else None,
        name=name,
        email=email,
        name_verified=bool(who and who.name),
        email_verified=bool(who and who.email),
        verified_claims=json.dumps(who.claims) if who and who.claims else "",
        started_from=started_from,
        user_agent=request.headers.get("User-Agent", "")[:512],
        chose_to_wait=not availability.is_staffed(queue.id),  # the page offered a message instead
        chatter_away_since=now(),  # until its page connects: a page that never does leaves the queue
    )
    if changes is None:  # the same form sent twice: its first message went with the first
        return _started(slug, chat)
    if text or saved:
        changes.merge(posting.post_by_chatter(chat, text, files=saved))
    announce(changes)
    # "Start a new chat" brings back the page it started from (see new()), never an identity
    session[f"again_{slug}"] = {"from": started_from or ""}
    return _started(slug, chat)


def _start_once(queue, key, **fields):
    """Start a chat, once per pre-chat form: the same form sent again gets the chat it started, and
    no changes (None)."""
    try:
        return routing.start_chat(queue, start_key=key, **fields)
    except IntegrityError:
        if key is None:
            raise
        return Chat.get(Chat.start_key == key), None


def _started(slug, chat):
    """The chat page of a chat this browser (now) holds, with its cookie."""
    if htmx_request():  # the chat at once, without a second request for the page
        chat = Chat.get_by_id(chat.id)  # as stored, offered already or not
        response = make_response(_show(chat.queue, chat))
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
        "chat-alert",
        chat.id,
        lambda text, saved, key: posting.post_by_chatter(chat, text, files=saved, key=key),
        by_chatter=True,
    )


def socket_send(chat, sent):
    """Store a message the chat page sent over its socket (see views.compose.socket_message)."""

    def post(text, key):
        return posting.post_by_chatter(chat, text, key=key)

    return socket_message(sent, "chat-alert", post, by_chatter=True, sender=f"chat:{chat.id}")


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
    number = whole_number(request.form.get("seq"))
    choice = whole_number(request.form.get("choice"))
    if number is None or choice is None:
        return error("Choose one of the options.", "chat-alert", 400)
    try:
        seqs = chatter_seqs(chat.id)
        changes = actions.answer(chat, seqs[number - 1] if 1 <= number <= len(seqs) else 0, choice)
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
    """Forget the ended chat in this browser and show the pre-chat form again, with the page the last
    chat started from (a widget's frame has no other way to get it back); never with its identity,
    which may be another person's on a shared browser."""
    _queue_or_404(slug)
    started_from = session.pop(f"again_{slug}", {}).get("from")
    again = {"from": started_from} if started_from else {}
    response = redirect(url_for("chat.page", slug=slug, **again), 303)
    response.delete_cookie(_cookie_name(slug), **chatter_cookie_options(f"/chat/{slug}"))
    return response


@bp.get("/chat/<slug>/transcript")
def transcript(slug):
    """Download the chat as plain text, without anything private."""
    chat = own_chat(slug)
    headers = {"Content-Disposition": f'attachment; filename="{transcripts.filename(chat)}"'}
    return Response(transcripts.text(chat), mimetype="text/plain", headers=headers)


@bp.app_template_filter("opening")
def opening(instant, zone):
    """When a closed queue opens, said in its own time zone: "Monday at 08:00"."""
    return hours.when(instant, zone, now())
