"""Attachments: the limits (count, size, type judged by content), names that stay text, downloads
authorised on every request with headers of their own, private files, the transcript, and deletion.

Most tests drive a real `parley serve` with requests; the type judgments and deletion are also checked
on data/files.py and data/retention.py directly, where that is simpler.
"""

import codecs
import io
import os
import re
import subprocess
import sys
from datetime import timedelta
from urllib.parse import unquote

import pytest
from clients import rows
from conftest import ROOT, wait_for
from samples import AVIF, HEIC, NORWEGIAN, PDF, WINDOWS_ONLY, iso_media, png_bytes

from data import files, posting, retention, routing
from data.models import Attachment, Chat, Message, Queue, now

MB = 1024 * 1024
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
FILE_CSP_PARTS = ("default-src 'none'", "sandbox")


# --- files as they would come from a disk ----------------------------------------------------------


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
WINDOWS_EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\0" * 48
    + b"This program cannot be run in DOS mode"
)
LINUX_EXE = b"\x7fELF\x02\x01\x01\x00" + b"\0" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\0" * 100
SVG_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>\n"
)
NAUGHTY_NAME = "../../<img src=x onerror=alert(1)>.txt"


def text_file(size, fill=b"a"):
    """`size` bytes of text: `fill` over and over."""
    return (fill * (size // len(fill) + 1))[:size]


# --- reading what the server stored --------------------------------------------------------------


def attachments(server):
    """Every stored attachment as a dict, oldest first."""
    found = rows(
        server, "select token, name, content_type, size, private, chat_id from attachment order by id"
    )
    keys = ("token", "name", "content_type", "size", "private", "chat_id")
    return [dict(zip(keys, row, strict=True)) for row in found]


def stored_files(server):
    folder = server.folder / "files"
    return sorted(os.listdir(folder)) if folder.exists() else []


def chatter_messages(server):
    return rows(server, "select count(*) from message where sender = 'chatter'")[0][0]


def chat_with_ann(server, people, name="Carl", email=""):
    """Ann on the Support desk in a chat with a chatter: (ann, chatter, chat id)."""
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat_id = chatter.start(name, email)
    ann.accept(chat_id)
    return ann, chatter, chat_id


def send(person, path, text="", uploads=(), **form):
    """POST a message with files [(name, bytes)] the way the composer's form does (multipart)."""
    parts = [("files", (name, data, "application/octet-stream")) for name, data in uploads]
    return person.post(path, {"text": text, **form}, files=parts or None)


def chatter_sends(chatter, text="", uploads=()):
    return send(chatter, f"/chat/{chatter.slug}/messages", text, uploads)


def agent_sends(agent, chat_id, text="", uploads=(), private=False):
    return send(agent, f"/chats/{chat_id}/messages", text, uploads, private="yes" if private else "")


def refused(response, *fragments, status=400):
    """A refusal: 400 (or `status`), shown in the page's alert, naming what it should; nothing was sent."""
    assert response.status_code == status, (response.status_code, response.text)
    assert "Nothing was sent." in response.text
    for fragment in fragments:
        assert fragment in response.text, (fragment, response.text)
    return response.text


def disposition(response):
    """Content-Disposition as (kind, file name), the name read as browsers do: filename* first (RFC 6266).

    The header itself must be safe: one line, the plain name quoted once with no quote, backslash or
    path inside it, and filename* (if there) percent-encoded UTF-8.
    """
    header = response.headers["Content-Disposition"]
    assert "\r" not in header and "\n" not in header and "\\" not in header, header
    found = re.fullmatch(
        r'(inline|attachment); filename="([ -~]*)"(?:; filename\*=UTF-8\'\'([^\s;"]+))?', header
    )
    assert found, header
    kind, plain, starred = found.groups()
    assert '"' not in plain and "/" not in plain, header
    return kind, unquote(starred) if starred else plain


def assert_file_headers(response, content_type, kind, name):
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"] == content_type, response.headers["Content-Type"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = response.headers["Content-Security-Policy"]
    for part in FILE_CSP_PARTS:
        assert part in csp, csp
    assert "script-src" not in csp  # default-src 'none' covers scripts: nothing runs
    assert disposition(response) == (kind, name)


# --- the type of a file, judged by its content (data/files.py) ----------------------------------------


def judge(*uploads):
    return files.check([files.Upload(name, io.BytesIO(data)) for name, data in uploads])


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("notes.txt", "Grüße, and a line\n".encode(), "text/plain"),
        ("server.LOG", b"12:00 started\n", "text/plain"),
        ("table.csv", b"a,b\n1,2\n", "text/plain"),
        ("photo.png", png_bytes(), "image/png"),
        ("Photo.JPG", JPEG, "image/jpeg"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        ("anim.gif", GIF, "image/gif"),
        ("invoice.pdf", PDF, "application/pdf"),
        ("drawing.svg", SVG_SCRIPT, "image/svg+xml"),
        # text as Windows and older editors write it
        ("notes.txt", NORWEGIAN.encode("utf-16"), "text/plain"),
        ("notes.txt", codecs.BOM_UTF16_BE + NORWEGIAN.encode("utf-16-be"), "text/plain"),
        ("notes.txt", NORWEGIAN.encode("latin-1"), "text/plain"),
        ("notes.txt", (NORWEGIAN + WINDOWS_ONLY).encode("cp1252"), "text/plain"),
        # photos as phones take them
        ("IMG_0001.HEIC", HEIC, "image/heic"),
        ("photo.heif", iso_media(b"mif1", b"heic"), "image/heic"),
        ("photo.heic", iso_media(b"mif1", b"miaf"), "image/heif"),
        ("photo.heif", iso_media(b"msf1", b"iso8"), "image/heif"),
        ("photo.heif", iso_media(b"heif"), "image/heif"),
        ("photo.heic", iso_media(b"heix", b"mif1"), "image/heic"),
        ("photo.avif", AVIF, "image/avif"),
        ("photo.avif", iso_media(b"mif1", b"avif"), "image/avif"),
        ("clip.avif", iso_media(b"avis", b"msf1"), "image/avif"),
    ],
)
def test_allowed_types_are_judged_by_their_content(name, data, content_type):
    assert judge((name, data)) == [content_type]


def svg_from_an_editor(size):
    """An SVG as a drawing program writes it: XML declaration, a comment, then the drawing."""
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<!-- Created with a drawing program -->\n'
    )
    head += b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">\n'
    shape = b'  <rect x="1" y="1" width="5" height="5" fill="#c00"/>\n'
    return head + shape * ((size - len(head)) // len(shape)) + b"</svg>\n"


def test_an_svg_larger_than_the_sniffed_head_is_still_an_svg():
    """Drawing programs start with an XML declaration: only the closing </svg> says what it is."""
    assert judge(("small.svg", svg_from_an_editor(2000))) == ["image/svg+xml"]
    assert judge(("large.svg", svg_from_an_editor(300_000))) == ["image/svg+xml"]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("setup.exe", WINDOWS_EXE, "only text, PDF and image files"),
        ("page.html", b"<html><script>alert(1)</script></html>", "only text, PDF and image files"),
        ("script.js", b"alert(1)", "only text, PDF and image files"),
        ("no-ending", b"hello", "only text, PDF and image files"),
        ("invoice.pdf", WINDOWS_EXE, "the content is not a PDF"),
        ("invoice.pdf", LINUX_EXE, "the content is not a PDF"),
        ("invoice.pdf", b"just some words, no PDF", "the content is not a PDF"),
        ("photo.png", JPEG, "the content is not a PNG image"),
        ("photo.jpg", png_bytes(), "the content is not a JPEG image"),
        ("photo.gif", PDF, "the content is not a GIF image"),
        ("notes.txt", WINDOWS_EXE, "the content is not a text file"),
        ("notes.txt", LINUX_EXE, "the content is not a text file"),
        ("notes.txt", b"\xff\xfe\xfa not utf-8", "the content is not a text file"),
        ("notes.txt", b"\xff\xfe\x00\xd8 half a UTF-16 pair", "the content is not a text file"),
        ("notes.txt", NORWEGIAN.encode("utf-16-le"), "the content is not a text file"),  # no BOM
        ("notes.txt", b"caf\xe9\x01\x02\x03\x04", "the content is not a text file"),
        ("notes.txt", b"caf\xe9 \x81", "the content is not a text file"),  # not in Windows-1252
        ("photo.heic", iso_media(b"isom", b"mif1", b"mp41"), "the content is not a HEIC image"),  # a video
        ("photo.heic", JPEG, "the content is not a HEIC image"),
        ("photo.avif", HEIC, "the content is not an AVIF image"),
        ("photo.avif", png_bytes(), "the content is not an AVIF image"),
        ("notes.txt", b"", "the file is empty"),
        # an executable that merely ends like an SVG is still an executable
        ("drawing.svg", WINDOWS_EXE + b"</svg>\n", "the content is not an SVG image"),
        ("drawing.svg", LINUX_EXE + b"</svg>\n", "the content is not an SVG image"),
        (
            "drawing.svg",
            b"<html><body><script>alert(1)</script></body></html>",
            "the content is not an SVG image",
        ),
    ],
)
def test_refused_types_name_the_file_and_the_reason(name, data, reason):
    with pytest.raises(files.FileRefused) as refusal:
        judge(("fine.txt", b"fine"), (name, data))
    assert str(refusal.value).startswith(f"{name}: ")
    assert reason in str(refusal.value)


