"""Checking an agent's credentials in the same time whether or not the username exists."""

import functools
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from data.models import Agent


def authenticate(username, password):
    """The enabled agent with this username and password, or None. An unknown username has a
    password checked all the same, so the time of the answer does not tell which usernames exist."""
    agent = Agent.get_or_none(Agent.username == username)
    if agent is None:
        check_password_hash(_stand_in_hash(), password)
        return None
    return agent if agent.check_password(password) and agent.enabled else None


@functools.cache
def _stand_in_hash():
    """A hash made as agents' passwords are (Agent.set_password), of a password nobody knows."""
    return generate_password_hash(secrets.token_hex(16))
