"""How long an offer waits and a disconnected chatter still counts as there: one place for both.

create_app replaces `settings` with the command line's or environment's values; read it as
`timing.settings` at the moment of use, so that replacement is seen.
"""

from dataclasses import dataclass


@dataclass
class Settings:
    offer_timeout: float = 30.0  # seconds an offer waits for Accept or Reject
    leave_grace: float = 10.0  # seconds a chatter may be disconnected before counting as gone


settings = Settings()