def test_count_and_size_limits_are_checked_before_anything_is_read():
    five = [(f"f{i}.txt", b"x") for i in range(5)]
    assert judge(*five) == ["text/plain"] * 5
    with pytest.raises(files.FileRefused, match="at most 5 files at once; you chose 6"):
        judge(*five, ("f5.txt", b"x"))
    assert judge(("exact.txt", text_file(20 * MB))) == ["text/plain"]
    with pytest.raises(files.FileRefused, match=r"^big\.txt: the file is larger than 20 MB\.$"):
        judge(("big.txt", text_file(20 * MB + 1)))


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        (NAUGHTY_NAME, "<img src=x onerror=alert(1)>.txt"),
        ("C:\\Users\\eve\\..\\secret.txt", "secret.txt"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("line\r\nSet-Cookie: x=1.txt", "lineSet-Cookie: x=1.txt"),
        ("\u202egnp.txt", "gnp.txt"),  # no right-to-left override to disguise the ending
        ("", "file"),
        ("a" * 300 + ".txt", "a" * 200),
    ],
)
def test_display_names_carry_no_path_and_no_control_characters(sent, shown):
    assert files.display_name(sent) == shown


def test_files_are_saved_under_random_names_inside_the_files_folder(database):
    uploads = [
        files.Upload(NAUGHTY_NAME, io.BytesIO(b"hello")),
        files.Upload("a.png", io.BytesIO(png_bytes())),
    ]
    saved = files.save(uploads, files.check(uploads))
    assert [f["name"] for f in saved] == ["<img src=x onerror=alert(1)>.txt", "a.png"]
    assert [f["size"] for f in saved] == [5, len(png_bytes())]
    folder = os.path.realpath(files.folder)
    assert sorted(os.listdir(folder)) == sorted(f["token"] for f in saved)
    for f in saved:
        assert TOKEN.match(f["token"])
        assert os.path.dirname(os.path.realpath(files.path_of(f["token"]))) == folder
    with open(files.path_of(saved[0]["token"]), "rb") as stored:
        assert stored.read() == b"hello"
    files.delete(f["token"] for f in saved)
    assert os.listdir(folder) == []


