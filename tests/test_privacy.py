"""Private content never reaches the chatter: not on any socket frame, page, fragment or transcript.

Driven over a real server with plain HTTP and websocket clients, so that every byte the chatter's
browser could receive is captured: every frame of every chat socket (two copies of the page and a
fresh resync), and the body of every response to the chatter's own requests, refusals included.
The browser's view of the same flows is in tests/browser/test_chat_actions.py.
"""

import email
import email.policy
import json
import re

import pytest
from conftest import wait_for

pytestmark = pytest.mark.both_engines  # each test on SQLite and on PostgreSQL

# what only agents may read: unique markers in private messages, and the private system lines
SECRETS = ("SECRET-ALONE", "SECRET-BEN", "SECRET-AFTER-ANSWER", "SECRET-CONFERENCE", "SECRET-NOTE")
PRIVATE_LINES = (
    "invited",
    "declined the invitation",
    "asking the next agent",
    "Invitation to",
    "invitation",
    "private note",
    "private-tag",
    "Private",
)


def recording(chatter):
    """Keep the body of every response the chatter's browser gets."""
    bodies = []
    chatter.http.hooks["response"].append(lambda response, *args, **kwargs: bodies.append(response.text))
    return bodies


def option_value(html, label):
    found = re.search(r'<option value="(\w+:\d+)">' + re.escape(label) + "</option>", html)
    assert found, f"no {label!r} in the invite form"
    return found.group(1)


def invite(agent, chat, label, stay=True, note=""):
    form = agent.get(f"/chats/{chat}/invite").text
    data = {"invitee": option_value(form, label), "note": note}
    if stay:
        data["stay"] = "yes"
    response = agent.post(f"/chats/{chat}/invite", data)
    assert response.status_code == 200, response.text


def answer_offer(agent, chat, verb):
    offer = wait_for(lambda: agent.offer_id(chat), message=f"an offer of chat {chat} to {agent.username}")
    response = agent.post(f"/offers/{offer}/{verb}")
    assert response.status_code == 200, response.text


def private(agent, chat, text):
    response = agent.post(f"/chats/{chat}/messages", {"text": text, "private": "yes"})
    assert response.status_code == 204, response.text


def type_privately(typist, watcher, chat, name):
    """`typist` sends a private typing notice; `watcher` (an agent in the chat) must see it arrive."""
    before = len(watcher.text())
    typist.ws.send(json.dumps({"typing": chat, "private": True}))
    wait_for(
        lambda: f"{name} is typing… (a private note)" in watcher.text()[before:],
        message=f"{name}'s private typing on a colleague's console",
    )


