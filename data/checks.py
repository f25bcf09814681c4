"""Checks of text people give Parley, shared by the pre-chat form, signed identities and mail."""

import re

# one address and nothing around it: no spaces, quotes, brackets, separators or a second @
_EMAIL = re.compile(r"[^@\s<>\"',;()\[\]\\]+@[^@\s<>\"',;()\[\]\\]+\.[^@\s<>\"',;()\[\]\\]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_email(text):
    """One plain e-mail address, at most 254 characters long (as mail servers take them)."""
    return len(text) <= 254 and _EMAIL.fullmatch(text) is not None


def has_control(text):
    """The text holds a control character: a line break, a tab, a NUL ..."""
    return _CONTROL.search(text) is not None
