"""The host sites allowed to show chat pages in a frame (the widget): set by supervisors on /admin,
added to those of PARLEY_FRAME_ORIGINS, and sent as the chat pages' CSP frame-ancestors."""

import re

from data.db import prepared, write
from data.models import Setting

KEY = "frame_origins"
ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$")
MAX_ORIGINS = 50


def parse(text):
    """Origins separated by spaces or lines; return (origins, None) or (None, what is wrong)."""
    origins = tuple(dict.fromkeys((text or "").split()))
    for origin in origins:
        if not ORIGIN.match(origin):
            return (
                None,
                f"{origin!r} is not an origin like https://shop.example (scheme and host, optional port, nothing after it).",
            )
    if len(origins) > MAX_ORIGINS:
        return None, f"At most {MAX_ORIGINS} sites."
    return origins, None


def stored():
    """The origins supervisors allowed (not those of PARLEY_FRAME_ORIGINS)."""
    row = _setting(KEY).first()
    return tuple(row.value.split()) if row else ()


@prepared  # read on every chat page: compiled once
def _setting(key):
    return Setting.select(Setting.value).where(Setting.key == key).limit(1)


def store(origins):
    """Replace the allowed origins; chat pages served from now on carry them."""
    with write():
        Setting.put(KEY, " ".join(origins))
