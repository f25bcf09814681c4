"""The agent's session a socket lives by, and the events that end it.

A sign-out, a new password or a disabled account ends sessions, a demotion ends supervisor pages:
each is published as an event on the agent's "session:<id>" channel (through the bus, so every
process hears it). Every console and supervisor socket listens there, closes the moment it hears
its session ended, and checks its deadline before it writes anything: from memory, no database
query per frame. A socket checks the database once, when it starts listening, for what ended before,
and every process looks again every few seconds (`check_open_sessions`) for what ended with no event:
an organisation file applied by `parley load`, another process.
"""

import time
from dataclasses import dataclass

from data.db import connection
from data.models import Agent
from live.bus import hub
from live.events import Rights, SessionsEnded

SIGNED_OUT = 4001  # the session ended: the page goes to the sign-in page
NOT_SUPERVISOR = 4003  # the agent is no supervisor now: the supervisor page goes to the console
# the page has been idle by what this socket knows: it reconnects at once, and the reconnection's
# request (its cookie says when the session was last used) either opens a socket or gets SIGNED_OUT
CHECK_AGAIN = 1012


@dataclass(frozen=True, slots=True)
class Session:
    """The session a socket was opened with: whose and which version (Agent.get_id), when it ends
    for good and when for want of use (time.time()), and whether the page is for supervisors."""

    agent_id: int
    version: int
    ends: float
    idle_from: float
    supervisor: bool = False

    @property
    def channel(self):
        return f"session:{self.agent_id}"

    def ended_by(self, event):
        """The close code if `event` ends this session (or its supervisor page), else None."""
        match event:
            case SessionsEnded(_, version) if version > self.version:
                return SIGNED_OUT
            case Rights(_, False) if self.supervisor:
                return NOT_SUPERVISOR
        return None

    def expired(self):
        """The close code once the session's time is up, else None."""
        now = time.time()
        if now >= self.ends:
            return SIGNED_OUT
        return CHECK_AGAIN if now >= self.idle_from else None

    def confirm(self):
        """The close code if the session ended before the socket listened for it (once, at connect)."""
        with connection():
            agent = Agent.for_session(f"{self.agent_id}.{self.version}")
        if agent is None:
            return SIGNED_OUT
        if self.supervisor and not agent.supervisor:
            return NOT_SUPERVISOR
        return self.expired()


def end_sessions(agent_id, version):
    """Close the sockets of every session of the agent before `version` (once the database says so)."""
    hub.publish(f"session:{agent_id}", SessionsEnded(agent_id, version))


def rights_changed(agent_id, supervisor):
    """The agent is a supervisor now, or no longer (their supervisor pages close)."""
    hub.publish(f"session:{agent_id}", Rights(agent_id, supervisor))


def check_open_sessions():
    """Close this process's sockets whose session ended with no event told (one query for them all)."""
    agents = [int(channel[8:]) for channel in hub.channels() if channel.startswith("session:")]
    if not agents:
        return
    with connection():
        rows = list(
            Agent.select(Agent.id, Agent.session_version, Agent.enabled, Agent.supervisor)
            .where(Agent.id.in_(agents))
            .tuples()
        )
    for agent_id, version, enabled, supervisor in rows:
        # a disabled account's sessions end, whatever their version
        hub.deliver(f"session:{agent_id}", SessionsEnded(agent_id, version if enabled else version + 1))
        if not supervisor:
            hub.deliver(f"session:{agent_id}", Rights(agent_id, False))
