"""The tables of what agents send ready-made: predefined messages and option menus, each offered in
every queue or only in those it is linked to."""

import json

from peewee import CharField, TextField

from data.db import BaseModel, ForeignKey
from data.models import Queue


class Predefined(BaseModel):
    title = CharField(unique=True)
    text = TextField()


class PredefinedQueue(BaseModel):
    predefined = ForeignKey(Predefined, backref="queue_links", on_delete="CASCADE")
    queue = ForeignKey(Queue, on_delete="CASCADE")

    class Meta:
        indexes = ((("predefined", "queue"), True),)


class OptionSet(BaseModel):
    """A question with its options that agents offer often, kept like predefined messages."""

    title = CharField(unique=True)
    question = TextField()
    options = TextField()  # JSON list

    @property
    def option_list(self):
        return json.loads(self.options)


class OptionSetQueue(BaseModel):
    option_set = ForeignKey(OptionSet, backref="queue_links", on_delete="CASCADE")
    queue = ForeignKey(Queue, on_delete="CASCADE")

    class Meta:
        indexes = ((("option_set", "queue"), True),)


def for_queue(model, field, queue_id):
    """Rows of `model` (Predefined, OptionSet) offered in a queue: those for every queue or for it.

    `field` is the link table's foreign key to `model`, e.g. PredefinedQueue.predefined.
    """
    link = field.model
    linked = link.select(field).where(link.queue == queue_id)
    unlinked = ~model.id.in_(link.select(field))
    return model.select().where(model.id.in_(linked) | unlinked).order_by(model.title)


READY_MODELS = [Predefined, PredefinedQueue, OptionSet, OptionSetQueue]
