"""Supervisors' administration: the organisation's forms, the live view and its actions, the export."""

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from data import admin, frame_origins, queue_settings, retention, routing
from data.changes import RoutingError
from data.checks import whole_number
from data.hours import zone_names
from data.models import Agent, Chat, Profile, Queue, now
from data.org_export import export_text
from data.ready_models import OptionSet, Predefined
from live import sessions
from live.announce import announce
from live.events import Live
from views.auth import supervisor_required
from views.compose import error
from views.fragments import or_page, replace

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@supervisor_required
def require_supervisor():
    """Every admin route needs a signed-in supervisor."""


@bp.get("")
def index():
    """Show the live view and the organisation: queues, profiles, agents, predefined messages."""
    return render_template("admin.html", **_index_context())


def _index_context(**overrides):
    context = {
        "live": admin.live_snapshot(),
        "queues": Queue.select().order_by(Queue.name),
        "profiles": Profile.select().order_by(Profile.name),
        "agents": Agent.select().order_by(Agent.name, Agent.id),
        "predefined": Predefined.select().order_by(Predefined.title),
        "option_sets": OptionSet.select().order_by(OptionSet.title),
        "retention_days": retention.retention_days(),
        "frame_origins": "\n".join(frame_origins.stored()),
        "env_frame_origins": current_app.config["FRAME_ORIGINS"],
        "errors": {},
    }
    context.update(overrides)
    return context


# --- the live view --------------------------------------------------------------------------


def live_html():
    return render_template("partials/admin_live.html", live=admin.live_snapshot())


class SupervisorView:
    """What a supervisor's socket sends: the live view again whenever queues, chats or agents change
    (live.page.View)."""

    def channels(self):
        return ["supervisors"]

    def listen(self, follow):
        """The live view hears the supervisors' channel alone."""

    def sync(self, seqs, modes):
        return replace(live_html())

    def render(self, event):
        return replace(live_html()) if type(event) is Live else ""


@bp.post("/chats/<int:chat_id>/assign")
def assign(chat_id):
    """Offer a waiting chat to the chosen agent."""
    chat = Chat.get_or_none(Chat.id == chat_id) or abort(404)
    agent = Agent.get_or_none(Agent.id == whole_number(request.form.get("agent")))
    if agent is None:
        return error("Choose an agent to assign the chat to.", "live-alert", 400)
    try:
        changes = routing.assign(chat, agent)
    except RoutingError as e:
        return error(str(e), "live-alert", 409)
    announce(changes)
    return or_page(live_html(), url_for("admin.index"))


@bp.post("/chats/<int:chat_id>/end")
def end(chat_id):
    """End any chat, as a supervisor."""
    chat = Chat.get_or_none(Chat.id == chat_id) or abort(404)
    try:
        changes = routing.end_chat(chat, Agent.get_by_id(current_user.id), supervising=True)
    except RoutingError as e:
        return error(str(e), "live-alert", 409)
    announce(changes)
    return live_html()


# --- the organisation's forms ---------------------------------------------------------------


def _checked(name):
    return request.form.get(name) in ("on", "yes", "true", "1")


def _ids(name):
    return [n for n in map(whole_number, request.form.getlist(name)) if n is not None]


def _edit_page(kind, item, form, errors=None, status=200):
    """Show the form of one queue, profile, agent, predefined message or option set."""
    return (
        render_template(
            "admin_edit.html",
            kind=kind,
            item=item,
            form=form,
            errors=errors or {},
            queues=Queue.select().order_by(Queue.name),
            profiles=Profile.select().order_by(Profile.name),
            zones=zone_names() if kind == "queue" else (),
        ),
        status,
    )


def _saved(message):
    flash(message)
    return redirect(url_for("admin.index") + "#organisation", 303)


def _get(model, item_id):
    return model.get_or_none(model.id == item_id) or abort(404)


