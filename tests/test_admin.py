"""Supervisors' administration over a real server: who may enter, every form's validation, the
effects of a change (at once), the live view's actions, and the organisation export."""

import html
import re
import shutil
import subprocess
import tomllib

import pytest
import requests
from clients import AgentClient, rows
from conftest import ROOT, Parley, wait_for

from data import routing
from data.changes import RoutingError
from data.models import Agent, AgentProfile, Chat, Message, Offer, Profile, ProfileQueue, Queue, now


@pytest.fixture(scope="module")
def shared(tmp_path_factory, org_database):
    """One server for the tests that change nothing but what they create under their own names."""
    folder = tmp_path_factory.mktemp("admin-shared") / "data"
    folder.mkdir()
    shutil.copy(org_database, folder / "parley.db")
    server = Parley(folder).start()
    yield server
    server.stop()
    assert not server.errors(), server.log.read_text()


@pytest.fixture(scope="module")
def sue_shared(shared):
    sue = AgentClient(shared.url, "sue").login()
    yield sue
    sue.close()


@pytest.fixture(scope="module")
def ann_shared(shared):
    ann = AgentClient(shared.url, "ann").login()
    yield ann
    ann.close()


def one(server, sql, *args):
    found = rows(server, sql, *args)
    return found[0][0] if found else None


def snapshot(server):
    """The stored organisation, to prove a refused form changed nothing."""
    tables = ("queue", "profile", "profilequeue", "agent", "agentprofile", "predefined", "predefinedqueue")
    tables += ("optionset", "optionsetqueue", "setting")
    return {t: rows(server, f"SELECT * FROM {t} ORDER BY id") for t in tables}


def text_of(response):
    return html.unescape(re.sub(r"<[^>]+>", " ", response.text))


def agent_id(server, username):
    return one(server, "SELECT id FROM agent WHERE username = ?", username)


def queue_id(server, name):
    return one(server, "SELECT id FROM queue WHERE name = ?", name)


def profile_id(server, name):
    return one(server, "SELECT id FROM profile WHERE name = ?", name)


def agent_form(server, username, **changes):
    """The edit form of a stored agent as the page fills it in, with `changes` applied."""
    aid = agent_id(server, username)
    (name, max_chats, supervisor, enabled) = rows(
        server, "SELECT name, max_chats, supervisor, enabled FROM agent WHERE id = ?", aid
    )[0]
    form = {"username": username, "name": name, "max_chats": str(max_chats), "password": ""}
    if supervisor:
        form["supervisor"] = "on"
    if enabled:
        form["enabled"] = "on"
    form["profiles"] = [
        str(p) for (p,) in rows(server, "SELECT profile_id FROM agentprofile WHERE agent_id = ?", aid)
    ]
    for key, value in changes.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return form


def save(client, path, form):
    """Post a form as the browser does (the page first, for its CSRF token); follow the redirect."""
    client.get(path)
    return client.post(path, form)


# --- who may enter --------------------------------------------------------------------------

SUPERVISOR_ROUTES = [
    ("GET", "/admin"),
    ("GET", "/admin/queues/new"),
    ("POST", "/admin/queues/new"),
    ("GET", "/admin/queues/1"),
    ("POST", "/admin/queues/1"),
    ("GET", "/admin/profiles/new"),
    ("POST", "/admin/profiles/new"),
    ("GET", "/admin/profiles/1"),
    ("POST", "/admin/profiles/1"),
    ("GET", "/admin/agents/new"),
    ("POST", "/admin/agents/new"),
    ("GET", "/admin/agents/1"),
    ("POST", "/admin/agents/1"),
    ("GET", "/admin/predefined/new"),
    ("POST", "/admin/predefined/new"),
    ("GET", "/admin/predefined/1"),
    ("POST", "/admin/predefined/1"),
    ("POST", "/admin/predefined/1/delete"),
    ("GET", "/admin/option-sets/new"),
    ("POST", "/admin/option-sets/new"),
    ("POST", "/admin/retention"),
    ("POST", "/admin/frame-origins"),
    ("GET", "/admin/export"),
    ("POST", "/admin/chats/1/assign"),
    ("POST", "/admin/chats/1/end"),
    ("GET", "/logs"),
    ("GET", "/logs?q=hello"),
    ("GET", "/logs/1"),
    ("GET", "/logs/1.json"),
    ("GET", "/logs/1.csv"),
    ("GET", "/logs/export.json"),
    ("GET", "/logs/export.csv"),
]
FORM = {"name": "Hacked", "title": "Hacked", "text": "x", "username": "hacker", "password": "hacker-pass"}
FORM |= {
    "max_chats": "3",
    "enabled": "on",
    "retention_days": "1",
    "agent": "1",
    "frame_origins": "https://evil.example",
}


