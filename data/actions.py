"""What an agent can do in a chat beyond typing: predefined messages and option menus."""

import json
import re

from data.changes import Changes, RoutingError
from data.checks import single_line
from data.db import write
from data.models import Chat, Message
from data.participants import is_participant
from data.posting import post
from data.ready_models import OptionSet, OptionSetQueue, Predefined, PredefinedQueue, for_queue

MAX_OPTIONS = 10
MAX_QUESTION = 300
MAX_OPTION = 100


def predefined_for(chat):
    return for_queue(Predefined, PredefinedQueue.predefined, chat.queue_id)


def option_sets_for(chat):
    return for_queue(OptionSet, OptionSetQueue.option_set, chat.queue_id)


PLACEHOLDER = re.compile(r"\{(chatter_name|agent_name)\}")


def fill(text, chat, agent):
    """Fill the placeholders of a predefined message in one pass (a name holding a placeholder stays as
    written); an unknown chatter is greeted as "there", a nameless agent is "your agent"."""
    values = {
        "chatter_name": (chat.chatter_name or "").strip() or "there",
        "agent_name": (agent.name or "").strip() or "your agent",
    }
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def check_options(question, options):
    """Clean a question and its options; raise RoutingError naming what is wrong."""
    question = single_line(question)  # one line each in a transcript
    options = [single_line(o) for o in options if single_line(o)]
    if not question:
        raise RoutingError("Write the question.")
    if len(question) > MAX_QUESTION:
        raise RoutingError(f"The question can hold at most {MAX_QUESTION} characters.")
    if not 2 <= len(options) <= MAX_OPTIONS:
        raise RoutingError(f"Give between 2 and {MAX_OPTIONS} options.")
    if any(len(o) > MAX_OPTION for o in options):
        raise RoutingError(f"An option can hold at most {MAX_OPTION} characters.")
    if len({o.casefold() for o in options}) < len(options):
        raise RoutingError("Each option must be different.")
    return question, options


def offer_options(chat, agent, question, options):
    """Ask the chatter a question with buttons to answer it."""
    question, options = check_options(question, options)
    changes = Changes()
    with write():
        chat = Chat.get_by_id(chat.id)
        if chat.state == "ended":
            raise RoutingError("This chat has ended.")
        if not is_participant(chat, agent):
            raise RoutingError("You are not in this chat.")
        message = post(chat, "agent", question, agent=agent, changes=changes)
        Message.update(kind="options", options=json.dumps(options)).where(Message.id == message.id).execute()
    return changes


def answer(chat, seq, choice):
    """Record the chatter's choice; the first answer to a question wins, later clicks change nothing."""
    changes = Changes()
    with write():
        chat = Chat.get_by_id(chat.id)
        question = Message.get_or_none(
            (Message.chat == chat) & (Message.seq == seq) & (Message.kind == "options")
        )
        if question is None or question.private:
            raise RoutingError("There is no such question.")
        if not 0 <= choice < len(question.option_list):
            raise RoutingError("There is no such option.")
        if chat.state == "ended":
            raise RoutingError("This chat has ended.")
        won = (
            Message.update(choice=choice)
            .where((Message.id == question.id) & Message.choice.is_null())
            .execute()
        )
        if not won:
            raise RoutingError("This question has already been answered.")
        reply = post(chat, "chatter", question.option_list[choice], changes=changes)
        Message.update(kind="answer", answer_to=seq, choice=choice).where(Message.id == reply.id).execute()
        changes.updated.add((chat.id, seq))
    return changes