@bp.route("/queues/new", methods=["GET", "POST"], defaults={"item_id": None})
@bp.route("/queues/<int:item_id>", methods=["GET", "POST"])
def queue(item_id):
    """Create or change a queue: its name (and so its web address), whether it takes chats, and its
    opening hours, address and longest wait."""
    item = _get(Queue, item_id) if item_id else None
    if request.method == "GET":
        form = {"name": item.name, "enabled": item.enabled} if item else {"enabled": True}
        form.update(queue_settings.form_of(item))
        return _edit_page("queue", item, form)
    settings_form = {key: request.form.get(key, "") for key in queue_settings.form_of(None)}
    form = {"name": request.form.get("name", ""), "enabled": _checked("enabled"), **settings_form}
    try:
        saved, changes = admin.save_queue(item, form["name"], form["enabled"], settings_form)
    except admin.Invalid as e:
        return _edit_page("queue", item, form, e.errors, 400)
    announce(changes)
    return _saved(f"Saved the queue {saved.name}.")


@bp.route("/profiles/new", methods=["GET", "POST"], defaults={"item_id": None})
@bp.route("/profiles/<int:item_id>", methods=["GET", "POST"])
def profile(item_id):
    """Create or change a profile: its name, its queues and whether agents may log on with it."""
    item = _get(Profile, item_id) if item_id else None
    if request.method == "GET":
        form = {"enabled": True, "queues": []}
        if item:
            form = {"name": item.name, "enabled": item.enabled, "queues": item.queue_ids()}
        return _edit_page("profile", item, form)
    form = {"name": request.form.get("name", ""), "enabled": _checked("enabled"), "queues": _ids("queues")}
    try:
        saved, changes = admin.save_profile(item, form["name"], form["queues"], form["enabled"])
    except admin.Invalid as e:
        return _edit_page("profile", item, form, e.errors, 400)
    announce(changes)
    return _saved(f"Saved the profile {saved.name}.")


@bp.route("/agents/new", methods=["GET", "POST"], defaults={"item_id": None})
@bp.route("/agents/<int:item_id>", methods=["GET", "POST"])
def agent(item_id):
    """Create or change an agent: name, password, maximum of chats, rights and profiles."""
    item = _get(Agent, item_id) if item_id else None
    if request.method == "GET":
        form = {"max_chats": 3, "enabled": True, "supervisor": False, "profiles": []}
        if item:
            form = {
                "username": item.username,
                "name": item.name,
                "max_chats": item.max_chats,
                "supervisor": item.supervisor,
                "enabled": item.enabled,
                "profiles": [link.profile_id for link in item.profile_links],
            }
        return _edit_page("agent", item, form)
    form = {
        "username": request.form.get("username", ""),
        "name": request.form.get("name", ""),
        "max_chats": request.form.get("max_chats", ""),
        "supervisor": _checked("supervisor"),
        "enabled": _checked("enabled"),
        "profiles": _ids("profiles"),
    }
    values = admin.AgentForm(
        username=form["username"],
        name=form["name"],
        password=request.form.get("password", ""),
        max_chats=form["max_chats"],
        supervisor=form["supervisor"],
        enabled=form["enabled"],
        profile_ids=tuple(form["profiles"]),
    )
    before = (item.session_version, item.supervisor) if item else None
    try:
        saved, changes, signed_out = admin.save_agent(item, values, acting=current_user)
    except admin.Invalid as e:
        return _edit_page("agent", item, form, e.errors, 400)
    # the sockets of sessions that ended (a new password, disabled) close before anything is told
    if before and saved.session_version != before[0]:
        sessions.end_sessions(saved.id, saved.session_version)
    if before and saved.supervisor != before[1]:
        sessions.rights_changed(saved.id, saved.supervisor)
    announce(changes)
    if signed_out:
        return _saved(f"Saved {saved.name}. The account is disabled and was signed out.")
    return _saved(f"Saved {saved.name}.")


