"""An agent as a signed-in user: what Flask-Login asks of one (without importing Flask), session ids
that a sign-out or a new password ends all at once, and the password's hash."""

import functools
import secrets

from werkzeug.security import check_password_hash, generate_password_hash


class SessionUser:
    """Mixed into a model with `enabled`, `password_hash` and `session_version` fields (Agent)."""

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self):
        return self.enabled

    def get_id(self):
        return f"{self.id}.{self.session_version}"

    @classmethod
    def for_session(cls, session_id):
        """The enabled agent whose session id (get_id) this is, or None once it was ended."""
        try:
            agent_id, version = cls.session_parts(session_id)
            agent = cls.get_by_id(agent_id)  # on every request: compiled once
        except (cls.DoesNotExist, ValueError):
            return None
        return agent if agent and agent.enabled and version == agent.session_version else None

    @staticmethod
    def session_parts(session_id):
        """The agent's id and the session's version in a session id (get_id); ValueError if not one."""
        agent_id, _, version = session_id.partition(".")
        return int(agent_id), int(version)

    def end_sessions(self):
        """Make every session cookie issued to this agent so far worthless."""
        model = type(self)
        model.update(session_version=model.session_version + 1).where(model.id == self.id).execute()

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)
        self.session_version = (self.session_version or 0) + 1

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @classmethod
    def authenticate(cls, username, password):
        """The enabled agent with this username and password, or None. An unknown username has a
        password checked all the same, so the time of the answer does not tell which usernames exist."""
        agent = cls.get_or_none(cls.username == username)
        if agent is None:
            check_password_hash(_stand_in_hash(), password)
            return None
        return agent if agent.check_password(password) and agent.enabled else None


@functools.cache
def _stand_in_hash():
    """A hash made as agents' passwords are (set_password), of a password nobody knows."""
    return generate_password_hash(secrets.token_hex(16))
