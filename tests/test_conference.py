"""Conferences over a real server: Leave chat, Cancel invitation, the invitation's note, and whoever is
no longer in a chat (handed over, left) getting nothing of it posted after: not on any of their
console sockets, not on reload, not by a file's URL. Supervisors still read it all in /logs.

The browser's view of the same flows is in tests/browser/test_conference.py.
"""

import re

import pytest
from clients import rows
from conftest import wait_for

pytestmark = pytest.mark.both_engines  # each test on SQLite and on PostgreSQL


def invitee_value(agent, chat, label):
    form = agent.get(f"/chats/{chat}/invite").text
    found = re.search(r'<option value="(\w+:\d+)">' + re.escape(label) + "</option>", form)
    assert found, f"no {label!r} in the invite form"
    return found.group(1)


def invite(agent, chat, label, stay=True, note=""):
    data = {"invitee": invitee_value(agent, chat, label), "note": note}
    if stay:
        data["stay"] = "yes"
    return agent.post(f"/chats/{chat}/invite", data)


def send_file(server, agent, chat, name, private=False):
    """A message with a small text file; the file's token."""
    parts = [("files", (name, b"hello", "application/octet-stream"))]
    form = {"text": f"see {name}", "private": "yes" if private else ""}
    assert agent.post(f"/chats/{chat}/messages", form, files=parts).status_code == 204
    return rows(server, "select token from attachment where name = ?", name)[0][0]


def with_carl(server, people):
    """Ann in a chat with Carl, then Ben signed in and logged on: (ann, ben, chatter, chat id)."""
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = chatter.start(name="Carl")
    ann.accept(chat)
    ben = people.agent(server, "ben", "Support desk")
    return ann, ben, chatter, chat


def conference(server, people):
    """Ann and Ben in a chat with Carl: (ann, ben, chatter, chat id)."""
    ann, ben, chatter, chat = with_carl(server, people)
    assert invite(ann, chat, "Ben Agent").status_code == 200
    ben.accept(chat)
    return ann, ben, chatter, chat


def loses_the_chat(server, people, ann, ben, chat, consoles, before_token):
    """Nothing Ben posts after Ann left reaches Ann: neither console, nor a reload, nor a file URL."""
    for console in consoles:  # the tab goes from every console of hers
        console.wait_for_text(f'id="panel-{chat}" hx-swap-oob="delete"')
    assert ben.say(chat, "AFTER-PUBLIC").status_code == 204
    assert ben.post(f"/chats/{chat}/messages", {"text": "AFTER-PRIVATE", "private": "yes"}).status_code == 204
    after_token = send_file(server, ben, chat, "after.txt", private=True)
    # a change of Ann's own status comes after all that on her sockets: then nothing more is on its way
    assert ann.post("/status/pause").status_code == 200
    for console in consoles:
        console.wait_for_text("Resume")
        assert "AFTER-" not in console.text() and "after.txt" not in console.text()
    assert f'id="panel-{chat}"' not in ann.console()
    assert ann.get(f"/files/{after_token}").status_code == 404
    assert ann.get(f"/files/{before_token}").status_code == 200  # what she saw while in it stays hers
    assert ann.post(f"/chats/{chat}/messages", {"text": "still here?"}).status_code == 404
    # supervisors read everything
    sue = people.agent(server, "sue")
    log = sue.get(f"/logs/{chat}").text
    assert "AFTER-PUBLIC" in log and "AFTER-PRIVATE" in log and "after.txt" in log
    assert sue.get(f"/files/{after_token}").status_code == 200


def test_leave_chat_leaves_the_others_chatting_and_loses_it(server, people):
    ann, ben, chatter, chat = conference(server, people)
    page = chatter.connect()
    before_token = send_file(server, ben, chat, "before.txt", private=True)
    consoles = [ann.connect(), ann.connect()]  # two tabs of Ann's console
    for console in consoles:
        console.wait_for_text("before.txt")
    assert "Leave chat" in ann.console()

    response = ann.post(f"/chats/{chat}/leave")
    assert response.status_code == 200, response.text
    page.wait_for_text("Ann Agent left the chat.")
    status = re.search(r'id="chat-status".*?</p>', chatter.page().text, re.DOTALL).group(0)
    assert "You are chatting with Ben Agent." in status, status
    loses_the_chat(server, people, ann, ben, chat, consoles, before_token)
    page.wait_for_text("AFTER-PUBLIC")  # the chat goes on for the chatter