def mail_text(path):
    """Headers and every text part of an .eml file, decoded."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    parts = [str(message["Subject"])]
    parts += [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    return "\n".join(parts)


def test_no_private_text_reaches_the_chatter_in_any_flow(server, people):
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    bodies = recording(chatter)
    chat = chatter.start(name="Carl")
    ann.accept(chat)
    pages = [chatter.connect(), chatter.connect()]  # two copies of the chat page
    ann_console = ann.connect()
    for page in pages:
        page.wait_for_text("chatting with Ann Agent")

    # an internal note while Ann is alone
    private(ann, chat, "SECRET-ALONE")

    # a named invitation rejected, a queue invitation accepted
    ben = people.agent(server, "ben", "Support desk")
    ben_console = ben.connect()
    invite(ann, chat, "Ben Agent")
    answer_offer(ben, chat, "reject")
    ann_console.wait_for_text("Ben Agent declined the invitation.")
    invite(ann, chat, "Anyone in Support")
    answer_offer(ben, chat, "accept")
    for page in pages:
        page.wait_for_text("Ben Agent joined the chat.")

    # private notes and private drafts in a conference
    private(ben, chat, "SECRET-BEN")
    type_privately(ann_console, ben_console, chat, "Ann Agent")
    type_privately(ben_console, ann_console, chat, "Ben Agent")

    # an options menu, answered on one copy: the question is rendered again on every copy
    response = ann.post(f"/chats/{chat}/options", {"question": "Pick a colour", "option": ["Red", "Blue"]})
    assert response.status_code == 200, response.text
    pages[0].wait_for_text("Pick a colour")
    seq = int(
        re.search(rf'id="m-{chat}-(\d+)" class="message from-agent kind-options', pages[0].text()).group(1)
    )
    assert chatter.post("/chat/support/answer", {"seq": seq, "choice": 1}).status_code == 204
    for page in pages:
        page.wait_for_text("Chose <strong>Blue</strong>")
    assert chatter.post("/chat/support/answer", {"seq": seq, "choice": 0}).status_code == 409
    private(ann, chat, "SECRET-AFTER-ANSWER")
    note_seq = seq + 2  # the private note just sent (after the answer): not a question to the chatter
    assert chatter.post("/chat/support/answer", {"seq": note_seq, "choice": 0}).status_code == 409

    # a hand-over to Cat, with a note for her: Ann leaves
    cat = people.agent(server, "cat", "Support desk")
    invite(ann, chat, "Cat Agent", stay=False, note="SECRET-NOTE order 1234")
    answer_offer(cat, chat, "accept")
    for page in pages:
        page.wait_for_text("Ann Agent left the chat.")
    private(cat, chat, "SECRET-CONFERENCE")

    # the page loaded afresh and a socket resyncing from nothing
    page_html = chatter.page().text
    resync = chatter.connect(seq=0)
    pages.append(resync)

    # a public line last: once it arrived, every earlier event had its turn on each socket
    cat_console = cat.connect()
    cat_console.ws.send(json.dumps({"typing": chat, "private": False}))
    assert cat.post(f"/chats/{chat}/messages", {"text": "PUBLIC-LAST"}).status_code == 204
    for page in pages:
        page.wait_for_text("PUBLIC-LAST")
        page.wait_for_text("Cat Agent is typing")
    assert chatter.end().status_code == 200
    for page in pages:
        page.wait_for_text("chat has ended")
    transcript = chatter.get("/chat/support/transcript").text
    response = chatter.post("/chat/support/transcript/email", {"email": "carl@example.com"})
    assert response.status_code == 200, response.text
    mailed = wait_for(lambda: list((server.folder / "outbox").glob("*.eml")), message="the transcript mail")
    mailed = mail_text(mailed[0])
    assert "PUBLIC-LAST" in mailed and "Blue" in mailed
    transcript += "\n" + mailed

    # the capture is real: the public side of every flow is in it
    received = "\n".join(page.text() for page in pages) + "\n".join(bodies)
    for public in (
        "Ann Agent joined the chat.",
        "Ben Agent joined the chat.",
        "Pick a colour",
        "PUBLIC-LAST",
    ):
        assert public in received
    assert "Cat Agent joined the chat." in page_html and "Blue" in transcript and "PUBLIC-LAST" in transcript

    for where, text in (
        ("a socket or a response", received),
        ("a transcript (download or mail)", transcript),
    ):
        for secret in (*SECRETS, "SECRET", *PRIVATE_LINES):
            assert secret not in text, f"{secret!r} reached the chatter in {where}"
    # typing reached the chatter from Cat's public draft, never from Ann's or Ben's private ones
    assert "Cat Agent is typing" in received
    assert "Ann Agent is typing" not in received and "Ben Agent is typing" not in received


def test_a_private_question_cannot_be_answered_or_seen(server, people):
    """Answers sent with guessed sequence numbers (private messages among them) reveal nothing."""
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    bodies = recording(chatter)
    chat = chatter.start(name="Dora")
    ann.accept(chat)
    page = chatter.connect()
    private(ann, chat, "SECRET-QUESTION-LIKE")
    assert ann.post(f"/chats/{chat}/messages", {"text": "PUBLIC"}).status_code == 204
    page.wait_for_text("PUBLIC")

    # guessing sequence numbers of private messages gives nothing away
    for seq in range(1, 6):
        response = chatter.post("/chat/support/answer", {"seq": seq, "choice": 0})
        assert response.status_code in (400, 409)
    assert "SECRET" not in page.text() + "\n".join(bodies) + chatter.page().text