# --- deleting a chat's data deletes its files (data/retention.py) -------------------------------------


def chat_with_files(email, ended_days_ago=None):
    """A chat of the Support queue with two files sent, one of them private; ended if a day is given."""
    queue = Queue.get_or_create(name="Support", slug="support")[0]
    chat, _ = routing.start_chat(queue, name="Pam", email=email)
    for private, name in ((False, "public.txt"), (True, "private.txt")):
        uploads = [files.Upload(name, io.BytesIO(b"contents of " + name.encode()))]
        saved = files.save(uploads, files.check(uploads))
        posting.post(
            chat, "chatter" if not private else "system", "see attached", private=private, files=saved
        )
    if ended_days_ago is not None:
        ended = now() - timedelta(days=ended_days_ago)
        Chat.update(state="ended", ended_at=ended).where(Chat.id == chat.id).execute()
    paths = [files.path_of(a.token) for a in Attachment.select().where(Attachment.chat == chat.id)]
    assert len(paths) == 2 and all(os.path.exists(p) for p in paths)
    return chat, paths


def test_deleting_a_chatter_deletes_their_files(database):
    ended, ended_paths = chat_with_files("pam@example.com", ended_days_ago=0)
    still_open, open_paths = chat_with_files("pam@example.com")
    other, other_paths = chat_with_files("other@example.com", ended_days_ago=0)
    assert retention.delete_chatter("PAM@example.com") == (1, 1)
    assert not any(os.path.exists(p) for p in ended_paths)
    assert all(os.path.exists(p) for p in open_paths + other_paths)
    assert Attachment.select().where(Attachment.chat == ended.id).count() == 0
    assert Attachment.select().count() == 4