@bp.route("/predefined/new", methods=["GET", "POST"], defaults={"item_id": None})
@bp.route("/predefined/<int:item_id>", methods=["GET", "POST"])
def predefined(item_id):
    """Create or change a predefined message: title, text and the queues it is offered in."""
    item = _get(Predefined, item_id) if item_id else None
    if request.method == "GET":
        form = {"queues": []}
        if item:
            form = {"title": item.title, "text": item.text, "queues": [q.queue_id for q in item.queue_links]}
        return _edit_page("predefined", item, form)
    form = {
        "title": request.form.get("title", ""),
        "text": request.form.get("text", ""),
        "queues": _ids("queues"),
    }
    try:
        saved = admin.save_predefined(item, form["title"], form["text"], form["queues"])
    except admin.Invalid as e:
        return _edit_page("predefined", item, form, e.errors, 400)
    return _saved(f"Saved the predefined message {saved.title}.")


@bp.route("/option-sets/new", methods=["GET", "POST"], defaults={"item_id": None})
@bp.route("/option-sets/<int:item_id>", methods=["GET", "POST"])
def option_set(item_id):
    """Create or change an option set: a question, its options and the queues it is offered in."""
    item = _get(OptionSet, item_id) if item_id else None
    if request.method == "GET":
        form = {"queues": []}
        if item:
            form = {
                "title": item.title,
                "question": item.question,
                "options": "\n".join(item.option_list),
                "queues": [q.queue_id for q in item.queue_links],
            }
        return _edit_page("option_set", item, form)
    form = {
        "title": request.form.get("title", ""),
        "question": request.form.get("question", ""),
        "options": request.form.get("options", ""),
        "queues": _ids("queues"),
    }
    try:
        saved = admin.save_option_set(item, form["title"], form["question"], form["options"], form["queues"])
    except admin.Invalid as e:
        return _edit_page("option_set", item, form, e.errors, 400)
    return _saved(f"Saved the option set {saved.title}.")


@bp.post("/predefined/<int:item_id>/delete")
def delete_predefined(item_id):
    """Delete a predefined message; chats keep what was sent with it."""
    item = _get(Predefined, item_id)
    admin.delete_canned(item)
    return _saved(f"Deleted the predefined message {item.title}.")


@bp.post("/option-sets/<int:item_id>/delete")
def delete_option_set(item_id):
    """Delete an option set; chats keep the questions asked with it."""
    item = _get(OptionSet, item_id)
    admin.delete_canned(item)
    return _saved(f"Deleted the option set {item.title}.")


# --- retention and export -------------------------------------------------------------------


@bp.post("/retention")
def save_retention():
    """Set how many days ended chats are kept (empty: forever)."""
    days, error = retention.parse_days(request.form.get("retention_days"))
    if error:
        typed = request.form.get("retention_days", "")
        context = _index_context(retention_days=typed, errors={"retention_days": error})
        return render_template("admin.html", **context), 400
    retention.set_retention_days(days)
    if days is None:
        return _saved("Chats are now kept forever.")
    return _saved(f"Ended chats are now deleted {days} days after they ended.")


@bp.post("/frame-origins")
def save_frame_origins():
    """Set the host sites that may show the chat widget (frame the chat pages)."""
    typed = request.form.get("frame_origins", "")
    origins, error = frame_origins.parse(typed)
    if error:
        context = _index_context(frame_origins=typed, errors={"frame_origins": error})
        return render_template("admin.html", **context), 400
    frame_origins.store(origins)
    if not origins:
        return _saved("No other site may show the chat widget now.")
    return _saved(f"These sites may show the chat widget now: {', '.join(origins)}.")


@bp.get("/export")
def export():
    """Download the organisation as an organisation file for `parley load` (without passwords)."""
    at = now()
    filename = f"parley-organisation-{at:%Y%m%d-%H%M}.toml"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(export_text(at), mimetype="application/toml", headers=headers)


@bp.app_template_filter("duration")
def duration(seconds):
    """12:05 for 725 seconds; 1:02:03 past an hour."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@bp.app_template_filter("iso_duration")
def iso_duration(seconds):
    return f"PT{int(seconds)}S"