def test_hand_over_loses_the_chat(server, people):
    ann, ben, chatter, chat = with_carl(server, people)
    before_token = send_file(server, ann, chat, "before.txt")
    consoles = [ann.connect(), ann.connect()]
    assert invite(ann, chat, "Ben Agent", stay=False).status_code == 200
    ben.accept(chat)
    loses_the_chat(server, people, ann, ben, chat, consoles, before_token)


def test_the_last_agent_cannot_leave_only_end(server, people):
    ann, ben, chatter, chat = conference(server, people)
    assert ann.post(f"/chats/{chat}/leave").status_code == 200
    assert "Leave chat" not in ben.console()
    response = ben.post(f"/chats/{chat}/leave")  # a forged request: there is no button
    assert response.status_code == 409
    assert "You are the last agent in this chat: end it instead of leaving it." in response.text
    assert ben.say(chat, "still mine").status_code == 204
    assert ann.post(f"/chats/{chat}/leave").status_code == 404  # not in it any more
    assert "chatting with Ben Agent" in chatter.page().text


def test_cancel_invitation_takes_the_offer_away_and_allows_another(server, people):
    ann, ben, chatter, chat = with_carl(server, people)
    bens = ben.connect()
    assert invite(ann, chat, "Ben Agent").status_code == 200
    bens.wait_for_text(f'id="panel-{chat}"')
    assert "Cancel invitation" in ann.console()
    offer = ben.offer_id(chat)

    response = ann.post(f"/chats/{chat}/invitation/cancel")
    assert response.status_code == 200, response.text
    assert "Cancel invitation" not in response.text
    bens.wait_for_text(f'id="panel-{chat}" hx-swap-oob="delete"')
    assert ben.offer_id(chat) is None
    late = ben.post(f"/offers/{offer}/accept")
    assert late.status_code == 409 and "This invitation was cancelled." in late.text
    assert ann.post(f"/chats/{chat}/invitation/cancel").status_code == 409  # nothing pending now
    assert "Ann Agent cancelled the invitation to Ben Agent." in ann.console()
    assert invite(ann, chat, "Ben Agent").status_code == 200  # a new one may be sent
    ben.accept(chat)
    assert "chatting with Ann Agent, Ben Agent" in chatter.page().text


def test_accepted_invitation_can_no_longer_be_cancelled(server, people):
    ann, ben, chatter, chat = with_carl(server, people)
    assert invite(ann, chat, "Ben Agent").status_code == 200
    ben.accept(chat)
    response = ann.post(f"/chats/{chat}/invitation/cancel")
    assert response.status_code == 409 and "it was answered already" in response.text
    assert "chatting with Ann Agent, Ben Agent" in chatter.page().text


def test_a_note_goes_with_the_invitation_escaped_and_length_limited(server, people):
    ann, ben, chatter, chat = with_carl(server, people)

    too_long = invite(ann, chat, "Ben Agent", note="x" * 201)
    assert too_long.status_code == 400
    assert "The note is too long: at most 200 characters, this one has 201." in too_long.text
    assert ben.offer_id(chat) is None  # nothing was sent

    note = "refund <b>1234</b>\nasap"
    assert invite(ann, chat, "Ben Agent", note=note).status_code == 200
    wait_for(lambda: ben.offer_id(chat), message="the invitation")
    offer_tab = ben.console()
    assert "Note from Ann Agent:</strong> refund &lt;b&gt;1234&lt;/b&gt; asap" in offer_tab
    assert "<b>1234</b>" not in offer_tab
    assert "Ann Agent invited Ben Agent. Note: refund &lt;b&gt;1234&lt;/b&gt; asap" in ann.console()
    assert "1234" not in chatter.page().text
