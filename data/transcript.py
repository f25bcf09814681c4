"""The chatter's transcript of a chat, as plain text: what they saw, and never anything private.

The download and the e-mail both come from `text`, which reads messages only through
Message.for_chatter, and files only through `public_files`.
"""

from data.models import Message


def text(chat):
    """The whole chat as the chatter saw it: names, times (UTC), options and answers, file names."""
    lines = [f"Chat in {chat.queue.name}, started {chat.created_at:%Y-%m-%d %H:%M} UTC"]
    if chat.ended_at:
        lines.append(f"Ended {chat.ended_at:%Y-%m-%d %H:%M} UTC")
    lines.append("")
    for m in Message.for_chatter(chat):
        lines.extend(_lines(m, chat))
    return "\n".join(lines) + "\n"


def filename(chat):
    return f"chat-{chat.created_at:%Y%m%d-%H%M}.txt"


def public_files(message):
    """The files of a message the chatter may see (a private message's files never get here)."""
    return [f for f in message.files if not f.private and not message.private]


def _lines(m, chat):
    stamp = f"[{m.created_at:%H:%M}]"
    who = _speaker(m, chat)
    if m.kind == "options":
        yield f"{stamp} {who} asked: {m.text}"
        for i, option in enumerate(m.option_list, 1):
            chosen = "  (chosen)" if m.choice == i - 1 else ""
            yield f"        {i}. {option}{chosen}"
    elif m.kind == "answer":
        yield f"{stamp} {who} chose “{m.text}” (option {m.choice + 1}) in reply to “{m.question_text()}”"
    elif m.text:
        prefix = f"{stamp} {who}: " if who else f"{stamp} "
        body = m.text.replace("\n", "\n" + " " * len(prefix))
        yield prefix + body
    elif who:
        yield f"{stamp} {who}:"
    for f in public_files(m):
        yield f"        Attached: {f.name} ({f.kind}, {_size(f.size)})"


def _speaker(m, chat):
    if m.sender == "chatter":
        return chat.display_name
    if m.sender == "agent":
        return m.agent.name
    return ""


def _size(size):
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
