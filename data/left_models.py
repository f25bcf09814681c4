"""The tables of messages left when nobody could answer: the message, its files, and its mail.

Created beside data/models.py's tables by the schema setup (data/db.py), for new and old databases.
"""

from peewee import CharField, DateTimeField, IntegerField, TextField

from data.db import BaseModel, ForeignKey
from data.models import Agent, Attachment, Chat, Queue, QueuedMail, new_token, now


class LeftMessage(BaseModel):
    """What a chatter left for the team to answer by e-mail."""

    queue = ForeignKey(Queue, backref="left_messages")
    chat = ForeignKey(Chat, null=True, on_delete="SET NULL")  # the waiting chat it was left from, if any
    name = CharField(default="")
    email = CharField()
    text = TextField()
    created_at = DateTimeField(default=now, index=True)
    file_count = IntegerField(default=0)
    handled_at = DateTimeField(null=True, index=True)
    handled_by = ForeignKey(Agent, null=True)

    @property
    def display_name(self):
        return self.name or self.email

    @property
    def files(self):
        return list(LeftFile.select().where(LeftFile.left_message == self.id).order_by(LeftFile.id))

    @property
    def replies(self):
        """The replies sent (or being sent) to it, oldest first."""
        return list(
            LeftMail.select()
            .where((LeftMail.left_message == self.id) & (LeftMail.kind == "reply"))
            .order_by(LeftMail.id)
        )


class LeftFile(BaseModel):
    """A file sent with a message left, stored like an attachment (data/files.py) under a random name."""

    token = CharField(unique=True, default=new_token)
    left_message = ForeignKey(LeftMessage, on_delete="CASCADE")
    name = CharField()
    content_type = CharField()
    size = IntegerField()
    created_at = DateTimeField(default=now)

    is_image = Attachment.is_image  # shown and served as an attachment is (views/files.py serve)
    kind = Attachment.kind


class LeftMail(QueuedMail):
    """A mail about a message left: the team's "reply" to the chatter, or its "forward" to the queue's
    address. Queued and retried like a transcript (data/mail.py); a reply is also the record of it."""

    left_message = ForeignKey(LeftMessage, on_delete="CASCADE")
    kind = CharField()  # "reply" or "forward"
    agent = ForeignKey(Agent, null=True)  # who replied
    reply_to = CharField(default="")
    text = TextField(default="")  # the reply as written


LEFT_MODELS = [LeftMessage, LeftFile, LeftMail]