@pytest.mark.parametrize(("method", "path"), SUPERVISOR_ROUTES)
def test_agents_who_are_not_supervisors_get_403(shared, ann_shared, method, path):
    before = snapshot(shared)
    if method == "GET":
        response = ann_shared.http.get(shared.url + path, allow_redirects=False, timeout=10)
    else:
        ann_shared.console()  # a fresh CSRF token: the refusal must be the 403, not a stale form
        response = ann_shared.post(path, FORM, allow_redirects=False)
    assert response.status_code == 403, (response.status_code, response.text[:300])
    assert "Only supervisors" in response.text
    assert snapshot(shared) == before


@pytest.mark.parametrize(("method", "path"), SUPERVISOR_ROUTES)
def test_anyone_not_signed_in_is_sent_to_login(shared, people, method, path):
    stranger = people.browser(shared)
    stranger.get("/login")  # a session with a valid CSRF token, but nobody signed in
    before = snapshot(shared)
    if method == "GET":
        response = stranger.http.get(shared.url + path, allow_redirects=False, timeout=10)
    else:
        response = stranger.post(path, FORM | {"csrf_token": stranger.token}, allow_redirects=False)
    if method == "GET":
        assert response.status_code == 302
        assert response.headers["Location"].split("?")[0] in ("/login", shared.url + "/login")
    else:  # as htmx posts: told to take its page to the sign-in page
        assert response.status_code == 401
        assert response.headers["HX-Redirect"] == "/login"
    assert snapshot(shared) == before


def test_agents_get_no_live_view_over_the_socket(shared, ann_shared):
    sock = ann_shared.socket("/ws/admin", hello={})
    sock.wait_closed()
    assert sock.text() == ""


def test_supervisors_see_administration_and_logs(shared, sue_shared):
    page = sue_shared.get("/admin")
    assert page.status_code == 200
    for heading in ("Live view", "Queues", "Profiles", "Agents", "Predefined messages", "Option sets"):
        assert f">{heading}</h" in page.text
    assert sue_shared.get("/logs").status_code == 200
    console = sue_shared.console()
    assert 'href="/admin"' in console and 'href="/logs"' in console


# --- validation: every form, clear errors, nothing stored -----------------------------------

QUEUE_ERRORS = [
    ({"name": ""}, "Give the queue a name."),
    ({"name": "   "}, "Give the queue a name."),
    ({"name": "x" * 81}, "At most 80 characters."),
    ({"name": "Sales/Returns"}, "may not hold / ? # % or \\"),
    ({"name": "50% off"}, "may not hold / ? # % or \\"),
    ({"name": "Support"}, "There is already a queue named Support."),
    ({"name": "support"}, "There is already a queue named Support."),
]


@pytest.mark.parametrize(("form", "message"), QUEUE_ERRORS)
def test_queue_form_refuses_bad_input(shared, sue_shared, form, message):
    before = snapshot(shared)
    response = save(sue_shared, "/admin/queues/new", form | {"enabled": "on"})
    assert response.status_code == 400
    assert message in text_of(response)
    assert "Nothing was saved" in text_of(response)
    assert 'aria-invalid="true"' in response.text
    assert snapshot(shared) == before


def test_renaming_a_queue_onto_another_is_refused(shared, sue_shared):
    before = snapshot(shared)
    response = save(
        sue_shared, f"/admin/queues/{queue_id(shared, 'Sales')}", {"name": "SUPPORT", "enabled": "on"}
    )
    assert response.status_code == 400
    assert "There is already a queue named Support." in text_of(response)
    assert 'value="SUPPORT"' in response.text  # what was typed stays in the form
    assert snapshot(shared) == before


PROFILE_ERRORS = [
    ({"name": "", "queues": ["support"]}, "Give the profile a name."),
    ({"name": "Night desk"}, "Choose at least one queue"),
    ({"name": "Support desk", "queues": ["support"]}, "There is already a profile named Support desk."),
    ({"name": "support DESK", "queues": ["support"]}, "There is already a profile named support DESK."),
    ({"name": "Ghost desk", "queues": ["999999"]}, "no longer exists"),
]