def test_retention_deletes_the_files_of_expired_chats(database):
    old, old_paths = chat_with_files("old@example.com", ended_days_ago=40)
    young, young_paths = chat_with_files("young@example.com", ended_days_ago=2)
    retention.set_retention_days(30)
    assert retention.purge_expired() == 1
    assert not any(os.path.exists(p) for p in old_paths)
    assert all(os.path.exists(p) for p in young_paths)
    assert sorted(os.listdir(files.folder)) == sorted(os.path.basename(p) for p in young_paths)
    assert Message.select().where(Message.chat == old.id).count() == 0


# --- the limits, over a real server --------------------------------------------------------------------


def test_five_files_go_with_a_message_and_six_are_refused_with_nothing_stored(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    six = [(f"note-{i}.txt", f"note {i}\n".encode()) for i in range(6)]
    refused(chatter_sends(carl, "six of them", six), "at most 5 files", "you chose 6")
    assert chatter_messages(server) == 0
    assert attachments(server) == []
    assert stored_files(server) == []

    assert chatter_sends(carl, "five of them", six[:5]).status_code == 204
    stored = attachments(server)
    assert [a["name"] for a in stored] == [f"note-{i}.txt" for i in range(5)]
    assert {a["chat_id"] for a in stored} == {chat_id}
    assert stored_files(server) == sorted(a["token"] for a in stored)
    assert rows(server, "select text, file_count from message where sender = 'chatter'") == [
        ("five of them", 5)
    ]
    # and the agent can take each of them
    for a, (_, data) in zip(stored, six, strict=False):
        assert ann.get(f"/files/{a['token']}").content == data


def test_twenty_megabytes_exactly_go_and_one_byte_more_is_refused(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    # 413: cut off while it streams in (test_limits.py)
    big = chatter_sends(carl, "", [("big.txt", text_file(20 * MB + 1))])
    text = refused(big, "big.txt", "larger than 20 MB", status=413)
    assert text.count("big.txt") == 1
    assert attachments(server) == [] and stored_files(server) == [] and chatter_messages(server) == 0

    exact = text_file(20 * MB, b"0123456789abcdef")
    assert chatter_sends(carl, "", [("exact.txt", exact)]).status_code == 204
    [stored] = attachments(server)
    assert (stored["name"], stored["size"], stored["content_type"]) == ("exact.txt", 20 * MB, "text/plain")
    assert os.path.getsize(server.folder / "files" / stored["token"]) == 20 * MB
    download = carl.get(f"/chat/support/files/{stored['token']}")
    assert download.status_code == 200 and download.content == exact


def test_wrong_types_are_refused_by_name_and_content(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    watching = ann.connect()
    cases = [
        ("setup.exe", WINDOWS_EXE, "only text, PDF and image files"),
        ("page.html", b"<html><script>alert(1)</script></html>", "only text, PDF and image files"),
        ("invoice.pdf", WINDOWS_EXE, "the content is not a PDF"),
        ("report.pdf", LINUX_EXE, "the content is not a PDF"),
        ("photo.png", JPEG, "the content is not a PNG image"),
        ("drawing.svg", LINUX_EXE + b"</svg>\n", "the content is not an SVG image"),
    ]
    for name, data, reason in cases:
        # one bad file among good ones: the whole message is refused, naming the bad one
        uploads = [("fine.txt", b"fine"), (name, data), ("ok.png", png_bytes())]
        text = refused(chatter_sends(carl, f"sending {name}", uploads), f"{name}: ", reason)
        assert "fine.txt" not in text and "ok.png" not in text
        refused(agent_sends(ann, chat_id, f"sending {name}", [(name, data)]), f"{name}: ", reason)
    assert attachments(server) == [] and stored_files(server) == []
    assert rows(server, "select count(*) from message where sender != 'system'") == [(0,)]

    # a refused file never reaches anyone: the next message is the first the agent's console gets
    assert carl.say("after the refusals").status_code == 204
    seen = watching.wait_for_text("after the refusals")
    for name, _, _ in cases:
        assert f"sending {name}" not in seen and name not in seen


def test_svg_with_a_script_is_only_ever_a_download(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    assert (
        chatter_sends(carl, "my logo", [("logo.svg", SVG_SCRIPT), ("photo.png", png_bytes())]).status_code
        == 204
    )
    svg, png = attachments(server)
    assert svg["content_type"] == "image/svg+xml"

    for person, base in ((carl, "/chat/support/files/"), (ann, "/files/")):
        response = person.get(base + svg["token"])
        assert_file_headers(response, "image/svg+xml; charset=utf-8", "attachment", "logo.svg")
        assert response.content == SVG_SCRIPT
        # the PNG is shown inline, with the same protective headers
        assert_file_headers(person.get(base + png["token"]), "image/png", "inline", "photo.png")

    # the log shows the SVG as a link, never as an image; the PNG as a thumbnail
    for html in (carl.page().text, ann.console()):
        assert not re.search(r"<img[^>]*" + re.escape(svg["token"]), html)
        link = (
            r'<a href="[^"]*'
            + re.escape(svg["token"])
            + r'" download[^>]*>(<svg[^>]*>.*?</svg>)?logo\.svg</a>'
        )
        assert re.search(link, html)
        assert re.search(r'<img src="[^"]*' + re.escape(png["token"]) + r'" alt="photo\.png"', html)


def test_text_in_utf_16_and_windows_1252_is_served_as_utf_8(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    windows = NORWEGIAN + WINDOWS_ONLY
    sent = [("utf16.txt", NORWEGIAN.encode("utf-16")), ("windows.txt", windows.encode("cp1252"))]
    assert chatter_sends(carl, "two old files", sent).status_code == 204
    utf16, cp1252 = attachments(server)
    assert [(a["content_type"], a["size"]) for a in (utf16, cp1252)] == [
        ("text/plain", len(NORWEGIAN.encode())),
        ("text/plain", len(windows.encode())),
    ]
    for person, base in ((carl, "/chat/support/files/"), (ann, "/files/")):
        for stored, text in ((utf16, NORWEGIAN), (cp1252, windows)):
            response = person.get(base + stored["token"])
            assert_file_headers(response, "text/plain; charset=utf-8", "attachment", stored["name"])
            assert response.content.decode("utf-8") == text  # as the browser reads it: æøå, € and –


def test_heic_is_a_download_and_avif_a_thumbnail(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    assert chatter_sends(carl, "photos", [("IMG_1.HEIC", HEIC), ("IMG_2.avif", AVIF)]).status_code == 204
    heic, avif = attachments(server)
    assert (heic["content_type"], avif["content_type"]) == ("image/heic", "image/avif")
    for person, base in ((carl, "/chat/support/files/"), (ann, "/files/")):
        assert_file_headers(person.get(base + heic["token"]), "image/heic", "attachment", "IMG_1.HEIC")
        assert_file_headers(person.get(base + avif["token"]), "image/avif", "inline", "IMG_2.avif")
    for html in (carl.page().text, ann.console()):
        assert not re.search(r"<img[^>]*" + re.escape(heic["token"]), html)
        assert "HEIC image, " in html
        assert re.search(r'<img src="[^"]*' + re.escape(avif["token"]) + r'" alt="IMG_2\.avif"', html)


def test_a_name_with_html_and_path_characters_is_only_display_text(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    chatter_socket = carl.connect()
    agent_socket = ann.connect()
    assert chatter_sends(carl, "look", [(NAUGHTY_NAME, b"plain words\n")]).status_code == 204
    [stored] = attachments(server)
    shown = "<img src=x onerror=alert(1)>.txt"
    assert stored["name"] == shown
    assert TOKEN.match(stored["token"])
    # on disk: one file, under its random token, inside DATA/files, and nothing anywhere else
    assert stored_files(server) == [stored["token"]]
    everything = [os.path.join(d, f) for d, _, names in os.walk(server.folder.parent) for f in names]
    assert not [p for p in everything if "onerror" in p or "img src" in p]

    escaped = "&lt;img src=x onerror=alert(1)&gt;.txt"
    pages = [
        carl.page().text,
        ann.console(),
        chatter_socket.wait_for_text(escaped),
        agent_socket.wait_for_text(escaped),
    ]
    for html in pages:
        assert escaped in html
        assert "<img src=x" not in html

    for person, base in ((carl, "/chat/support/files/"), (ann, "/files/")):
        response = person.get(base + stored["token"])
        assert_file_headers(response, "text/plain; charset=utf-8", "attachment", shown)
        header = response.headers["Content-Disposition"]
        assert "/" not in header and ".." not in header


def usable_name(name, ending):
    """A file name a person can read and save: no folder part, no way up, not hidden, its own ending."""
    assert name.endswith(ending), name
    assert "/" not in name and "\\" not in name and ".." not in name and not name.startswith("."), name


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ('say "cheese".txt', 'say "cheese".txt'),
        ('x"; filename="evil.exe.txt', 'x"; filename="evil.exe.txt'),
        ("../../etc/notes.txt", "notes.txt"),
        ("Größe €.txt", "Größe €.txt"),
        # a browser sends the name as the file system has it; Werkzeug 3.1.9 and later unescape the
        # backslashes (`....windowsnotes.txt`), earlier ones keep them: either way no path is left
        ("..\\..\\windows\\notes.txt", None),
        ("C:\\Users\\ann\\notes.txt", None),
        ("back\\slash.txt", None),
    ],
)
def test_content_disposition_is_safe_for_any_name(server, people, sent, shown):
    ann, carl, chat_id = chat_with_ann(server, people)
    assert chatter_sends(carl, "", [(sent, b"words\n")]).status_code == 204
    [stored] = attachments(server)
    usable_name(stored["name"], ".txt")
    assert stored["name"] == (shown or stored["name"])  # None: Werkzeug's parsing decides, not safety
    shown = stored["name"]
    for response in (
        carl.get(f"/chat/support/files/{stored['token']}"),
        ann.get(f"/files/{stored['token']}"),
    ):
        assert disposition(response) == ("attachment", shown)  # and the header is safe: see disposition()
        assert response.headers["Content-Disposition"].count('"') == 2


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("..\\..\\windows\\notes.txt", "notes.txt"),  # as Werkzeug up to 3.1.8 parses it
        ("....windowsnotes.txt", "windowsnotes.txt"),  # as 3.1.9 and later do
        ("/etc/../.hidden.txt", "hidden.txt"),
        ("..", "file"),
        (" \t\r\n", "file"),
        ("a" * 300 + ".txt", "a" * 200),
    ],
)
def test_a_shown_file_name_has_no_path_and_no_leading_dot(name, shown):
    assert files.display_name(name) == shown


# --- who may download a file -----------------------------------------------------------------------


def test_downloads_are_authorised_on_every_request(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    assert chatter_sends(carl, "receipt", [("receipt.pdf", PDF)]).status_code == 204
    [stored] = attachments(server)
    chatter_url = f"/chat/support/files/{stored['token']}"
    agent_url = f"/files/{stored['token']}"

    # the chatter whose chat it is, and the agent in it
    assert carl.get(chatter_url).content == PDF
    assert ann.get(agent_url).content == PDF
    assert_file_headers(ann.get(agent_url), "application/pdf", "attachment", "receipt.pdf")

    # another chatter, with a chat of their own in the same queue, or none, or in another queue
    other = people.chatter(server)
    other.start("Olga")
    for response in (other.get(chatter_url), other.get(agent_url)):
        assert response.status_code in (403, 404) or response.url.startswith(server.url + "/login")
        assert PDF not in response.content
    assert other.get(chatter_url).status_code == 404
    for stranger in (people.chatter(server), people.chatter(server, "sales")):
        stranger.start("Stan")
        response = stranger.get(f"/chat/{stranger.slug}/files/{stored['token']}", allow_redirects=False)
        assert response.status_code in (403, 404) and PDF not in response.content

    # an anonymous request: sent to /login for the agents' URL, refused for the chatters'
    anonymous = people.browser(server)
    response = anonymous.get(agent_url, allow_redirects=False)
    assert response.status_code in (301, 302, 303, 307)
    assert response.headers["Location"].split("?")[0] in ("/login", server.url + "/login")
    assert PDF not in response.content
    assert anonymous.get(chatter_url, allow_redirects=False).status_code in (403, 404)

    # agents not in the chat (logged on or not, same queue or another), and a supervisor
    ben = people.agent(server, "ben", "Support desk")
    dan = people.agent(server, "dan", "Sales desk")
    cat = people.agent(server, "cat")
    for agent in (ben, dan, cat):
        response = agent.get(agent_url, allow_redirects=False)
        assert response.status_code == 404 and PDF not in response.content, agent.username
    sue = people.agent(server, "sue")
    assert sue.get(agent_url).content == PDF
    assert sue.get("/files/not-a-token").status_code == 404

    # once the chat has ended, the agent who was in it and the chatter still may; nobody else
    assert carl.end().status_code == 200
    assert ann.get(agent_url).content == PDF
    assert carl.get(chatter_url).content == PDF
    assert ben.get(agent_url).status_code == 404


def test_an_agent_offered_the_chat_may_see_its_files_until_they_reject_it(server, people):
    ben = people.agent(server, "ben", "Support desk")
    carl = people.chatter(server)
    chat_id = carl.start("Carl")
    assert chatter_sends(carl, "while I wait", [("receipt.pdf", PDF)]).status_code == 204
    [stored] = attachments(server)
    offer = wait_for(lambda: ben.offer_id(chat_id), message="the offer to Ben")
    assert ben.get(f"/files/{stored['token']}").content == PDF  # his offer tab shows it
    assert ben.post(f"/offers/{offer}/reject").status_code in (200, 204)
    assert ben.get(f"/files/{stored['token']}").status_code == 404


def test_private_files_are_for_agents_only(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    chatter_socket = carl.connect()
    sue = people.agent(server, "sue")
    response = agent_sends(
        ann, chat_id, "internal note", [("internal-notes.txt", b"for agents\n")], private=True
    )
    assert response.status_code == 204
    assert agent_sends(ann, chat_id, "for you", [("public-guide.pdf", PDF)]).status_code == 204
    private, public = attachments(server)
    assert (private["private"], public["private"]) == (1, 0)

    assert ann.get(f"/files/{private['token']}").content == b"for agents\n"
    assert sue.get(f"/files/{private['token']}").content == b"for agents\n"
    assert carl.get(f"/chat/support/files/{private['token']}").status_code == 404
    assert carl.get(f"/chat/support/files/{public['token']}").content == PDF

    frames = chatter_socket.wait_for_text("public-guide.pdf")
    for html in (frames, carl.page().text):
        assert "public-guide.pdf" in html
        assert "internal-notes.txt" not in html and private["token"] not in html
        assert "internal note" not in html
    assert "internal-notes.txt" in ann.console()

    # the organisation's log shows both, the private one marked as such
    log = sue.get(f"/logs/{chat_id}").text
    articles = re.findall(r'<article[^>]*class="([^"]*)"[^>]*>(.*?)</article>', log, re.DOTALL)
    marked = {}
    for classes, body in articles:
        for name in ("internal-notes.txt", "public-guide.pdf"):
            if name in body:
                marked[name] = "private" in classes.split() and "Private" in body
    assert marked == {"internal-notes.txt": True, "public-guide.pdf": False}


def test_agents_send_files_that_the_chatter_sees_as_thumbnails_and_links(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    chatter_socket = carl.connect()
    uploads = [("map.png", png_bytes()), ("terms.pdf", PDF), ("steps.txt", b"1. restart\n" * 200)]
    assert agent_sends(ann, chat_id, "", uploads).status_code == 204  # files without text are a message
    png, pdf, txt = attachments(server)
    frames = chatter_socket.wait_for_text("steps.txt")
    for html in (frames, carl.page().text):
        link = f"/chat/support/files/{png['token']}"
        assert (
            f'<a href="{link}" target="_blank" rel="noopener" class="thumb"><img src="{link}" alt="map.png"'
            in html
        )
        assert re.search(rf">terms\.pdf</a> <span[^>]*>PDF, {len(PDF)} bytes</span>", html)
        assert re.search(r">steps\.txt</a> <span[^>]*>text, 2\.1 KB</span>", html)
        assert f"/files/{pdf['token']}" in html and f"/files/{txt['token']}" in html
    assert_file_headers(
        carl.get(f"/chat/support/files/{txt['token']}"),
        "text/plain; charset=utf-8",
        "attachment",
        "steps.txt",
    )


def test_a_message_without_text_or_files_is_still_refused(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    response = carl.post("/chat/support/messages", {"text": "  "}, files=[("files", ("", b""))])
    assert response.status_code == 400 and "Write a message first." in response.text
    assert attachments(server) == [] and stored_files(server) == []


# --- the transcript and deletion, over a real server -------------------------------------------------


def test_the_transcript_names_public_attachments_only(server, people):
    ann, carl, chat_id = chat_with_ann(server, people)
    assert (
        chatter_sends(carl, "here is the bill", [("bill.pdf", PDF), ("photo.png", png_bytes())]).status_code
        == 204
    )
    assert (
        agent_sends(ann, chat_id, "just for us", [("secret-plan.txt", b"plan\n")], private=True).status_code
        == 204
    )
    assert agent_sends(ann, chat_id, "", [("answer.txt", b"answer\n")]).status_code == 204
    assert carl.end().status_code == 200
    transcript = carl.get("/chat/support/transcript")
    assert transcript.status_code == 200
    text = transcript.text
    for name in ("bill.pdf", "photo.png", "answer.txt"):
        assert name in text, text
    assert "secret-plan.txt" not in text and "just for us" not in text
    assert text.index("here is the bill") < text.index("bill.pdf") < text.index("answer.txt")
    assert not [t for t in (a["token"] for a in attachments(server)) if t in text]


def test_deleting_a_chatters_data_deletes_their_files_from_disk(server, people):
    ann, carl, chat_id = chat_with_ann(server, people, email="pam@example.com")
    assert (
        chatter_sends(carl, "mine", [("mine.txt", b"mine\n"), ("mine.png", png_bytes())]).status_code == 204
    )
    assert agent_sends(ann, chat_id, "", [("note.txt", b"note\n")], private=True).status_code == 204
    other = people.chatter(server)
    other_id = other.start("Otto", "otto@example.com")
    ann.accept(other_id)
    assert chatter_sends(other, "his", [("his.txt", b"his\n")]).status_code == 204
    stored = attachments(server)
    assert len(stored) == 4 and len(stored_files(server)) == 4
    assert carl.end().status_code == 200

    command = [sys.executable, "-m", "cli", "delete-chatter", "PAM@example.com", "--data", str(server.folder)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Deleted 1 chat" in result.stdout
    his = [a["token"] for a in stored if a["chat_id"] == other_id]
    assert stored_files(server) == his
    assert [a["name"] for a in attachments(server)] == ["his.txt"]
    assert carl.get(f"/chat/support/files/{stored[0]['token']}").status_code == 403  # the chat is gone
    assert ann.get(f"/files/{stored[0]['token']}").status_code == 404
    assert other.get(f"/chat/support/files/{his[0]}").content == b"his\n"
