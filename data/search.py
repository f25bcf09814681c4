"""Full-text search of the messages, the same on both engines: what a person typed becomes a query of
the index (data/search_index.py: SQLite's FTS5, or PostgreSQL's own), and each chat found gets a
snippet with the matching words marked."""

import re

from peewee import SQL, Expression, fn

from data import search_index
from data.db import db, on_postgres, sql
from data.models import Message

WORD = re.compile(r"\w+\*?")
SNIPPET_WORDS = 12
# marks around each match in a snippet: control characters, which a stored message cannot hold
START, STOP = "\x02", "\x03"


def words(typed):
    """The words of what a person typed, each (word, is a prefix): `word*` matches a prefix.

    Only word characters are kept, so neither FTS5's syntax (AND, NEAR, quotes, columns) nor
    to_tsquery's (&, |, !, :) is ever parsed from user input and no search can fail on it.
    """
    found = ((w.rstrip("*"), w.endswith("*")) for w in WORD.findall(typed or ""))
    return [(word, prefix) for word, prefix in found if word]


def matching(typed):
    """A condition on Message: it holds every word of `typed` (the index caught up first)."""
    terms = words(typed)
    search_index.catch_up()
    if on_postgres():  # the index's own expression, with the configuration written out, or it is not used
        config = SQL(repr(search_index.CONFIG))
        return Expression(fn.to_tsvector(config, Message.text), "@@", fn.to_tsquery(config, _tsquery(terms)))
    return Message.id.in_(SQL("(SELECT rowid FROM message_fts WHERE message_fts MATCH ?)", [_fts5(terms)]))


def _fts5(terms):
    """FTS5's query: every word quoted (so nothing in it is syntax), * after a prefix."""
    return " ".join(f'"{word}"' + ("*" if prefix else "") for word, prefix in terms)


def _tsquery(terms):
    """to_tsquery's: the words joined by &, :* after a prefix (words hold no operator)."""
    return " & ".join(word + (":*" if prefix else "") for word, prefix in terms)


def snippets(chat_ids, typed):
    """The first matching message of each chat, as (before, match, after) pieces of plain text.

    The web layer escapes the pieces and wraps the matches in <mark>.
    """
    terms = words(typed)
    if not terms or not chat_ids:
        return {}
    search_index.catch_up()
    found = {}
    for chat_id, snippet in _snippets(chat_ids, terms):
        found.setdefault(chat_id, _split_marks(snippet))
    return found


def _snippets(chat_ids, terms):
    places = ",".join("?" * len(chat_ids))
    if not on_postgres():  # FTS5's snippet() cuts and marks on its own
        return db.execute_sql(
            f"SELECT m.chat_id, snippet(message_fts, 0, char(2), char(3), '…', {SNIPPET_WORDS}) "
            "FROM message_fts JOIN message AS m ON m.id = message_fts.rowid "
            f"WHERE message_fts MATCH ? AND m.chat_id IN ({places}) ORDER BY m.chat_id, m.seq",
            [_fts5(terms), *chat_ids],
        ).fetchall()
    # ts_headline marks words in the whole text (without HighlightAll it drops what looks like an
    # HTML tag, which in a chat is text); the cut around the first mark is made here
    query = _tsquery(terms)
    config = repr(search_index.CONFIG)
    rows = db.execute_sql(
        sql(
            f"SELECT chat_id, ts_headline({config}, text, to_tsquery({config}, ?), ?) FROM"
            f" (SELECT DISTINCT ON (chat_id) chat_id, text FROM message WHERE {search_index.TSVECTOR}"
            f" @@ to_tsquery({config}, ?) AND chat_id IN ({places}) ORDER BY chat_id, seq) AS first"
        ),
        [query, f"HighlightAll=true, StartSel={START}, StopSel={STOP}", query, *chat_ids],
    )
    return [(chat_id, _cut(text)) for chat_id, text in rows]


def _cut(marked, size=SNIPPET_WORDS):
    """About `size` words of a marked text from just before its first mark, … where it was cut."""
    pieces = re.split(r"(\s+)", marked)  # words at even places, the space between at odd ones
    first = next((i for i in range(0, len(pieces), 2) if START in pieces[i]), 0)
    start = max(0, first - 2 * (size // 4))
    end = min(len(pieces), start + 2 * size - 1)
    return ("…" if start else "") + "".join(pieces[start:end]) + ("…" if end < len(pieces) else "")


def _split_marks(snippet):
    """'a \\x02b\\x03 c' -> [("a ", False), ("b", True), (" c", False)]."""
    pieces = []
    for i, part in enumerate(re.split(f"[{START}{STOP}]", snippet)):
        if part:
            pieces.append((part, i % 2 == 1))
    return pieces