@pytest.mark.parametrize(("form", "message"), PROFILE_ERRORS)
def test_profile_form_refuses_bad_input(shared, sue_shared, form, message):
    form = dict(form)
    form["queues"] = [
        str(queue_id(shared, "Support")) if q == "support" else q for q in form.get("queues", [])
    ]
    before = snapshot(shared)
    response = save(sue_shared, "/admin/profiles/new", form | {"enabled": "on"})
    assert response.status_code == 400
    assert message in text_of(response)
    assert snapshot(shared) == before


AGENT_ERRORS = [
    ({"username": ""}, "Use 1 to 64 letters"),
    ({"username": "eve smith"}, "Use 1 to 64 letters"),
    ({"username": "ann"}, "The username ann is taken."),
    ({"username": "ANN"}, "The username ANN is taken."),
    ({"name": ""}, "Give the agent a name."),
    ({"password": ""}, "Give the new agent a password."),
    ({"password": "short"}, "A password needs 8 to 200 characters."),
    ({"max_chats": "0"}, "Give a whole number from 1 to 50."),
    ({"max_chats": "51"}, "Give a whole number from 1 to 50."),
    ({"max_chats": "three"}, "Give a whole number from 1 to 50."),
    ({"max_chats": ""}, "Give a whole number from 1 to 50."),
    ({"profiles": ["999999"]}, "no longer exists"),
]


@pytest.mark.parametrize(("changes", "message"), AGENT_ERRORS)
def test_new_agent_form_refuses_bad_input(shared, sue_shared, changes, message):
    form = {"username": "eve", "name": "Eve Example", "password": "eve-password", "max_chats": "3"}
    form |= {"enabled": "on"} | changes
    before = snapshot(shared)
    response = save(sue_shared, "/admin/agents/new", form)
    assert response.status_code == 400
    assert message in text_of(response)
    assert "eve-password" not in response.text  # a password is never sent back
    assert snapshot(shared) == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"enabled": None}, "You cannot disable your own account."),
        ({"supervisor": None}, "You cannot take away your own supervisor rights."),
        ({"password": "2short"}, "A password needs 8 to 200 characters."),
    ],
)
def test_a_supervisor_cannot_lock_themselves_out(shared, sue_shared, changes, message):
    before = snapshot(shared)
    response = save(
        sue_shared, f"/admin/agents/{agent_id(shared, 'sue')}", agent_form(shared, "sue", **changes)
    )
    assert response.status_code == 400
    assert message in text_of(response)
    assert snapshot(shared) == before


PREDEFINED_ERRORS = [
    ({"title": "", "text": "Hi"}, "Write the title."),
    ({"title": "Bye", "text": "  "}, "Write the message."),
    ({"title": "Bye", "text": "x" * 5001}, "At most 5000 characters."),
    ({"title": "x" * 121, "text": "Hi"}, "At most 120 characters."),
    ({"title": "greeting", "text": "Hi"}, "There is already a predefined message titled greeting."),
    ({"title": "Bye", "text": "Hi", "queues": ["999999"]}, "no longer exists"),
]


@pytest.mark.parametrize(("form", "message"), PREDEFINED_ERRORS)
def test_predefined_form_refuses_bad_input(shared, sue_shared, form, message):
    before = snapshot(shared)
    response = save(sue_shared, "/admin/predefined/new", form)
    assert response.status_code == 400
    assert message in text_of(response)
    assert snapshot(shared) == before


OPTION_SET_ERRORS = [
    ({"title": "Rating", "question": "", "options": "Good\nBad"}, "Write the question."),
    ({"title": "Rating", "question": "How was it?", "options": "Good"}, "Give between 2 and 10 options."),
    (
        {"title": "Rating", "question": "How was it?", "options": "Good\ngood"},
        "Each option must be different.",
    ),
    (
        {"title": "Rating", "question": "How?", "options": "\n".join(str(i) for i in range(11))},
        "between 2 and 10",
    ),
    ({"title": "", "question": "How?", "options": "A\nB"}, "Write the title."),
]


@pytest.mark.parametrize(("form", "message"), OPTION_SET_ERRORS)
def test_option_set_form_refuses_bad_input(shared, sue_shared, form, message):
    before = snapshot(shared)
    response = save(sue_shared, "/admin/option-sets/new", form)
    assert response.status_code == 400
    assert message in text_of(response)
    assert snapshot(shared) == before


@pytest.mark.parametrize("days", ["abc", "0", "-3", "1.5", "36501"])
def test_retention_form_refuses_bad_input(shared, sue_shared, days):
    before = snapshot(shared)
    sue_shared.get("/admin")
    response = sue_shared.post("/admin/retention", {"retention_days": days})
    assert response.status_code == 400
    assert "Give a whole number of days from 1 to 36500" in text_of(response)
    assert snapshot(shared) == before


