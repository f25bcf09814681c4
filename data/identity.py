"""Chatter identities that host sites sign (authenticated variables): verify, or verify nothing.

A host site that knows its visitor signs {"name", "email", "exp"} as a JWT with HS256 and the secret
it shares with Parley (PARLEY_IDENTITY_SECRET), with any other claim it knows ("customer_number",
"plan", …). A token that fails any check verifies nothing: its claims are ignored entirely, the
reason is logged, and the chatter can still chat. One other claim that cannot be shown as a short
line of text is left out (and logged); the rest of the token still counts.
"""

import functools
import logging
import math
import re
import time
import warnings
from dataclasses import dataclass

from data.checks import has_control, is_email

log = logging.getLogger("parley.identity")

MAX_TOKEN = 4096  # characters: a name, an address and a signature fit many times over
MAX_AHEAD = 24 * 3600  # seconds `exp` may lie in the future
LEEWAY = 30  # seconds of clock difference forgiven between the host site and Parley
MAX_NAME = 80
MIN_SECRET = 32  # bytes, what RFC 7518 asks of an HS256 key
# registered JWT claims (RFC 7519) say how to read the token, not who the chatter is
RESERVED = {"exp", "iat", "nbf", "aud", "iss", "sub", "jti"}
MAX_CLAIMS = 20  # other claims shown; a few lines of Chat details, not a database
MAX_CLAIM_NAME = 40
MAX_CLAIM_VALUE = 200  # characters: a value cut short would carry the lock for what was not signed


@functools.cache
def _jwt():
    """PyJWT, once first needed: `parley serve` imports this module before gevent patches its worker,
    and PyJWT takes names from ssl as it loads, which gevent warns about when it patches."""
    import jwt

    # PyJWT warns about a short secret on every decode; Parley says so once when it starts (short_secret)
    warnings.filterwarnings("ignore", category=jwt.InsecureKeyLengthWarning)
    return jwt


@dataclass(frozen=True)
class Identity:
    """What a valid token vouches for; an empty value is one the host site did not know."""

    name: str
    email: str
    claims: tuple = ()  # the other claims, ((claim, value as text), …) in the token's order


def verify(token, secret, now=None):
    """The identity a token signed with `secret` vouches for, or None (the reason is logged)."""
    if not token:
        return None
    if not secret:
        log.warning("identity token ignored: PARLEY_IDENTITY_SECRET is not set")
        return None
    if len(token) > MAX_TOKEN:
        log.warning("identity token refused: %d characters, more than %d", len(token), MAX_TOKEN)
        return None
    now = time.time() if now is None else now
    jwt = _jwt()
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],  # pinned: "none", RS256 with the secret as a "public key", … all fail
            options={"require": ["exp", "name", "email"], "verify_exp": False},
        )
    except jwt.PyJWTError as e:
        log.warning("identity token refused: %s", _reason(e))
        return None
    why = _problem(claims, now)
    if why:
        log.warning("identity token refused: %s", why)
        return None
    name, email, others = claims["name"].strip(), claims["email"].strip(), _others(claims)
    if not (name or email or others):
        log.warning("identity token refused: it vouches for nothing (name, email and the rest are empty)")
        return None
    return Identity(name=name, email=email, claims=others)


def label(claim):
    """A claim's name as a person reads it: customer_number, customerNumber -> "Customer number"."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", claim)
    words = " ".join(re.split(r"[\s_.-]+", words)).strip().lower()
    return words[:1].upper() + words[1:]


def _others(claims):
    """The claims besides name, email and the reserved ones, as ((claim, text), …) in their order."""
    shown = []
    for claim, value in claims.items():
        if claim.lower() in RESERVED | {"name", "email"}:
            continue
        if len(shown) == MAX_CLAIMS:
            log.warning("identity claims after the first %d others left out", MAX_CLAIMS)
            break
        text = _as_text(value)
        if text is None or len(claim) > MAX_CLAIM_NAME or has_control(claim) or not label(claim):
            log.warning("identity claim %r left out: not a short line of text under a short name", claim[:50])
        elif text:
            shown.append((claim, text))
    return tuple(shown)


def _as_text(value):
    """A claim's value as one line of text; None if it cannot be one."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    if isinstance(value, str) and len(value.strip()) <= MAX_CLAIM_VALUE and not has_control(value):
        return value.strip()
    return None  # a list, an object, null, or too long to carry the lock for all of it


def _reason(error):
    jwt = _jwt()
    if isinstance(error, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "algorithm other than HS256"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"missing claim {error.claim!r}"
    return f"malformed ({type(error).__name__})"


def _problem(claims, now):
    """Why these decoded claims vouch for nothing, or "" when they are good."""
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return "exp is not a number"
    if exp < now - LEEWAY:
        return "expired"
    if exp > now + MAX_AHEAD + LEEWAY:
        return "exp more than 24 hours ahead"
    name, email = claims["name"], claims["email"]
    if not isinstance(name, str) or not isinstance(email, str):
        return "name and email must be strings"
    name, email = name.strip(), email.strip()
    if len(name) > MAX_NAME or has_control(name):
        return "name too long or with control characters"
    if email and (not is_email(email) or has_control(email)):
        return "email is not an e-mail address"
    return ""


def short_secret(secret):
    """True when a secret is set but shorter than HS256 wants (it still works; Parley warns)."""
    return bool(secret) and len(secret.encode()) < MIN_SECRET
