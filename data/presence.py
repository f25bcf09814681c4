"""Away agents: an agent logged on whose console has been gone (no console socket open in any process)
for `timing.settings.away_grace` seconds is away: offered nothing, its pending offers moved on at
once, its chats shown to supervisors as unattended; `unattended_grace` seconds later it is logged
off and its chats go back to the queue, unless a console of it opens again first.

"Gone" is decided from the database, not a process's memory: every process's open consoles refresh
`Agent.console_seen_at` together every few seconds (`seen`), one UPDATE for all of them, and the
ticker (`tick`) acts by conditional updates, so of several processes exactly one acts.
"""

from datetime import timedelta

from data import routing, timing
from data.changes import Changes
from data.db import write
from data.dispatch import dispatch
from data.models import Agent, now


def seen(agent_ids, at=None):
    """These agents have a console open now; an agent who was away is back and may be offered chats."""
    changes = Changes()
    if not agent_ids:
        return changes
    at = at or now()
    Agent.update(console_seen_at=at).where(Agent.id.in_(list(agent_ids))).execute()
    back = Agent.away_since.is_null(False) & Agent.id.in_(list(agent_ids))
    if Agent.select(Agent.id).where(back).exists():
        with write():
            for (agent_id,) in Agent.select(Agent.id).where(back).tuples():
                if Agent.update(away_since=None).where((Agent.id == agent_id) & back).execute():
                    changes.agents.add(agent_id)
            dispatch(changes, at)
    return changes


def tick(at=None):
    """Mark agents away whose console is gone past the grace, and log off those away past the second."""
    at = at or now()
    changes = Changes()
    gone = (
        (Agent.status != "off")
        & Agent.away_since.is_null()
        & (Agent.console_seen_at < at - timedelta(seconds=timing.settings.away_grace))
    )
    for agent in Agent.select().where(gone):
        with write():
            if Agent.update(away_since=at).where((Agent.id == agent.id) & gone).execute():
                changes.agents.add(agent.id)
                routing.withdraw_offers_of(agent.id, at, changes)
                dispatch(changes, at)
    unattended = (Agent.status != "off") & (
        Agent.away_since <= at - timedelta(seconds=timing.settings.unattended_grace)
    )
    for agent in Agent.select().where(unattended):
        # the conditional update decides which ticker hands the chats back; sign_out does the rest
        if Agent.update(status="off").where((Agent.id == agent.id) & unattended).execute():
            changes.merge(routing.sign_out(agent))
    return changes
