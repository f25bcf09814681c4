"""Parley's settings: the PARLEY_* environment variables, read and checked once at start-up."""

import math
import os
import secrets

from limits import parse_many as parse_rates

from data import bus_url, frame_origins, postgres
from data.mail import parse_smtp_url


class SettingError(ValueError):
    """A PARLEY_* setting that cannot be used; the text names it."""


def settings_from_env():
    """Read the PARLEY_* settings, with the defaults CONTRACT.md promises."""
    return {
        "DATA": os.path.abspath(os.environ.get("PARLEY_DATA", "./data")),
        # empty: the SQLite file in PARLEY_DATA; or postgresql://…
        "DATABASE_URL": url("PARLEY_DATABASE_URL", postgres.check_url),
        # empty: one process, whose events stay in it; or redis://…
        "BUS_URL": url("PARLEY_BUS_URL", bus_url.check_url),
        "OFFER_TIMEOUT": seconds("PARLEY_OFFER_TIMEOUT", "30"),
        "LEAVE_GRACE": seconds("PARLEY_LEAVE_GRACE", "10"),
        # idle chats (data/idle.py): the warning's lead, and how long a chat whose chatter left stays open
        "IDLE_WARNING": seconds("PARLEY_IDLE_WARNING", "120"),
        "LEFT_CHAT_END": seconds("PARLEY_LEFT_CHAT_END", "300"),
        # away agents (data/presence.py): no console open this long, then their chats this much longer
        "AWAY_GRACE": seconds("PARLEY_AWAY_GRACE", "60"),
        "UNATTENDED_GRACE": seconds("PARLEY_UNATTENDED_GRACE", "300"),
        "IDENTITY_SECRET": os.environ.get("PARLEY_IDENTITY_SECRET", ""),
        "FRAME_ORIGINS": env_frame_origins(os.environ.get("PARLEY_FRAME_ORIGINS", "")),
        "SMTP_URL": smtp_url(os.environ.get("PARLEY_SMTP_URL", "").strip()),
        "MAIL_FROM": os.environ.get("PARLEY_MAIL_FROM", "").strip() or "parley@localhost",
        "MAIL_RETRY_DELAYS": retry_delays(os.environ.get("PARLEY_MAIL_RETRY_DELAYS", "30 120 600 1800")),
        "PING_INTERVAL": seconds("PARLEY_PING_INTERVAL", "25"),
        "DEMO": os.environ.get("PARLEY_DEMO") == "1",
        # what a trusted proxy says of the client (its address, HTTPS) is believed; none by default
        "TRUSTED_PROXIES": count("PARLEY_TRUSTED_PROXIES", "0"),
        # limits on the doors (views/limits.py, docs/SECURITY.md)
        "LIMIT_SIGNIN_USER": rates("PARLEY_LIMIT_SIGNIN_USER", "5 per minute; 20 per hour"),
        "LIMIT_SIGNIN_ADDRESS": rates("PARLEY_LIMIT_SIGNIN_ADDRESS", "20 per minute; 100 per hour"),
        "LIMIT_CHAT_STARTS": rates("PARLEY_LIMIT_CHAT_STARTS", "10 per minute"),
        "LIMIT_TRANSCRIPT_MAILS": rates("PARLEY_LIMIT_TRANSCRIPT_MAILS", "10 per hour"),
        "FILES_PER_CHAT_MB": count("PARLEY_FILES_PER_CHAT_MB", "100"),
        # agents' sessions end after this long without a request, and this long after signing in
        "SESSION_IDLE": seconds("PARLEY_SESSION_IDLE", str(12 * 3600)),
        "SESSION_MAX": seconds("PARLEY_SESSION_MAX", str(7 * 24 * 3600)),
        # what one page may send over its socket (views/socket_limits.py), and how many it may open
        "LIMIT_SOCKET_MESSAGES": rates("PARLEY_LIMIT_SOCKET_MESSAGES", "5 per second; 60 per minute"),
        "LIMIT_SOCKET_TYPING": rates("PARLEY_LIMIT_SOCKET_TYPING", "2 per second"),
        "SOCKETS_PER_PAGE": count("PARLEY_SOCKETS_PER_PAGE", "5"),
        "MIN_FREE_DISK_MB": count("PARLEY_MIN_FREE_DISK_MB", "500"),
    }


def url(name, check):
    """The setting `name`: empty, or a URL that `check` accepts (it raises ValueError saying why)."""
    text = os.environ.get(name, "").strip()
    if text:
        try:
            check(text)
        except ValueError as e:
            raise SettingError(f"{name}: {e}") from None
    return text


def env_frame_origins(text):
    """PARLEY_FRAME_ORIGINS: space-separated origins (https://shop.example, https://*.shop.example)."""
    origins, error = frame_origins.parse(text)
    if error:
        raise SettingError(f"PARLEY_FRAME_ORIGINS: {error}")
    return origins


def smtp_url(text):
    """PARLEY_SMTP_URL, checked at start-up rather than at the first transcript mailed."""
    if text:
        try:
            parse_smtp_url(text)
        except ValueError as e:
            raise SettingError(f"PARLEY_SMTP_URL: {e}") from None
    return text


def retry_delays(text):
    """PARLEY_MAIL_RETRY_DELAYS: seconds before each retry of a failed transcript mail."""
    try:
        delays = tuple(float(d) for d in text.replace(",", " ").split())
    except ValueError:
        delays = (-1,)
    if any(d < 0 for d in delays):
        raise SettingError(f"PARLEY_MAIL_RETRY_DELAYS: {text!r} is not a list of seconds like '30 120 600'")
    return delays


def seconds(name, default):
    """The setting `name`, a number of seconds above zero."""
    text = os.environ.get(name, default)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise SettingError(f"{name}: {text!r} is not a number of seconds above 0, like 25")
    return value


def count(name, default):
    """The setting `name`, a whole number from 0 up."""
    text = os.environ.get(name, default).strip()
    if not (text.isascii() and text.isdigit()):
        raise SettingError(f"{name}: {text!r} is not a whole number, like {default}")
    return int(text)


def rates(name, default):
    """The setting `name`: rates such as "5 per minute; 20 per hour" (Flask-Limiter's notation)."""
    text = os.environ.get(name, default).strip()
    try:
        parse_rates(text)
    except ValueError:
        raise SettingError(f"{name}: {text!r} is not a rate like '5 per minute; 20 per hour'") from None
    return text


def secret_key(folder):
    """PARLEY_SECRET_KEY, or one generated once and kept in the data folder."""
    key = os.environ.get("PARLEY_SECRET_KEY")
    if key:
        return key
    path = os.path.join(folder, "secret_key")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        # written whole under another name, then linked: processes starting at once on one shared
        # folder all read the one key that was linked first
        made = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(made, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(made, path)
        except FileExistsError:
            pass
        finally:
            os.remove(made)
    with open(path) as f:
        return f.read().strip()