@pytest.mark.parametrize(
    "typed",
    [
        "shop.example",  # no scheme
        "https://shop.example/",  # a path
        "https://shop.example https://shop.example/chat?x=1",
        "javascript:alert(1)",
        "https://shop.example; script-src *",  # would smuggle a directive into the header
        "\n".join(f"https://s{i}.example" for i in range(51)),
    ],
)
def test_widget_sites_form_refuses_bad_input(shared, sue_shared, typed):
    before = snapshot(shared)
    sue_shared.get("/admin")
    response = sue_shared.post("/admin/frame-origins", {"frame_origins": typed})
    assert response.status_code == 400
    assert "is not an origin like https://shop.example" in text_of(response) or "At most 50" in text_of(
        response
    )
    assert snapshot(shared) == before


def test_forms_without_a_csrf_token_are_refused(shared, sue_shared):
    before = snapshot(shared)
    response = sue_shared.post("/admin/queues/new", {"name": "Sneaky", "enabled": "on"}, csrf=False)
    assert response.status_code == 400
    assert snapshot(shared) == before


def test_unknown_items_are_404(shared, sue_shared):
    for path in ("/admin/queues/999999", "/admin/agents/999999", "/admin/predefined/999999", "/logs/999999"):
        assert sue_shared.get(path).status_code == 404


def test_what_supervisors_type_is_escaped(shared, sue_shared):
    naughty = "<img src=x onerror=alert(1)>"
    response = save(sue_shared, "/admin/predefined/new", {"title": "Naughty " + naughty, "text": naughty})
    assert response.status_code == 200
    assert naughty not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text


# --- changes that work, and take effect at once ---------------------------------------------


def test_create_edit_and_disable_a_queue(server, people):
    sue = people.agent(server, "sue")
    response = save(sue, "/admin/queues/new", {"name": "Billing Help", "enabled": "on"})
    assert response.status_code == 200 and response.history[0].status_code == 303
    assert "Saved the queue Billing Help." in text_of(response)
    visitor = people.browser(server)
    assert visitor.get("/chat/billing-help").status_code == 200

    qid = queue_id(server, "Billing Help")
    response = save(sue, f"/admin/queues/{qid}", {"name": "Billing"})  # unchecked: disabled
    assert response.status_code == 200
    assert visitor.get("/chat/billing").status_code == 404
    assert visitor.get("/chat/billing-help").status_code == 404
    assert rows(server, "SELECT name, slug, enabled FROM queue WHERE id = ?", qid) == [
        ("Billing", "billing", 0)
    ]


def test_disabling_a_queue_keeps_its_chats(server, people):
    chatter = people.chatter(server, "sales")
    chat = chatter.start(name="Old Customer")
    sue = people.agent(server, "sue")
    assert save(sue, f"/admin/queues/{queue_id(server, 'Sales')}", {"name": "Sales"}).status_code == 200
    assert people.browser(server).get("/chat/sales").status_code == 404
    # the chatter already in a chat there goes on: reload, write, end
    assert f'id="log-{chat}"' in chatter.page().text
    assert chatter.say("still here").status_code == 204
    assert rows(server, "SELECT id FROM chat WHERE id = ?", chat) == [(chat,)]
    assert "Old Customer" in sue.get("/logs").text


def test_create_an_agent_who_can_then_sign_in(server, people):
    sue = people.agent(server, "sue")
    form = {"username": "eve", "name": "Eve Example", "password": "eve-password", "max_chats": "2"}
    form |= {"enabled": "on", "profiles": [str(profile_id(server, "Support desk"))]}
    response = save(sue, "/admin/agents/new", form)
    assert response.status_code == 200, text_of(response)
    eve = AgentClient(server.url, "eve", "eve-password")
    people.everyone.append(eve)
    eve.login()
    eve.log_on("Support desk")
    assert eve.status() == "available"


