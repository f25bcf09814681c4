"""What people type, made safe to store: text that must stay on one line, and whole numbers.

A name, title or address with a line break in it would start a forged line in a transcript or a
mail; a number past what SQLite holds (2**63 - 1) fails the query that uses it.
"""

import re
import unicodedata

MAX_INTEGER = 2**63 - 1  # SQLite's largest integer
DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: int() also reads "²" and "٣", which no form sends


CONTROL = ("Cc", "Zl", "Zp")  # control characters (CR, LF, NUL, ESC, DEL…) and Unicode's line breaks


def single_line(text):
    """`text` on one line: line breaks and other runs of white space become one space, and other
    control characters go."""
    kept = "".join(ch for ch in str(text or "") if ch.isspace() or unicodedata.category(ch) not in CONTROL)
    return " ".join(kept.split())


def breaks_line(text):
    """Whether `text` holds a line break or another control character: where one is refused."""
    return any(unicodedata.category(ch) in CONTROL for ch in text)


def whole_number(text):
    """`text` as a whole number from 0 to MAX_INTEGER, or None when it is anything else."""
    text = str(text if text is not None else "").strip()
    if not DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if number <= MAX_INTEGER else None
