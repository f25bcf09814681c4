"""What a run records: send and arrival times of every message and offer, and errors."""

import time
from collections import Counter, defaultdict


def percentiles(values):
    """p50/p95/p99/max in milliseconds of `values` (seconds); None for an empty list."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "n": 0}
    ordered = sorted(values)

    def at(q):
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1] * 1000, 2),
        "n": len(ordered),
    }


class Recorder:
    """Messages by unique id: when each was sent and every time it arrived on the other side."""

    def __init__(self):
        self.sent = {}  # uid -> (direction, monotonic send time)
        self.arrived = defaultdict(list)  # uid -> arrival times on the other side
        self.unexpected = Counter()  # arrivals of ids that were never sent (or not yet acknowledged)
        self.offer_started = {}  # chat key -> monotonic time the chatter asked to start
        self.offered = {}  # chat key -> first time its offer showed on an agent's socket
        self.errors = Counter()
        self.error_samples = []
        self._next = 0

    def new_id(self, direction):
        self._next += 1
        return f"{direction}{self._next:07d}"

    def sending(self, uid):
        self.sent[uid] = (uid[0], time.monotonic())

    def unsent(self, uid):
        """The send failed: it is an error, not a lost message."""
        self.sent.pop(uid, None)

    def arrive(self, uid, at):
        self.arrived[uid].append(at)

    def error(self, kind, detail=""):
        self.errors[kind] += 1
        if len(self.error_samples) < 20:
            self.error_samples.append(f"{kind}: {detail}"[:300])

    def pending(self):
        return sum(1 for uid in self.sent if uid not in self.arrived)

    def summary(self):
        latency = {"c": [], "a": []}
        lost = duplicates = 0
        for uid, (direction, t0) in self.sent.items():
            times = self.arrived.get(uid)
            if not times:
                lost += 1
                continue
            duplicates += len(times) - 1
            latency[direction].append(times[0] - t0)
        stray = sum(n for uid, n in ((u, len(t)) for u, t in self.arrived.items()) if uid not in self.sent)
        offers = [self.offered[k] - t0 for k, t0 in self.offer_started.items() if k in self.offered]
        return {
            "messages": len(self.sent),
            "lost": lost,
            "duplicates": duplicates,
            "stray": stray,
            "delivery_ms": {
                "all": percentiles(latency["c"] + latency["a"]),
                "chatter_to_agent": percentiles(latency["c"]),
                "agent_to_chatter": percentiles(latency["a"]),
            },
            "offer_ms": percentiles(offers),
            "offers_missing": sum(1 for k in self.offer_started if k not in self.offered),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "error_samples": self.error_samples,
        }
