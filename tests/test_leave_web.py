"""Leaving a message and the Messages page over HTTP on a real server: who may see what, bad input,
a closed queue, and what the widget is told."""

import html
import re
from datetime import date, timedelta

from clients import rows
from samples import png_bytes

CLOSED_SALES = """\
[[queue]]
name = "Sales"
timezone = "UTC"
closed = [{dates}]

[queue.hours]
mon = ["00:00-24:00"]
tue = ["00:00-24:00"]
wed = ["00:00-24:00"]
thu = ["00:00-24:00"]
fri = ["00:00-24:00"]
sat = ["00:00-24:00"]
sun = ["00:00-24:00"]
"""


def text_of(response):
    return html.unescape(re.sub(r"<[^>]+>", " ", response.text))


def close_sales(server, tmp_path):
    """Close Sales from yesterday on for 900 days (a holiday on every date)."""
    start = date.today() - timedelta(days=1)
    dates = ", ".join(f'"{start + timedelta(days=n)}"' for n in range(900))
    path = tmp_path / "closed.toml"
    path.write_text(CLOSED_SALES.format(dates=dates))
    server.load(path)


def leave(chatter, uploads=(), **form):
    """Leave a message from the pre-chat page as its form does (multipart, htmx)."""
    chatter.get(f"/chat/{chatter.slug}")
    fields = {"name": "Carl", "email": "carl@example.com", "text": "My parcel is lost."} | form
    parts = [("files", (name, data, "application/octet-stream")) for name, data in uploads]
    return chatter.post(f"/chat/{chatter.slug}/leave", fields, files=parts or None)


def test_a_message_left_reaches_those_who_hold_its_queue_and_nobody_else(server, people):
    chatter = people.chatter(server)
    page = chatter.get("/chat/support")
    assert "leave a message" in text_of(page) and "Start chat" in page.text  # open, nobody there
    response = leave(chatter, [("parcel.png", png_bytes())])
    assert response.status_code == 200 and "by e-mail" in text_of(response)
    ((message_id, token),) = rows(
        server, "select m.id, f.token from leftmessage m join leftfile f on f.left_message_id = m.id"
    )

    ann, dan, sue = (people.agent(server, name) for name in ("ann", "dan", "sue"))
    assert "My parcel is lost." in ann.get("/messages").text
    assert "My parcel is lost." in sue.get("/messages").text
    assert "My parcel is lost." not in dan.get("/messages").text  # Sales only
    assert re.search(r'id="messages-link"[^>]*>Messages <span class="badge offer">1<', ann.console())
    assert 'id="messages-link" href="/messages" class="messages-link">Messages</a>' in dan.console()

    assert ann.get(f"/messages/files/{token}").content == png_bytes()
    for path in (f"/messages/{message_id}/reply", f"/messages/{message_id}/handled"):
        assert dan.post(path, {"reply": "Not mine"}).status_code == 404
    assert dan.get(f"/messages/files/{token}").status_code == 404
    assert dan.get(f"/messages/{message_id}/replies").status_code == 404
    assert dan.get("/logs/messages").status_code == 403
    assert "My parcel is lost." in sue.get("/logs/messages").text
    assert rows(server, "select count(*) from leftmail where kind = 'reply'") == [(0,)]

    assert ann.post(f"/messages/{message_id}/reply", {"reply": "  "}).status_code == 400
    answered = ann.post(f"/messages/{message_id}/reply", {"reply": "We found it."})
    assert answered.status_code == 200 and "Replied by Ann Agent" in text_of(answered)
    handled = ann.post(f"/messages/{message_id}/handled")
    assert "Handled by Ann Agent" in text_of(handled)
    assert "Mark as handled" not in handled.text
    assert 'class="messages-link">Messages</a>' in handled.text  # the count, gone out of band
    assert rows(server, "select handled_by_id is not null from leftmessage") == [(1,)]


def test_anyone_not_signed_in_is_sent_to_login(server, people):
    visitor = people.browser(server)
    for path in ("/messages", "/messages/files/whatever", "/messages/1/replies", "/logs/messages"):
        response = visitor.get(path, allow_redirects=False)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_bad_input_is_refused_with_the_reason_and_nothing_is_stored(server, people):
    chatter = people.chatter(server)
    for form, uploads, reason in [
        ({"email": ""}, (), "Give your e-mail address"),
        ({"email": "carl@example.com\r\nBcc: x@evil.example"}, (), "Give your e-mail address"),
        ({"text": ""}, (), "Write your message."),
        ({}, [("tool.exe", b"MZ\x90\x00")], "tool.exe: only text, PDF and image files"),
        ({}, [("photo.png", b"not a png")], "photo.png: the content is not"),
    ]:
        response = leave(chatter, uploads, **form)
        assert response.status_code == 400, reason
        assert reason in text_of(response)
        assert response.text.lstrip().startswith("<main")  # htmx puts it in place of the form
    assert rows(server, "select count(*) from leftmessage") == [(0,)]
    assert not list((server.folder / "files").iterdir())
    assert chatter.get("/chat/nowhere/availability").status_code == 404
    assert chatter.post("/chat/nowhere/leave", {"email": "carl@example.com", "text": "Hi"}).status_code == 404


