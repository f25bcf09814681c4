"""Attachments over HTTP: taking files with a message, and serving them only to those who may see them."""

from urllib.parse import quote

import flask
from flask import Blueprint, abort, send_file
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from data import files, participants, quota
from data.models import Attachment, Offer

bp = Blueprint("files", __name__)

# a file is never a page: no scripts, no plugins, no framing, even if a browser tried to render it
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'"


def take_uploads(request, chat_id):
    """Check and store the files sent with a message in the chat (None: no chat yet, a first message
    or a message left); return their descriptions or raise FileRefused (past the chat's quota or the
    free-disk floor too).

    Nothing is stored unless every file passes. Werkzeug spools each upload to a temporary file on
    disk past 500 KB, so a 20 MB file is never held in memory.
    """
    uploads = [files.Upload(f.filename, f.stream) for f in request.files.getlist("files") if f.filename]
    if not uploads:
        return []
    types = files.check(uploads)
    quota.check_room(chat_id, sum(upload.size for upload in uploads))
    return files.save(uploads, types)


class Request(flask.Request):
    """A request whose uploaded files are cut off (413) the moment one grows past the 20 MB a file may
    have, while it streams in: not after the whole form (MAX_CONTENT_LENGTH) reached the disk."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        stream = super()._get_file_stream(total_content_length, content_type, filename, content_length)
        return CappedFile(stream, files.MAX_SIZE, filename)


class CappedFile:
    """An upload's spool file that refuses to grow past `limit` bytes, naming the file."""

    def __init__(self, stream, limit, filename):
        self._stream = stream
        self._room = limit
        self._name = files.display_name(filename)

    def write(self, data):
        self._room -= len(data)
        if self._room < 0:
            raise RequestEntityTooLarge(f"Nothing was sent. {self._name}: the file is larger than 20 MB.")
        return self._stream.write(data)

    def __getattr__(self, name):  # read, seek, tell, close…: the spool file's own
        return getattr(self._stream, name)


@bp.get("/files/<token>")
@login_required
def agent_download(token):
    """Serve a file to a supervisor, or to an agent who is in its chat, was in it when the file came,
    or is being offered it."""
    attachment = Attachment.get_or_none(Attachment.token == token) or abort(404)
    if not current_user.supervisor and not _agent_may_see(attachment, current_user.id):
        abort(404)
    return serve(attachment)


def _agent_may_see(attachment, agent_id):
    """In the chat now or when the file came, or shown it by an open offer (a new chat or an invitation)."""
    chat_id = attachment.chat_id
    offered = Offer.select().where(
        (Offer.chat == chat_id) & (Offer.agent == agent_id) & (Offer.state == "pending")
    )
    return participants.saw(chat_id, agent_id, attachment.created_at) or offered.exists()


def serve(attachment):
    """Send a file with headers that keep a browser from treating it as anything but what it is."""
    inline = attachment.is_image
    response = send_file(
        files.path_of(attachment.token),
        mimetype=attachment.content_type,  # text/plain gets "; charset=utf-8" from Werkzeug
        conditional=True,
        max_age=0,
    )
    response.headers["Content-Disposition"] = disposition(
        "inline" if inline else "attachment", attachment.name
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"  # no other site may embed it
    return response


def disposition(kind, name):
    """`kind` with the file name: a plain ASCII fallback without quotes, backslashes or control
    characters (some browsers do not unescape them, RFC 6266 D), and the real name in filename*."""
    name = files.display_name(name)
    plain = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in name)
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
