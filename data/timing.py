"""How long an offer waits, a disconnected chatter still counts as there, and an idle or left chat
stays open: one place for all.

create_app replaces `settings` with the command line's or environment's values; read it as
`timing.settings` at the moment of use, so that replacement is seen.
"""

from dataclasses import dataclass


@dataclass
class Settings:
    offer_timeout: float = 30.0  # seconds an offer waits for Accept or Reject
    leave_grace: float = 10.0  # seconds a chatter may be disconnected before counting as gone
    idle_warning: float = 120.0  # seconds between an idle chat's warning and its end
    left_chat_end: float = 300.0  # seconds an answered chat stays open after its chatter left
    away_grace: float = 60.0  # seconds without an open console before an agent counts as away
    unattended_grace: float = 300.0  # seconds an away agent's chats wait before going back to the queue


settings = Settings()


def span(seconds):
    """A duration as people say it: "2 minutes", "1 minute", "30 seconds"."""
    seconds = round(seconds)
    count, unit = (seconds // 60, "minute") if seconds >= 60 and seconds % 60 == 0 else (seconds, "second")
    return f"{count} {unit}{'' if count == 1 else 's'}"