def test_a_closed_queue_says_when_it_opens_takes_no_chat_and_takes_messages(server, people, tmp_path):
    people.agent(server, "dan", "Sales desk")  # someone is there: closed all the same
    close_sales(server, tmp_path)
    chatter = people.chatter(server, slug="sales")
    page = chatter.get("/chat/sales")
    assert "We are closed now." in text_of(page) and "Start chat" not in page.text
    assert "data-opens" in page.text  # the next opening, 900 days on
    refused = chatter.post("/chat/sales", {"name": "Pete"})
    assert refused.status_code == 409 and "We are closed now" in text_of(refused)
    assert rows(server, "select count(*) from chat") == [(0,)]
    state = chatter.get("/chat/sales/availability")
    assert state.headers["Access-Control-Allow-Origin"] == "*"
    assert state.json() | {"opens_at": None} == {
        "open": False,
        "staffed": True,
        "takes_chats": False,
        "opens_at": None,
    }
    assert leave(chatter).status_code == 200
    assert rows(server, "select q.name from leftmessage m join queue q on q.id = m.queue_id") == [("Sales",)]


def test_a_chat_started_with_nobody_there_is_offered_the_form_only_once_someone_came_and_went(server, people):
    chatter = people.chatter(server)
    chatter.start("Carl")  # "Start chat" beside the form: they chose to wait
    assert "Nobody can take your chat right now." not in text_of(chatter.page())
    ann = people.agent(server, "ann", "Support desk")
    ann.post("/status/logoff")
    assert "Nobody can take your chat right now." in text_of(chatter.page())
    response = chatter.post("/chat/support/keep-waiting")
    assert response.status_code == 200 and "Send message" not in response.text
    assert "Nobody can take your chat right now." not in text_of(chatter.page())  # a reload too
    assert rows(server, "select state from chat") == [("waiting",)]


def test_a_chat_an_agent_took_meanwhile_leaves_no_message_and_says_why(server, people):
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat_id = chatter.start("Carl", "carl@example.com")
    ann.accept(chat_id)
    response = chatter.post(
        "/chat/support/leave",
        {"email": "carl@example.com", "text": "Too late?"},
        files=[("files", ("a.txt", b"hi"))],
    )
    assert response.status_code == 409 and "just taken your chat" in response.text
    assert 'id="leave-offer-' in response.text and "Send message" not in response.text  # the form goes
    assert rows(server, "select count(*) from leftmessage") == [(0,)]
    assert rows(server, "select state from chat") == [("active",)]
    assert not list((server.folder / "files").iterdir())


def test_the_widget_is_told_whether_anyone_can_take_a_chat(server, people):
    chatter = people.chatter(server)
    assert chatter.get("/chat/support/availability").json()["takes_chats"] is False
    ann = people.agent(server, "ann", "Support desk")
    assert chatter.get("/chat/support/availability").json() == {
        "open": True,
        "staffed": True,
        "takes_chats": True,
        "opens_at": None,
    }
    ann.post("/status/pause")
    assert chatter.get("/chat/support/availability").json()["staffed"] is False  # all of them paused


def test_the_admin_form_refuses_bad_hours_with_a_message_and_changes_nothing(server, people):
    sue = people.agent(server, "sue")
    (queue_id,) = rows(server, "select id from queue where name = 'Support'")[0]
    path = f"/admin/queues/{queue_id}"
    form = {"name": "Support", "enabled": "on", "timezone": "Europe/Oslo", "hours_mon": "08:00-16:00"}
    sue.get(path)
    bad = sue.post(path, form | {"hours_tue": "16:00-08:00"})
    assert bad.status_code == 400 and "ends before it starts" in text_of(bad)
    assert "Nothing was saved" in text_of(bad)
    assert rows(server, "select timezone, hours from queue where id = ?", queue_id) == [("", "")]
    good = sue.post(path, form | {"email": "help@shop.example", "longest_wait": "60"})
    assert good.status_code == 200 and "Saved the queue Support." in text_of(good)
    assert rows(server, "select timezone, email, longest_wait from queue where id = ?", queue_id) == [
        ("Europe/Oslo", "help@shop.example", 60)
    ]
    exported = sue.get("/admin/export").text
    assert 'hours = { mon = ["08:00-16:00"] }' in exported and "longest_wait = 60" in exported
