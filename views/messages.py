"""A chat message as HTML, the same on the pages and over the sockets.

It is the fragment rendered most: every message, once for each side, the moment it is sent. Its
frame and plain text are therefore written here rather than in a Jinja partial, which cost the
server ~0.1 ms a render (a fifth of all its work per message at 1,000 chats, see docs/PERFORMANCE.md);
what only some messages carry (an options menu, an answer, files) comes from
partials/message_extras.html. Every value from a person goes through escape().
"""

import functools

from flask import current_app, render_template
from markupsafe import Markup, escape

RICH = ("options", "answer")  # kinds whose body partials/message_extras.html renders


def message_html(m, viewer, chat_base="", number=None):
    """Message `m` as "chatter", "agent" or "log" (a supervisor) sees it; `chat_base`, the chat
    page's URL, is where a chatter's answers and files go. `number`: the chatter's own number of
    the message (views.chat_view.ChatView), in place of its seq, which counts private messages too."""
    seq = m.seq if number is None else number
    mine = viewer in ("chatter", "agent") and m.sender == viewer
    key = f' data-key="{escape(m.client_key)}"' if mine and m.client_key else ""
    classes = (
        f"message from-{m.sender} kind-{m.kind}{' mine' if mine else ''}{' private' if m.private else ''}"
    )
    html = [f'<article id="m-{m.chat_id}-{seq}" class="{escape(classes)}" data-seq="{seq}"{key}>']
    tag = f'<span class="private-tag">{_eye()} Private</span>' if m.private else ""
    if m.sender != "system":
        who = m.chat.display_name if m.sender == "chatter" else m.agent.name
        at = m.created_at
        html.append(
            f'\n  <header>\n    <span class="who">{escape(who)}</span>'
            # hour and minute by hand: strftime costs three times as much
            f'\n    <time datetime="{at.isoformat()}Z">{at.hour:02}:{at.minute:02}</time>{" " if tag else ""}{tag}'
            "\n  </header>"
        )
    elif tag:
        html.append(f"\n  {tag}")
    if m.kind not in RICH and m.text:
        html.append(f'\n  <p class="text">{escape(m.text)}</p>')
    if m.kind in RICH or m.file_count:
        extras = render_template(
            "partials/message_extras.html", m=m, seq=seq, viewer=viewer, chat_base=chat_base
        )
        html.append(extras)
    html.append("\n</article>")
    return Markup("".join(html))


@functools.cache
def _eye():
    return Markup(current_app.jinja_env.get_template("partials/eye.html").render())