def test_reset_password_max_chats_supervisor_and_profiles(server, people):
    sue = people.agent(server, "sue")
    sales = str(profile_id(server, "Sales desk"))
    form = agent_form(
        server, "ben", password="a-brand-new-password", max_chats="7", supervisor="on", profiles=[sales]
    )
    assert save(sue, f"/admin/agents/{agent_id(server, 'ben')}", form).status_code == 200
    stored = rows(server, "SELECT max_chats, supervisor FROM agent WHERE username = 'ben'")
    assert stored == [(7, 1)]
    assert rows(
        server, "SELECT profile_id FROM agentprofile WHERE agent_id = ?", agent_id(server, "ben")
    ) == [(int(sales),)]
    old = people.browser(server)
    old.get("/login")
    refused = old.post(
        "/login", {"username": "ben", "password": "ben-password", "csrf_token": old.token}, False
    )
    assert refused.status_code == 401
    ben = AgentClient(server.url, "ben", "a-brand-new-password")
    people.everyone.append(ben)
    ben.login()
    assert ben.get("/admin").status_code == 200  # now a supervisor

    # an empty password keeps the one they have
    assert save(sue, f"/admin/agents/{agent_id(server, 'ben')}", agent_form(server, "ben")).status_code == 200
    AgentClient(server.url, "ben", "a-brand-new-password").login().close()


def test_disabling_an_agent_signs_them_out_at_once(server, people):
    ann = people.agent(server, "ann", "Support desk")
    console = ann.connect()
    console.wait_for_text('id="status"')
    chatter = people.chatter(server)
    chat = chatter.start(name="Abandoned Ada")
    ann.accept(chat)
    sue = people.agent(server, "sue")

    response = save(sue, f"/admin/agents/{agent_id(server, 'ann')}", agent_form(server, "ann", enabled=None))
    assert response.status_code == 200
    assert "The account is disabled and was signed out." in text_of(response)

    assert console.wait_closed(timeout=1) == 4001  # parley.js takes the console to the sign-in page
    assert rows(server, "SELECT status, enabled FROM agent WHERE username = 'ann'") == [("off", 0)]
    # the chat goes back to its queue, history kept
    assert one(server, "SELECT state FROM chat WHERE id = ?", chat) == "waiting"
    assert "Ann Agent left the chat." in [
        t for (t,) in rows(server, "SELECT text FROM message WHERE chat_id = ?", chat)
    ]
    again = ann.http.get(server.url + "/", allow_redirects=False, timeout=10)
    assert again.status_code == 302 and "/login" in again.headers["Location"]
    retry = people.browser(server)
    retry.get("/login")
    answer = retry.post(
        "/login", {"username": "ann", "password": "ann-password", "csrf_token": retry.token}, False
    )
    assert answer.status_code == 401


def test_disabling_a_profile_logs_off_the_agents_on_it(server, people):
    ben = people.agent(server, "ben", "Support desk")
    sue = people.agent(server, "sue")
    pid = profile_id(server, "Support desk")
    form = {"name": "Support desk", "queues": [str(queue_id(server, "Support"))]}  # enabled unchecked
    assert save(sue, f"/admin/profiles/{pid}", form).status_code == 200
    assert ben.status() == "off"
    assert "Support desk" not in re.findall(r"<option[^>]*>([^<]*)</option>", ben.console())


def test_taking_away_the_profile_an_agent_is_on_logs_them_off(server, people):
    ann = people.agent(server, "ann", "Sales desk")
    sue = people.agent(server, "sue")
    form = agent_form(server, "ann", profiles=[str(profile_id(server, "Support desk"))])
    assert save(sue, f"/admin/agents/{agent_id(server, 'ann')}", form).status_code == 200
    assert ann.status() == "off"


def test_predefined_messages_and_option_sets_are_created_edited_and_deleted(server, people):
    sue = people.agent(server, "sue")
    support = str(queue_id(server, "Support"))
    form = {"title": "Goodbye", "text": "Thanks for writing, {chatter_name}!", "queues": [support]}
    assert save(sue, "/admin/predefined/new", form).status_code == 200
    pid = one(server, "SELECT id FROM predefined WHERE title = 'Goodbye'")
    assert rows(server, "SELECT queue_id FROM predefinedqueue WHERE predefined_id = ?", pid) == [
        (int(support),)
    ]
    assert save(sue, f"/admin/predefined/{pid}", {"title": "Goodbye", "text": "Bye!"}).status_code == 200
    assert rows(server, "SELECT text FROM predefined WHERE id = ?", pid) == [("Bye!",)]
    assert rows(server, "SELECT * FROM predefinedqueue WHERE predefined_id = ?", pid) == []  # every queue

    form = {"title": "Rating", "question": "How did we do?", "options": "Great\n\nFine\nPoor\n"}
    assert save(sue, "/admin/option-sets/new", form).status_code == 200
    assert rows(server, "SELECT question, options FROM optionset WHERE title = 'Rating'") == [
        ("How did we do?", '["Great", "Fine", "Poor"]')
    ]
    oid = one(server, "SELECT id FROM optionset WHERE title = 'Rating'")
    assert sue.post(f"/admin/option-sets/{oid}/delete").status_code == 200
    assert sue.post(f"/admin/predefined/{pid}/delete").status_code == 200
    assert rows(server, "SELECT * FROM predefined WHERE id = ?", pid) == []
    assert rows(server, "SELECT * FROM optionset WHERE id = ?", oid) == []


