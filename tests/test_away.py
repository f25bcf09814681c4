"""Away agents over a real server and real sockets (short graces): the console's socket keeps its
agent there across processes' memory (a timestamp in the database); once it is gone past the grace,
the agent's offer moves on and supervisors see "away"; reconnecting brings the agent back."""

import pytest
from conftest import wait_for

pytestmark = pytest.mark.both_engines

SHORT = {"PARLEY_AWAY_GRACE": "1", "PARLEY_UNATTENDED_GRACE": "2"}


def test_an_agent_whose_console_closed_loses_its_offer_and_its_chat_then_returns(start_server, people):
    server = start_server(env=SHORT)
    ann = people.agent(server, "ann", "Support desk")
    ann_console = ann.connect()
    held = people.chatter(server).start(name="Held Chat")
    ann.accept(held)
    ben = people.agent(server, "ben", "Support desk")  # logged on later: ann is the longest idle
    ben_console = ben.connect()
    offered = people.chatter(server).start(name="Moving Offer")
    wait_for(lambda: ann.offer_id(offered), message="the second chat offered to ann")

    ann_console.close()
    wait_for(lambda: ben.offer_id(offered), timeout=15, message="ann's offer moved on to ben")
    sue = people.agent(server, "sue")
    wait_for(lambda: "away</span>" in sue.get("/admin").text, message="ann shown as away")
    # her chat goes back to the queue after the further grace, and ben (with room) is offered it
    wait_for(lambda: ben.offer_id(held), timeout=15, message="ann's unattended chat back in the queue")
    assert ann.status() == "off"
    assert ben_console.closed.is_set() is False  # ben's open console kept him there all along

    ann.log_on()
    ann.connect()
    assert ann.status() == "available"
