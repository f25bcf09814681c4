"""The contract between a page's socket (live/sockets.py) and its view (views/): what a view implements.

live/ calls a view and never imports one; views/ implements one per kind of page (the console's
ConsoleView, the chat page's ChatView, the supervisors' SupervisorView).
"""

from collections.abc import Callable, Iterable
from typing import Protocol

from live.events import Event

# follow(channel, heard): start (True) or stop (False) hearing a channel
Follow = Callable[[str, bool], None]


class View(Protocol):
    """What one page's socket sends its browser, rendered from the database as events come.

    The socket calls one method at a time, from one greenlet at a time, with a database connection
    at hand and the context of the request that opened it (url_for works).
    """

    def channels(self) -> Iterable[str]:
        """The channels the page hears as long as it is open, e.g. ["agent:3"]."""

    def listen(self, follow: Follow) -> None:
        """Called once, before sync, with the socket's `follow`. A view whose channels change as it
        goes (a console hears "shown:12" while it shows chat 12) calls it before it reads anything
        of what the channel is about, so nothing told meanwhile is missed; others ignore it."""

    def sync(self, seqs: dict[int, int], modes: dict[int, str]) -> str | None:
        """What the page lacks, given the last message it holds of each chat and the controls it
        shows (the page's hello after every connect)."""

    def render(self, event: Event) -> str | None:
        """What the page shows of `event` (HTML of out-of-band swaps); nothing if it shows none."""