def test_a_new_predefined_message_reaches_an_open_console_without_reload(server, people):
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = chatter.start(name="Pam")
    ann.accept(chat)
    assert "Refund policy" not in ann.get(f"/chats/{chat}/predefined").text
    sue = people.agent(server, "sue")
    form = {
        "title": "Refund policy",
        "text": "Refunds take 5 days.",
        "queues": [str(queue_id(server, "Support"))],
    }
    assert save(sue, "/admin/predefined/new", form).status_code == 200
    # the console asks for the list each time it opens it: the new message is there at once
    listed = ann.get(f"/chats/{chat}/predefined").text
    assert "Refund policy" in listed and "Refunds take 5 days." in listed


def test_retention_setting_is_stored_and_can_be_cleared(server, people):
    sue = people.agent(server, "sue")
    sue.get("/admin")
    response = sue.post("/admin/retention", {"retention_days": "30"})
    assert response.status_code == 200
    assert "deleted 30 days after they ended" in text_of(response)
    assert 'value="30"' in response.text
    assert rows(server, "SELECT value FROM setting WHERE key = 'retention_days'") == [("30",)]
    response = sue.post("/admin/retention", {"retention_days": ""})
    assert "kept forever" in text_of(response)
    assert rows(server, "SELECT value FROM setting WHERE key = 'retention_days'") == [("",)]


def test_widget_sites_take_effect_on_chat_pages_at_once_and_can_be_cleared(start_server, people):
    server = start_server(env={"PARLEY_FRAME_ORIGINS": "https://shop.example"})
    sue = people.agent(server, "sue")
    response = sue.get("/admin")
    assert "the server was started with (https://shop.example)" in text_of(response)

    typed = "https://help.example\nhttps://*.help.example https://help.example"
    response = sue.post("/admin/frame-origins", {"frame_origins": typed})
    assert response.status_code == 200
    assert "may show the chat widget now: https://help.example, https://*.help.example." in text_of(response)
    chat_page = requests.get(server.url + "/chat/support", timeout=10)
    expected = "frame-ancestors 'self' https://shop.example https://help.example https://*.help.example;"
    assert expected in chat_page.headers["Content-Security-Policy"]
    login = requests.get(server.url + "/login", timeout=10)
    assert "frame-ancestors 'self';" in login.headers["Content-Security-Policy"]

    response = sue.post("/admin/frame-origins", {"frame_origins": "  "})
    assert "No other site may show the chat widget now." in text_of(response)
    chat_page = requests.get(server.url + "/chat/support", timeout=10)
    assert "frame-ancestors 'self' https://shop.example;" in chat_page.headers["Content-Security-Policy"]


# --- the live view's actions ----------------------------------------------------------------


def test_assign_a_waiting_chat_and_end_it_as_supervisor(server, people):
    dan = people.agent(server, "dan", "Sales desk")  # not on Support: the chat waits
    chatter = people.chatter(server)
    chat = chatter.start(name="Wanda Waiting")
    sue = people.agent(server, "sue")
    live = sue.socket("/ws/admin", hello={})
    live.wait_for_text("Wanda Waiting")

    response = sue.post(f"/admin/chats/{chat}/assign", {"agent": str(agent_id(server, "dan"))})
    assert response.status_code == 200
    assert "Offered to Dan Sales" in response.text
    dan.accept(chat)
    wait_for(lambda: 'id="active-' + str(chat) + '"' in live.text(), message="the chat in progress")
    assert one(server, "SELECT state FROM chat WHERE id = ?", chat) == "active"

    response = sue.post(f"/admin/chats/{chat}/end")
    assert response.status_code == 200
    assert one(server, "SELECT state FROM chat WHERE id = ?", chat) == "ended"
    chatter_page = chatter.page().text
    assert "Sue Supervisor ended the chat." in html.unescape(chatter_page)


def test_assign_sent_as_a_plain_form_offers_the_chat_and_reloads_admin(server, people):
    people.agent(server, "dan", "Sales desk")
    chat = people.chatter(server).start(name="Wanda Waiting")
    sue = people.agent(server, "sue")
    sue.get("/admin")  # as when Assign is clicked before htmx has loaded
    form = {"agent": str(agent_id(server, "dan")), "csrf_token": sue.token}
    response = sue.post(f"/admin/chats/{chat}/assign", form, csrf=False, allow_redirects=False)
    assert response.status_code == 303 and response.headers["Location"] == "/admin"
    assert "Offered to Dan Sales" in sue.get("/admin").text


