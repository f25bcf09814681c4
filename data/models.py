"""Parley's tables: the organisation (queues, profiles, agents) and its chats.

Every one is a data.db.BaseModel, and data/schema.py creates them (its TABLES: these, the ready-made
replies of data/ready_models.py and the messages left of data/left_models.py)."""

import json
import secrets
from collections import namedtuple
from datetime import UTC, datetime

from peewee import JOIN, BooleanField, CharField, DateTimeField, IntegerField, TextField, fn

from data.db import BaseModel, ForeignKey, prepared
from data.identity import label as claim_label
from data.sessions import SessionUser
from data.useragent import describe as describe_user_agent

Claim = namedtuple("Claim", "claim label text")


def now():
    """The current time in UTC, without tzinfo (SQLite stores naive timestamps)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_token():
    """An unguessable 192-bit token for a chatter's access to their chat."""
    return secrets.token_urlsafe(24)


class Queue(BaseModel):
    name = CharField(unique=True)
    slug = CharField(unique=True)
    enabled = BooleanField(default=True)
    # when nobody can answer (issue 18; data/queue_settings.py reads and checks them): opening hours
    # (an IANA zone, weekly ranges and closed dates as JSON; empty: always open), the team's address
    # (messages left are forwarded there, replies say Reply-To it) and the longest wait in seconds
    # before a waiting chatter is offered to leave a message
    timezone = CharField(default="")
    hours = TextField(default="")
    closed_dates = TextField(default="")
    email = CharField(default="")
    longest_wait = IntegerField(null=True)
    # seconds without a message from the chatter before an answered chat is warned, then ended
    # (data/idle.py); null: never
    idle_after = IntegerField(null=True)

    @staticmethod
    def slug_for(name):
        return name.strip().lower().replace(" ", "-")


class Profile(BaseModel):
    name = CharField(unique=True)
    enabled = BooleanField(default=True)

    def queue_ids(self):
        return [pq.queue_id for pq in self.queue_links]


