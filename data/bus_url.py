"""PARLEY_BUS_URL, when it names a Redis: its check, how it may be printed, and its client.

Nothing here imports Flask or live/: `parley serve` checks the bus before it starts serving.
"""

from urllib.parse import urlsplit

from data.postgres import shown

SCHEMES = ("redis", "rediss")


class Unreachable(Exception):
    """The bus cannot be reached; the text names it (without its password) and what to check."""


def check_url(text):
    """ValueError, saying why, unless `text` is a redis://[user:password@]host[:port][/db] URL."""
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError(
            f"{shown(text)!r} is not a redis://[:password@]host:port/db URL (unset, Parley runs as one"
            " process and its events stay in it)"
        )
    try:
        parts.port  # noqa: B018 - reading it checks it
        database(text)
    except ValueError:
        raise ValueError(f"{shown(text)!r} has a bad port or database number") from None


def database(url):
    """The database number the URL names (0 when none): installations sharing a Redis keep apart by it."""
    path = urlsplit(url).path.strip("/")
    return int(path) if path else 0


def client(url):
    """A redis-py client that gives up at the first failure (the caller decides when to try again)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=5, socket_keepalive=True
    )


def reach(url):
    """Ask the bus once, or raise Unreachable saying what to check."""
    import redis

    try:
        with client(url) as bus:
            bus.ping()
    except redis.RedisError as e:
        said = str(e).rstrip(".")
        raise Unreachable(
            f"cannot reach the bus at {shown(url)}: {said}. Check that Redis is running there, that the"
            " host, port and password are right, and that it accepts connections from this machine (its"
            " bind and protected-mode settings)."
        ) from None