def test_assign_is_refused_with_a_reason(server, people):
    chatter = people.chatter(server)
    chat = chatter.start(name="Nobody Home")
    sue = people.agent(server, "sue")
    sue.get("/admin")
    response = sue.post(f"/admin/chats/{chat}/assign", {"agent": str(agent_id(server, "ben"))})
    assert response.status_code == 409
    assert "Ben Agent is not available." in text_of(response)
    response = sue.post(f"/admin/chats/{chat}/assign", {"agent": ""})
    assert response.status_code == 400
    assert one(server, "SELECT state FROM chat WHERE id = ?", chat) == "waiting"


# --- the organisation file ------------------------------------------------------------------


def parley(server, *args):
    return subprocess.run(server.command(*args), cwd=ROOT, env=server.env, capture_output=True, text=True)


def without_header(text):
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def test_export_round_trips_through_parley_load(server, people, tmp_path):
    sue = people.agent(server, "sue")
    # something of every kind, disabled ones too, and text that needs escaping in TOML
    save(sue, "/admin/queues/new", {"name": 'Ünïcode "Quotes"'})
    save(sue, "/admin/option-sets/new", {"title": "Rating", "question": "How?", "options": "Good\nBad"})
    save(sue, "/admin/predefined/new", {"title": "Tricky", "text": 'Back\\slash "quote"\nnew line\ttab \x7f'})
    save(sue, f"/admin/agents/{agent_id(server, 'cat')}", agent_form(server, "cat", enabled=None))
    download = sue.get("/admin/export")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    exported = download.text
    doc = tomllib.loads(exported)
    assert {q["name"] for q in doc["queue"]} >= {"Support", "Sales", 'Ünïcode "Quotes"'}
    assert all("password" not in a for a in doc["agent"])
    assert next(a for a in doc["agent"] if a["username"] == "cat")["enabled"] is False
    assert (
        next(p for p in doc["predefined"] if p["title"] == "Tricky")["text"]
        == 'Back\\slash "quote"\nnew line\ttab \x7f'
    )

    # the command writes the same file
    path = tmp_path / "org.toml"
    assert parley(server, "export", str(path)).returncode == 0
    assert without_header(path.read_text()) == without_header(exported)

    # change things, then load the export: everything is as exported again, passwords kept
    save(
        sue,
        f"/admin/agents/{agent_id(server, 'cat')}",
        agent_form(server, "cat", enabled="on", max_chats="9"),
    )
    save(sue, f"/admin/queues/{queue_id(server, 'Sales')}", {"name": "Sales"})  # disabled
    result = parley(server, "load", str(path))
    assert result.returncode == 0, result.stderr
    assert without_header(sue.get("/admin/export").text) == without_header(exported)
    assert rows(server, "SELECT enabled, max_chats FROM agent WHERE username = 'cat'") == [(0, 1)]
    AgentClient(server.url, "ann").login().close()  # ann's password survived a file without passwords