class ProfileQueue(BaseModel):
    profile = ForeignKey(Profile, backref="queue_links", on_delete="CASCADE")
    queue = ForeignKey(Queue, backref="profile_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("profile", "queue"), True),)


class Agent(SessionUser, BaseModel):  # signing in: data/sessions.py
    username = CharField(unique=True)
    password_hash = CharField()
    name = CharField()
    supervisor = BooleanField(default=False)
    max_chats = IntegerField(default=3)
    enabled = BooleanField(default=True)
    # "off" (not taking chats), "available" or "paused"
    status = CharField(default="off", index=True)
    paused_reason = CharField(default="")
    profile = ForeignKey(Profile, null=True, on_delete="SET NULL")
    # longest idle first: set when the agent logs on and whenever they are offered a chat
    idle_since = DateTimeField(null=True)
    # when a console of the agent was last known open (data/presence.py: refreshed by each process's
    # open consoles every few seconds); away_since: set once it was gone past the grace, the agent
    # then offered nothing
    console_seen_at = DateTimeField(null=True)
    away_since = DateTimeField(null=True)
    # the console's sound for offers is off (static/ring.js), whichever browser the agent uses
    sound_muted = BooleanField(default=False)
    # part of every session's id: bumping it (sign-out, new password) ends every session at once
    session_version = IntegerField(default=0)

    def allowed_profiles(self):
        return (
            Profile.select()
            .join(AgentProfile)
            .where((AgentProfile.agent == self) & Profile.enabled)
            .order_by(Profile.name)
        )


class AgentProfile(BaseModel):
    agent = ForeignKey(Agent, backref="profile_links", on_delete="CASCADE")
    profile = ForeignKey(Profile, backref="agent_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("agent", "profile"), True),)


class Chat(BaseModel):
    token = CharField(unique=True, default=new_token)
    queue = ForeignKey(Queue, backref="chats")
    chatter_name = CharField(default="")
    chatter_email = CharField(default="")
    # "waiting" (in the queue), "offered", "active" or "ended"
    state = CharField(default="waiting", index=True)
    created_at = DateTimeField(default=now, index=True)
    accepted_at = DateTimeField(null=True)  # with queue: indexed for the wait estimate (data/availability.py)
    ended_at = DateTimeField(null=True)
    # set when the chatter's last socket closed; cleared when one connects again
    chatter_away_since = DateTimeField(null=True)
    # set once the chatter is taken to have left (away past the grace period, or ended it)
    chatter_left_at = DateTimeField(null=True)
    # when the chatter was last warned that the idle chat will close (data/idle.py)
    idle_warned_at = DateTimeField(null=True)
    # which of name and e-mail a host site vouched for with a signed identity (data/identity.py)
    name_verified = BooleanField(default=False)
    email_verified = BooleanField(default=False)
    # the other claims it vouched for, as JSON: [[claim, text], …] in the token's order
    verified_claims = TextField(null=True)  # null: an older database gets it without a rebuild
    started_from = CharField(default="", max_length=2000)  # the page the chatter came from
    # the chatter chose to wait rather than leave a message (started with nobody there to answer, or
    # "Keep waiting"): not offered it again until someone can take chats in the queue and goes
    chose_to_wait = BooleanField(default=False)
    user_agent = CharField(default="", max_length=512)
    # the pre-chat form's own key: the same form sent twice (a double click) starts one chat
    # (unique where set, data/schema.py)
    start_key = CharField(null=True)

    class Meta:
        indexes = ((("queue", "accepted_at"), False),)

    @property
    def display_name(self):
        return self.chatter_name or f"Visitor {self.id}"

    @property
    def chatter_present(self):
        return self.chatter_left_at is None and self.state != "ended"

    @property
    def chatter_status(self):
        """What Chat details say of the chatter: away for less than the grace period is not gone yet."""
        if not self.chatter_present:
            return "Has left"
        return "Reconnecting…" if self.chatter_away_since else "Connected"

    @property
    def claims(self):
        """What else the host site vouched for, as (claim, label, text) in the order it signed them."""
        return [
            Claim(claim, claim_label(claim), text) for claim, text in json.loads(self.verified_claims or "[]")
        ]

    def agents(self):
        """Agents in the chat now."""
        return _agents_in(self.id)

    def position(self):
        """The chat's place in its queue, 1 for the next to be served; None once served."""
        if self.state not in ("waiting", "offered"):
            return None
        return _waiting_ahead(self.id).first()[0] + 1

    @property
    def waited(self):
        """How long the chatter waited for an agent; None while still waiting or never answered."""
        return self.accepted_at - self.created_at if self.accepted_at else None

    @property
    def browser(self):
        return describe_user_agent(self.user_agent)

    def earlier_chats(self):
        """Chats before this one with the same verified e-mail, newest first (none if unverified)."""
        if not (self.email_verified and self.chatter_email):
            return Chat.select().where(Chat.id.is_null())
        return (
            Chat.select()
            .where(
                Chat.email_verified
                & (fn.LOWER(Chat.chatter_email) == self.chatter_email.lower())
                & (Chat.id < self.id)
            )
            .order_by(Chat.id.desc())
        )


# shown on every chat page and console update: compiled once (data.db.prepared)
@prepared
def _agents_in(chat_id):
    return (
        Agent.select().join(Participant).where((Participant.chat == chat_id) & Participant.left_at.is_null())
    )


@prepared
def _waiting_ahead(chat_id):
    """How many chats wait in the chat's queue before it."""
    mine = Chat.alias()
    before = (Chat.created_at < mine.created_at) | (
        (Chat.created_at == mine.created_at) & (Chat.id < mine.id)
    )
    return (
        Chat.select(fn.COUNT(Chat.id))
        .join(mine, on=(mine.id == chat_id))
        .where((Chat.queue == mine.queue) & Chat.state.in_(("waiting", "offered")) & before)
        .tuples()
        .limit(1)  # as first() asks, so the shape stays the one compiled
    )


class Participant(BaseModel):
    chat = ForeignKey(Chat, backref="participants", on_delete="CASCADE")
    agent = ForeignKey(Agent, backref="participations")
    joined_at = DateTimeField(default=now)
    left_at = DateTimeField(null=True)
    # the agent closed the chat's tab: it no longer shows in their console
    closed_at = DateTimeField(null=True)


class Invitation(BaseModel):
    """An agent in a chat asking a colleague, or anyone in a queue, to join it."""

    chat = ForeignKey(Chat, backref="invitations", on_delete="CASCADE")
    inviter = ForeignKey(Agent)
    invitee = ForeignKey(Agent, null=True)  # a named colleague, or None for anyone in `queue`
    queue = ForeignKey(Queue, null=True)
    stay = BooleanField(default=True)  # False: the inviter leaves once the invitee joins
    # the inviter's word to the invitee, shown with the offer; never the chatter's
    note = CharField(default="")
    # "pending", "accepted", "declined" or "cancelled"
    state = CharField(default="pending", index=True)
    created_at = DateTimeField(default=now)
    answered_at = DateTimeField(null=True)

    @property
    def target_name(self):
        return self.invitee.name if self.invitee_id else f"anyone in {self.queue.name}"


class Offer(BaseModel):
    chat = ForeignKey(Chat, backref="offers", on_delete="CASCADE")
    agent = ForeignKey(Agent, backref="offers")
    # "pending", "accepted", "rejected", "expired" or "withdrawn"
    state = CharField(default="pending", index=True)
    created_at = DateTimeField(default=now)
    expires_at = DateTimeField(index=True)
    answered_at = DateTimeField(null=True)
    invitation = ForeignKey(Invitation, null=True, on_delete="CASCADE")


class Message(BaseModel):
    # no index of their own: each costs every message a page write; the unique (chat, seq) index
    # serves every read by chat, and no read looks messages up by agent (agents are never deleted)
    chat = ForeignKey(Chat, backref="messages", on_delete="CASCADE", index=False)
    # per-chat sequence number: clients resync from the last one they hold
    seq = IntegerField()
    created_at = DateTimeField(default=now)
    # "chatter", "agent" or "system" (joins, leaves, endings)
    sender = CharField()
    agent = ForeignKey(Agent, null=True, index=False)
    text = TextField()
    private = BooleanField(default=False)
    # "text"; "options" (text is the question, options a JSON list); "answer" (to question seq
    # answer_to, option index choice)
    kind = CharField(default="text")
    options = TextField(null=True)
    answer_to = IntegerField(null=True)
    choice = IntegerField(null=True)  # on a question: the option chosen, once answered
    file_count = IntegerField(default=0)  # attachments; rendering looks them up only when there are some
    # the sending page's id for a message sent over its socket: a resend after a reconnect is stored
    # once (unique per chat, see data/schema.py), and the page knows its message arrived
    client_key = CharField(null=True)

    class Meta:
        indexes = ((("chat", "seq"), True),)

    @property
    def option_list(self):
        return json.loads(self.options or "[]")

    @property
    def files(self):
        """The message's attachments, in the order they were sent."""
        if not self.file_count:
            return []
        return list(Attachment.select().where(Attachment.message == self.id).order_by(Attachment.id))

    def question_text(self):
        """For an answer: the question it answers."""
        question = Message.get_or_none((Message.chat == self.chat_id) & (Message.seq == self.answer_to))
        return question.text if question else ""

    @classmethod
    def for_agents(cls, chat, after=0):
        """Everything in the chat, private messages included, in order."""
        return _messages_for_agents(chat, after)

    @classmethod
    def for_chatter(cls, chat, after=0):
        """What the chatter may see: every read a chatter makes goes through here."""
        return _messages_for_chatter(chat, after)


# every message pushed to a socket is read through one of these two: compiled once (data.db.prepared)
@prepared
def _messages_for_agents(chat, after):
    return (
        Message.select(Message, Chat, Agent)
        .join(Chat)
        .switch(Message)
        .join(Agent, JOIN.LEFT_OUTER)
        .where((Message.chat == chat) & (Message.seq > after))
        .order_by(Message.seq)
    )


@prepared
def _messages_for_chatter(chat, after):
    return _messages_for_agents(chat, after).where(~Message.private)


INLINE_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif")


class Attachment(BaseModel):
    """A file sent with a message, stored under a random name; its original name is display text only."""

    token = CharField(unique=True, default=new_token)  # its file name on disk and in URLs
    chat = ForeignKey(Chat, backref="attachments", on_delete="CASCADE")
    message = ForeignKey(Message, backref="attachments", on_delete="CASCADE")
    name = CharField()
    content_type = CharField()
    size = IntegerField()
    private = BooleanField(default=False)
    created_at = DateTimeField(default=now)

    @property
    def is_image(self):
        """Shown inline as a thumbnail; SVG and TIFF are only ever downloads, and so are HEIC and
        HEIF, which few browsers draw."""
        return self.content_type in INLINE_IMAGES

    @property
    def kind(self):
        labels = {"application/pdf": "PDF", "text/plain": "text", "image/svg+xml": "SVG image"}
        return labels.get(self.content_type, self.content_type.split("/")[-1].upper() + " image")


class QueuedMail(BaseModel):
    """A mail kept until sent or given up (data/mail.py): what every table of queued mail holds.
    No table of its own."""

    to_address = CharField()
    # "pending" (not tried yet), "retrying" (failed, tried again at next_try_at), "sent" or "failed"
    state = CharField(default="pending", index=True)
    attempts = IntegerField(default=0)
    next_try_at = DateTimeField(default=now, index=True)
    created_at = DateTimeField(default=now)
    sent_at = DateTimeField(null=True)
    last_error = TextField(default="")


class TranscriptMail(QueuedMail):
    """A transcript the chatter asked to have e-mailed."""

    chat = ForeignKey(Chat, backref="mails", on_delete="CASCADE")


class Setting(BaseModel):
    """A setting supervisors change at run time (e.g. "retention_days"), as text."""

    key = CharField(unique=True)
    value = TextField()

    @classmethod
    def put(cls, key, value):
        """Store `value` under `key`, replacing what was there."""
        cls.insert(key=key, value=value).on_conflict(
            conflict_target=[cls.key], update={cls.value: value}
        ).execute()


ALL_MODELS = [
    Queue,
    Profile,
    ProfileQueue,
    Agent,
    AgentProfile,
    Chat,
    Participant,
    Invitation,
    Offer,
    Message,
    Attachment,
    TranscriptMail,
    Setting,
]
