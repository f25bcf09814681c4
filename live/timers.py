"""The server's background work, each a thread that outlives any one failure: the routing ticker, the
pinger of every socket, the sender of mails (transcripts, replies to messages left), the note that
this process's consoles are open and, with several processes, the finder of chatters whose page was
on a process that died."""

import itertools
import threading
import time

from data import idle, left_mail, mail, presence, retention, routing, search_index, timing
from data.db import connection, log_failure, unavailable
from data.models import Chat
from live import sessions
from live.announce import announce
from live.bus import hub
from live.events import MailStatus

_mail_queued = threading.Event()  # set when a mail is queued: the sender tries it at once


def start(app):
    """Start the ticker, the pinger and the mail sender (the server does; tests of views need none)."""
    start_ticker(app)
    start_pinger(app, app.config["PING_INTERVAL"])
    start_mail_sender(app)
    start_presence(app, min(10.0, timing.settings.away_grace / 3))
    start_session_check(app)
    if hub.relay is not None:
        start_chatter_sweeper(app)


def start_ticker(app, every=0.5):
    """Expire offers, notice departed chatters, close idle chats and offer waiting chats, from the
    database, forever."""

    def tick():
        with connection():
            changes = routing.tick()
            changes.merge(idle.tick())  # idle chats warned and ended, chats whose chatter left ended
            changes.merge(presence.tick())  # agents whose console is gone: away, then logged off
        announce(changes)
        with connection():
            search_index.catch_up()  # indexes the messages stored since the last tick
            retention.run_if_due()  # deletes ended chats past the retention period, once a minute

    _forever(app, "parley-ticker", "routing tick failed", tick, lambda: time.sleep(every))


def start_pinger(app, every):
    """Ping every socket once in `every` seconds, a slice of them at a time (25 slices for 25 s), so
    thousands of pings never go out at once. Pings find dead connections and keep proxies from
    closing quiet ones; simple-websocket's own cost a selector and a timer on every frame read."""
    turns = max(1, round(every))
    turn = itertools.count()

    def ping_a_slice():
        now = next(turn) % turns
        for page in hub.everyone():
            if page.slot % turns == now:
                page.ping()

    _forever(app, "parley-pinger", "pinging sockets failed", ping_a_slice, lambda: time.sleep(every / turns))


def start_chatter_sweeper(app, every=5.0):
    """A chatter's page on a process that died (kill -9, the machine gone) never said it closed: a chat
    whose chatter the database holds as here, but whose channel no process hears at two looks in a row
    (a page just opening is heard within one), gets its chatter noted as away, as a closed page would."""
    suspects = set()

    def sweep():
        nonlocal suspects
        with connection():
            here = routing.chats_with_chatter_here()
        unheard = hub.unheard_anywhere([f"chat:{chat_id}" for chat_id in here])
        gone, suspects = suspects & unheard, unheard
        for channel in gone:
            with connection():
                changes = routing.chatter_away(Chat(id=int(channel.split(":")[1])))
            announce(changes)

    _forever(app, "parley-chatters", "finding gone chatters failed", sweep, lambda: time.sleep(every))


def start_presence(app, every):
    """Note every `every` seconds, in one UPDATE, that this process's open consoles are there
    (data/presence.py decides from it, across processes, who is away)."""

    def refresh():
        agents = {
            int(ch[6:]) for page in hub.everyone() for ch in page.view.channels() if ch.startswith("agent:")
        }
        with connection():
            changes = presence.seen(agents)
        announce(changes)

    _forever(app, "parley-presence", "noting open consoles failed", refresh, lambda: time.sleep(every))


def start_session_check(app, every=2.0):
    """Close the sockets of sessions ended where no event was published (live/sessions.py), forever."""
    _forever(
        app,
        "parley-sessions",
        "checking sessions failed",
        sessions.check_open_sessions,
        lambda: time.sleep(every),
    )


def start_mail_sender(app, every=1.0):
    """Send queued and due mails (transcripts, and replies about messages left), and tell each
    chatter's page how their transcript went, forever."""

    def send_due():
        with connection():
            for queued in mail.due():
                mail.attempt(queued)  # records sent, retrying or failed
                hub.publish(f"chat:{queued.chat_id}", MailStatus(queued.chat_id))
            for queued in left_mail.due():  # replies to messages left, and their forwards
                left_mail.attempt(queued)

    def wait():
        _mail_queued.wait(every)
        _mail_queued.clear()

    _forever(app, "parley-mail", "mail sender failed", send_due, wait)


def mail_queued():
    """Have the mail sender try a mail just queued at once."""
    _mail_queued.set()


def _forever(app, name, failed, work, wait):
    def loop():
        down = False  # the database was unavailable last time: said once per outage, not every turn
        while True:
            try:
                work()
                down = False
            except Exception as e:  # noqa: BLE001 - a timer must outlive any one failure
                if not (down and unavailable(e)):
                    log_failure(app.logger, failed, e)
                down = unavailable(e)
            wait()

    threading.Thread(target=loop, name=name, daemon=True).start()