def test_an_exported_file_needs_passwords_for_new_agents(server, tmp_path):
    path = tmp_path / "org.toml"
    assert parley(server, "export", str(path)).returncode == 0
    empty = Parley(tmp_path / "empty")
    result = subprocess.run(
        empty.command("load", str(path)), cwd=ROOT, env=empty.env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "'password' is missing (a new agent needs one)" in result.stderr
    assert "Nothing was changed." in result.stderr
    # with a password added by hand it loads
    blocks = path.read_text().split("\n\n")
    ann = next(b for b in blocks if 'username = "ann"' in b)
    blocks = [b for b in blocks if not b.startswith("[[agent]]")]
    blocks.append(ann.replace('username = "ann"\n', 'username = "ann"\npassword = "ann-password"\n'))
    path.write_text("\n\n".join(blocks))
    result = subprocess.run(
        empty.command("load", str(path)), cwd=ROOT, env=empty.env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# --- routing.assign and a supervisor's end_chat, without a server ----------------------------


@pytest.fixture
def desk(database):
    """Support and Sales; Ann on Sales (so Support chats wait), Ben on Support, Sue a supervisor."""
    support = Queue.create(name="Support", slug="support")
    sales = Queue.create(name="Sales", slug="sales")
    profiles = {}
    for queue in (support, sales):
        profiles[queue.name] = Profile.create(name=f"{queue.name} desk")
        ProfileQueue.create(profile=profiles[queue.name], queue=queue)
    people = {}
    for username, name, desk_name, status in (
        ("ann", "Ann Agent", "Sales", "available"),
        ("ben", "Ben Agent", "Support", "off"),
        ("sue", "Sue Supervisor", None, "off"),
    ):
        agent = Agent.create(
            username=username,
            name=name,
            password_hash="-",
            supervisor=username == "sue",
            status=status,
            profile=profiles[desk_name] if status != "off" else None,
            idle_since=now(),
        )
        if desk_name:
            AgentProfile.create(agent=agent, profile=profiles[desk_name])
        people[username] = agent
    people["support"], people["sales"], people["profiles"] = support, sales, profiles
    return people


def pending_offers(chat):
    return [(o.agent.username, o.state) for o in Offer.select().where(Offer.chat == chat).order_by(Offer.id)]


def test_assign_offers_a_waiting_chat_to_the_chosen_agent(desk):
    chat, _ = routing.start_chat(desk["support"], name="Wanda")
    assert Chat.get_by_id(chat.id).state == "waiting"  # nobody on Support
    changes = routing.assign(chat, desk["ann"])
    assert Chat.get_by_id(chat.id).state == "offered"
    assert pending_offers(chat) == [("ann", "pending")]
    assert chat.id in changes.chats and desk["ann"].id in changes.agents
    routing.accept(Offer.get(Offer.chat == chat).id, desk["ann"])
    assert Chat.get_by_id(chat.id).state == "active"


def test_assign_moves_an_offer_from_one_agent_to_another(desk):
    routing.log_on(desk["ben"], desk["profiles"]["Support"])
    chat, _ = routing.start_chat(desk["support"], name="Wanda")
    assert pending_offers(chat) == [("ben", "pending")]
    changes = routing.assign(chat, desk["ann"])
    assert pending_offers(chat) == [("ben", "withdrawn"), ("ann", "pending")]
    assert desk["ben"].id in changes.agents
    assert Chat.get_by_id(chat.id).state == "offered"


def test_assign_is_refused_with_a_reason_and_changes_nothing(desk):
    chat, _ = routing.start_chat(desk["support"], name="Wanda")
    with pytest.raises(RoutingError, match="Ben Agent is not available."):
        routing.assign(chat, desk["ben"])  # logged off
    routing.pause(desk["ann"])
    with pytest.raises(RoutingError, match="Ann Agent is not available."):
        routing.assign(chat, desk["ann"])
    routing.resume(desk["ann"])
    Agent.update(max_chats=1).where(Agent.id == desk["ann"].id).execute()
    other, _ = routing.start_chat(desk["support"], name="Other")
    routing.assign(other, desk["ann"])
    with pytest.raises(RoutingError, match="already has 1 chats, their maximum"):
        routing.assign(chat, Agent.get_by_id(desk["ann"].id))
    with pytest.raises(RoutingError, match="already offered to Ann Agent"):
        routing.assign(other, desk["ann"])
    assert pending_offers(chat) == []
    assert Chat.get_by_id(chat.id).state == "waiting"
    routing.end_chat(chat, desk["sue"], supervising=True)
    with pytest.raises(RoutingError, match="no longer waiting"):
        routing.assign(chat, desk["ann"])


def test_a_supervisor_ends_a_chat_they_are_not_in(desk):
    chat, _ = routing.start_chat(desk["sales"], name="Sam")
    offer = Offer.get(Offer.chat == chat)
    routing.accept(offer.id, desk["ann"])
    with pytest.raises(RoutingError, match="You are not in this chat."):
        routing.end_chat(chat, desk["ben"])
    with pytest.raises(RoutingError, match="Only supervisors"):
        routing.end_chat(chat, desk["ben"], supervising=True)
    changes = routing.end_chat(chat, desk["sue"], supervising=True)
    stored = Chat.get_by_id(chat.id)
    assert stored.state == "ended" and stored.chatter_left_at is None
    assert Message.select().order_by(Message.seq.desc()).first().text == "Sue Supervisor ended the chat."
    assert chat.id in changes.chats
    assert routing.end_chat(chat, desk["sue"], supervising=True).chats == set()  # twice: nothing


def test_the_chatter_still_ends_a_chat_in_their_own_name(desk):
    chat, _ = routing.start_chat(desk["sales"], name="Sam")
    routing.end_chat(chat)
    assert Chat.get_by_id(chat.id).chatter_left_at is not None
    assert Message.select().order_by(Message.seq.desc()).first().text == "Sam ended the chat."
