"""Checks of text people give Parley, shared by every form, signed identities, the organisation file
and mail: e-mail addresses, text that must stay on one line, and whole numbers.

A name, title or address with a line break in it would start a forged line in a transcript or a
mail; a number past what the database holds fails the query that uses it.
"""

import re
import unicodedata

# one address and nothing around it: no spaces, quotes, brackets, separators or a second @
_EMAIL = re.compile(r"[^@\s<>\"',;()\[\]\\]+@[^@\s<>\"',;()\[\]\\]+\.[^@\s<>\"',;()\[\]\\]+")
_CONTROL = ("Cc", "Zl", "Zp")  # control characters (CR, LF, NUL, ESC, DEL…) and Unicode's line breaks
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: int() also reads "²" and "٣", which no form sends
MAX_INTEGER = (
    2**31 - 1
)  # the largest id or count both engines hold (PostgreSQL's integer; SQLite's is 2**63 - 1)


def is_email(text):
    """One plain e-mail address, at most 254 characters long (as mail servers take them)."""
    return len(text) <= 254 and _EMAIL.fullmatch(text) is not None


def has_control(text):
    """The text holds a control character: a line break (Unicode's too), a tab, a NUL ..."""
    return any(unicodedata.category(ch) in _CONTROL for ch in text)


def single_line(text):
    """`text` on one line: line breaks and other runs of white space become one space, and other
    control characters go. For what people type; what a file or a token says is refused instead."""
    kept = "".join(ch for ch in str(text or "") if ch.isspace() or unicodedata.category(ch) not in _CONTROL)
    return " ".join(kept.split())


def whole_number(text):
    """`text` as a whole number from 0 to MAX_INTEGER, or None when it is anything else."""
    text = str(text if text is not None else "").strip()
    if not _DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if number <= MAX_INTEGER else None
