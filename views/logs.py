"""The organisation's chat logs for supervisors: search, filters, each chat in full, exports."""

import json

from flask import Blueprint, Response, abort, render_template, request

from data import logs
from data.models import Agent, Chat, Message, Queue, now
from views.auth import supervisor_required

bp = Blueprint("logs", __name__, url_prefix="/logs")


@bp.before_request
@supervisor_required
def require_supervisor():
    """Every log route needs a signed-in supervisor."""


@bp.get("")
def index():
    """List the chats, newest first, narrowed by the filters and the search, one page at a time."""
    filters = logs.Filters.parse(request.args)
    page = None if filters.errors else logs.page_of(filters, request.args.get("page", 1, type=int))
    context = {
        "filters": filters,
        "page": page,
        "queues": Queue.select().order_by(Queue.name),
        "agents": Agent.select().order_by(Agent.name, Agent.id),
        "states": logs.STATES,
    }
    return render_template("logs.html", **context), 400 if filters.errors else 200


@bp.get("/<int:chat_id>")
def chat(chat_id):
    """Show one chat whole and in order, private messages included and marked."""
    chat = Chat.get_or_none(Chat.id == chat_id) or abort(
        404, "There is no such chat; it may have been deleted."
    )
    return render_template(
        "log_chat.html",
        chat=chat,
        agents=logs.agents_of([chat.id]).get(chat.id, []),
        messages=list(Message.for_agents(chat)),
    )


@bp.get("/<int:chat_id>.<any(json, csv):fmt>")
def export_chat(chat_id, fmt):
    """Download one chat, private messages marked, as JSON or CSV."""
    chat = Chat.get_or_none(Chat.id == chat_id) or abort(
        404, "There is no such chat; it may have been deleted."
    )
    return _download([logs.chat_record(chat)], fmt, f"chat-{chat.id}", single=True)


@bp.get("/export.<any(json, csv):fmt>")
def export(fmt):
    """Download every chat the filters and search select (not only this page) as JSON or CSV."""
    filters = logs.Filters.parse(request.args)
    if filters.errors:
        abort(400, " ".join(filters.errors.values()))
    records = logs.records(logs.find_chats(filters))
    return _download(records, fmt, f"chats-{now():%Y%m%d-%H%M}")


def _download(records, fmt, name, single=False):
    if fmt == "json":
        body = json.dumps(records[0] if single else records, ensure_ascii=False, indent=2)
        mimetype = "application/json"
    else:
        body = logs.to_csv(records)
        mimetype = "text/csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    return Response(body, mimetype=mimetype, headers=headers)
