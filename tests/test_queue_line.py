"""The chatter's place in line over a real server: it moves when a chat ahead is served, and a chat
joining behind pushes nothing to those already waiting (so starting chats costs one push, not one
per waiting chatter)."""


def statuses(socket):
    return socket.text().count('id="chat-status"')


def test_place_in_line_moves_when_the_chat_ahead_is_served(server, people):
    first = people.chatter(server)
    first_chat = first.start(name="First")
    second = people.chatter(server)
    second.start(name="Second")
    line = second.connect()
    line.wait_for_text("number <strong>2</strong>")

    pushed = statuses(line)
    third = people.chatter(server)
    third.start(name="Third")
    # the start's pushes were queued before its response; a message queued after them is the barrier
    second.say("barrier")
    line.wait_for_text("barrier")
    assert statuses(line) == pushed, "a chat joining behind moved nobody"

    ann = people.agent(server, "ann", "Support desk")
    ann.accept(first_chat)
    line.wait_for_text("number <strong>1</strong>")
