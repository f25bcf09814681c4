"""How many sockets one page may hold open in this process: a chat (its cookie) or an agent's
session. Past the cap the oldest closes with TOO_MANY, which its page shows instead of reconnecting."""

import threading
from collections import defaultdict

TOO_MANY = 4008


class Tabs:
    """The sockets open per page, oldest first."""

    def __init__(self):
        self._lock = threading.Lock()
        self._open = defaultdict(list)

    def opened(self, page, socket, cap):
        """Count `socket` as one of `page`'s; close the oldest beyond `cap` (at least one stays)."""
        with self._lock:
            sockets = self._open[page]
            sockets.append(socket)
            over = max(0, len(sockets) - max(cap, 1))
            oldest, sockets[:over] = sockets[:over], []
        for old in oldest:
            old.close(TOO_MANY)

    def gone(self, page, socket):
        with self._lock:
            sockets = self._open.get(page, [])
            if socket in sockets:
                sockets.remove(socket)
            if not sockets:
                self._open.pop(page, None)


tabs = Tabs()
