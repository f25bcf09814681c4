"""Attachments in the browser: "Attach files", drag and drop, paste, the pending list, refusals that keep
the typed text, the progress bar of a large upload and "Cancel upload", thumbnails and file links."""

import base64
import re
import sqlite3
from contextlib import closing

from conftest import wait_for
from playwright.sync_api import expect
from samples import AVIF, HEIC, PDF, png_bytes

from .conftest import accept, message_box, messages, say

MB = 1024 * 1024


def stored(server, sql):
    """What the server stored, read from its database whatever the pages say."""
    with closing(sqlite3.connect(server.folder / "parley.db", timeout=10)) as db:
        return db.execute(sql).fetchall()


def stored_files(server):
    folder = server.folder / "files"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def chatting(server, agent_page, chatter_page, name="Carl"):
    """Ann's console and a chatter's page in an accepted chat: (console, chatter page, chat panel)."""
    console = agent_page(server, "ann")
    chatter = chatter_page(server, name)
    chat = accept(console, name)
    expect(chatter.get_by_text("chatting with")).to_be_visible()
    return console, chatter, chat


def choose_files(page, where, uploads):
    """Click "Attach files" in `where` and pick `uploads` ([(name, mime, bytes)] or paths) in the chooser."""
    with page.expect_file_chooser() as chosen:
        where.get_by_role("button", name="Attach files").click()
    chooser = chosen.value
    assert chooser.is_multiple()
    chooser.set_files(
        [u if not isinstance(u, tuple) else {"name": u[0], "mimeType": u[1], "buffer": u[2]} for u in uploads]
    )


def pending(where):
    return where.get_by_role("list", name="Files to send")


def attached(where, text):
    """The "Attached files" list of the message in the log of `where` that holds `text`."""
    article = messages(where).get_by_role("article").filter(has_text=text)
    expect(article).to_have_count(1)
    return article.get_by_role("list", name="Attached files")


def drawn(files, name, width):
    """The thumbnail `name` in `files`, visible and drawn from its image, `width` pixels wide."""
    thumbnail = files.get_by_role("img", name=name)
    expect(thumbnail).to_be_visible()
    wait_for(
        lambda: thumbnail.evaluate("img => img.complete && img.naturalWidth") == width,
        message=f"{name} drawn",
    )
    return thumbnail


# a File built in the page, as a drop or a paste carries it
MAKE_FILE = """
  function makeFile(spec) {
    var bytes = Uint8Array.from(atob(spec.data), function (c) { return c.charCodeAt(0); });
    return new File([bytes], spec.name, { type: spec.type });
  }
"""


def file_spec(name, mime, data):
    return {"name": name, "type": mime, "data": base64.b64encode(data).decode()}


def drop(page, selector, *specs):
    """Drag files from the desktop onto the element `selector`: dragover (which must be accepted), drop."""
    page.evaluate(
        "([selector, specs]) => {"
        + MAKE_FILE
        + """
          var transfer = new DataTransfer();
          specs.forEach(function (s) { transfer.items.add(makeFile(s)); });
          var target = document.querySelector(selector);
          var init = { dataTransfer: transfer, bubbles: true, cancelable: true };
          var over = new DragEvent("dragover", init);
          target.dispatchEvent(over);
          if (!over.defaultPrevented) throw new Error(selector + " does not accept a drop");
          target.dispatchEvent(new DragEvent("drop", init));
        }""",
        [selector, list(specs)],
    )


def test_chosen_files_go_with_the_message_as_thumbnails_and_links(server, agent_page, chatter_page):
    console, carl, chat = chatting(server, agent_page, chatter_page)
    image = png_bytes(40, 30)
    choose_files(carl, carl, [("map.png", "image/png", image), ("terms.pdf", "application/pdf", PDF)])
    expect(pending(carl).get_by_role("listitem")).to_have_count(2)
    expect(pending(carl)).to_contain_text("map.png")
    expect(pending(carl)).to_contain_text("terms.pdf")
    say(carl, "Here are the map and the terms")
    expect(pending(carl)).to_be_hidden()  # sent: the pending list is empty again

    for where in (chat, carl):
        files = attached(where, "Here are the map and the terms")
        # the image: a thumbnail with its name as alt text, in a link to the image itself
        thumbnail = drawn(files, "map.png", 40)
        link = files.get_by_role("link", name="map.png")
        src = thumbnail.get_attribute("src")
        assert link.get_attribute("href") == src and link.get_attribute("target") == "_blank"
        # another file: a link with its name, type and size
        expect(files.get_by_role("link", name="terms.pdf")).to_be_visible()
        expect(files.get_by_role("listitem").filter(has_text="terms.pdf")).to_contain_text(
            f"PDF, {len(PDF)} bytes"
        )

    # a click on the thumbnail opens the image larger, on its own
    with carl.expect_popup() as opened:
        attached(carl, "Here are the map and the terms").get_by_role("img", name="map.png").click()
    larger = opened.value
    larger.wait_for_load_state()
    assert "/files/" in larger.url
    expect(larger.locator("img")).to_be_visible()
    assert larger.locator("img").evaluate("img => img.naturalWidth") == 40

    # the agent attaches files too, here with text; the chatter gets them
    choose_files(console, chat, [("steps.txt", "text/plain", b"1. restart\n" * 200)])
    say(chat, "And the steps")
    files = attached(carl, "And the steps")
    expect(files.get_by_role("link", name="steps.txt")).to_be_visible()
    expect(files).to_contain_text("text, 2.1 KB")
    expect(files.get_by_role("img")).to_have_count(0)


def test_phone_photos_avif_as_a_thumbnail_heic_as_a_download(server, agent_page, chatter_page):
    console, carl, chat = chatting(server, agent_page, chatter_page)
    choose_files(carl, carl, [("IMG_1.avif", "image/avif", AVIF), ("IMG_2.HEIC", "image/heic", HEIC)])
    say(carl, "Two photos")
    for where in (chat, carl):
        files = attached(where, "Two photos")
        # Chromium draws AVIF: a thumbnail like any other image
        drawn(files, "IMG_1.avif", 40)
        # it does not draw HEIC: a download, with a file icon beside the name, its type and size
        heic = files.get_by_role("listitem").filter(has_text="IMG_2.HEIC")
        expect(heic.get_by_role("link", name="IMG_2.HEIC")).to_have_attribute("download", "")
        expect(heic).to_contain_text(f"HEIC image, {len(HEIC)} bytes")
        expect(heic.locator(".file-icon")).to_be_visible()
        expect(heic.get_by_role("img")).to_have_count(0)  # the icon is decoration: the name says it all


def test_a_refused_file_keeps_the_typed_text_and_reaches_nobody(server, agent_page, chatter_page, tmp_path):
    console, carl, chat = chatting(server, agent_page, chatter_page)
    box = message_box(carl)
    alert = carl.get_by_role("alert")

    # the server judges the content: an executable named .pdf is refused, naming it
    executable = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\0" * 64
    choose_files(carl, carl, [("invoice.pdf", "application/pdf", executable)])
    box.fill("My invoice is attached")
    box.press("Enter")
    expect(alert).to_contain_text("Nothing was sent. invoice.pdf: the content is not a PDF")
    expect(box).to_have_value("My invoice is attached")
    expect(pending(carl)).to_contain_text("invoice.pdf")  # still there, to remove and send again
    pending(carl).get_by_role("button", name="Remove invoice.pdf").click()
    expect(pending(carl)).to_be_hidden()

    # six files: refused in the page already, before any upload
    choose_files(carl, carl, [(f"n{i}.txt", "text/plain", b"note\n") for i in range(6)])
    box.press("Enter")
    expect(alert).to_contain_text("at most 5 files")
    expect(box).to_have_value("My invoice is attached")
    for i in range(6):
        pending(carl).get_by_role("button", name=f"Remove n{i}.txt").click()
    expect(pending(carl)).to_be_hidden()

    # one byte over 20 MB: refused in the page too, naming the file
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"x" * (20 * MB + 1))
    choose_files(carl, carl, [str(huge)])
    box.press("Enter")
    expect(alert).to_have_text("Nothing was sent. huge.txt: the file is larger than 20 MB.")
    expect(box).to_have_value("My invoice is attached")
    pending(carl).get_by_role("button", name="Remove huge.txt").click()

    # and a wrong type chosen by the agent: the agent's text stays too
    choose_files(console, chat, [("tool.exe", "application/octet-stream", executable)])
    message_box(chat).fill("Run this tool")
    message_box(chat).press("Enter")
    expect(chat.get_by_role("alert")).to_contain_text("tool.exe: only text, PDF and image files")
    expect(message_box(chat)).to_have_value("Run this tool")

    # nobody ever received any of it: the next message is the chatter's first
    say(carl, "Sending it later")
    expect(messages(chat)).to_contain_text("Sending it later")
    for where in (chat, carl):
        expect(messages(where)).not_to_contain_text("invoice")
        expect(messages(where)).not_to_contain_text("Run this tool")
    assert stored(server, "select count(*) from attachment") == [(0,)]
    assert stored_files(server) == []


def throttle_uploads(page, bytes_per_second):
    """Make the page's uploads slow enough to watch (Chromium's network emulation)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second},
    )
    return cdp


def test_a_large_upload_shows_its_progress_and_can_be_cancelled(server, agent_page, chatter_page, tmp_path):
    console, carl, chat = chatting(server, agent_page, chatter_page)
    large = tmp_path / "server-log.txt"
    large.write_bytes(b"12:00:00 everything is fine\n" * (15 * MB // 28))
    progress = carl.get_by_role("progressbar", name="Upload progress")
    expect(progress).to_be_hidden()
    throttle_uploads(carl, 2_000_000)

    # cancelled half way: nothing is sent, the text stays
    choose_files(carl, carl, [str(large)])
    say_later = message_box(carl)
    say_later.fill("The log of last night")
    say_later.press("Enter")
    expect(progress).to_be_visible()
    carl.wait_for_function("() => document.querySelector('.upload progress').value > 0")
    carl.get_by_role("button", name="Cancel upload").click()
    expect(progress).to_be_hidden()
    expect(carl.get_by_role("alert")).to_contain_text("Upload cancelled; nothing was sent.")
    expect(say_later).to_have_value("The log of last night")
    expect(pending(carl)).to_contain_text("server-log.txt")

    # sent again, faster, to the end: the bar shows while it goes, then the file is in the log
    throttle_uploads(carl, 8_000_000)
    say_later.press("Enter")
    expect(progress).to_be_visible()
    carl.wait_for_function("() => document.querySelector('.upload progress').value > 0")
    expect(say_later).to_have_value("", timeout=30_000)
    expect(progress).to_be_hidden()
    files = attached(chat, "The log of last night")
    expect(files.get_by_role("link", name="server-log.txt")).to_be_visible()
    expect(files).to_contain_text("text, 15.0 MB")

    # exactly one message and one file were stored: the cancelled upload left nothing behind
    assert stored(server, "select text, file_count from message where sender = 'chatter'") == [
        ("The log of last night", 1)
    ]
    [(token, size)] = stored(server, "select token, size from attachment")
    assert size == large.stat().st_size
    assert stored_files(server) == [token]


def test_dropped_and_pasted_files_go_to_the_pending_list(server, agent_page, chatter_page):
    console, carl, chat = chatting(server, agent_page, chatter_page)
    notes = file_spec("notes.txt", "text/plain", b"dropped notes\n")
    guide = file_spec("guide.pdf", "application/pdf", PDF)
    # a drop anywhere on the chat: its composer takes the files
    drop(carl, "[role=log]", notes, guide)
    expect(pending(carl).get_by_role("listitem")).to_have_count(2)
    expect(pending(carl)).to_contain_text("notes.txt")
    expect(pending(carl)).to_contain_text("guide.pdf")

    # a pasted image joins them
    paste = (
        "(spec) => {"
        + MAKE_FILE
        + """
          var transfer = new DataTransfer();
          transfer.items.add(makeFile(spec));
          var box = document.querySelector("form[data-composer] textarea");
          box.focus();
          box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
        }"""
    )
    carl.evaluate(paste, file_spec("image.png", "image/png", png_bytes(40, 30)))
    expect(pending(carl).get_by_role("listitem")).to_have_count(3)
    expect(pending(carl)).to_contain_text("image.png")
    # one removed again before sending
    pending(carl).get_by_role("button", name="Remove guide.pdf").click()
    expect(pending(carl).get_by_role("listitem")).to_have_count(2)

    # files alone make a message (Enter sends with an empty box)
    message_box(carl).press("Enter")
    expect(pending(carl)).to_be_hidden()
    files = chat.get_by_role("list", name="Attached files")
    expect(files.get_by_role("link", name="notes.txt")).to_be_visible()
    expect(files.get_by_role("img", name="image.png")).to_be_visible()
    expect(files.get_by_role("link", name="guide.pdf")).to_have_count(0)

    # and the agent's console takes a drop on the chat's panel, into that chat's composer
    drop(
        console,
        "[role=tabpanel]:not([hidden]) [role=log]",
        file_spec("answer.txt", "text/plain", b"the answer\n"),
    )
    expect(pending(chat)).to_contain_text("answer.txt")
    message_box(chat).press("Enter")
    expect(attached(carl, "answer.txt").get_by_role("link", name="answer.txt")).to_be_visible()


def test_private_files_never_reach_the_chatter_page(server, agent_page, chatter_page):
    console, carl, chat = chatting(server, agent_page, chatter_page)
    chat.get_by_role("button", name="Private").click()
    choose_files(console, chat, [("internal.txt", "text/plain", b"for agents only\n")])
    say(chat, "Note for colleagues")
    expect(attached(chat, "Note for colleagues").get_by_role("link", name="internal.txt")).to_be_visible()
    chat.get_by_role("button", name="Private").click()
    say(chat, "Back to you, Carl")
    expect(messages(carl)).to_contain_text("Back to you, Carl")
    for page in (carl, carl.context.new_page()):
        if page is not carl:
            page.goto(carl.url)
        expect(messages(page)).to_contain_text("Back to you, Carl")
        assert "internal.txt" not in page.content()
        assert "Note for colleagues" not in page.content()
    [(token,)] = stored(server, "select token from attachment where private")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
    assert carl.request.get(f"{server.url}/chat/support/files/{token}").status == 404


def test_a_file_dropped_outside_a_chat_goes_to_the_chat_shown_never_a_hidden_one(
    server, agent_page, chatter_page
):
    console, carl, carl_chat = chatting(server, agent_page, chatter_page, "Carl")
    dora = chatter_page(server, "Dora")
    dora_chat = accept(console, "Dora")
    expect(dora.get_by_text("chatting with")).to_be_visible()
    expect(dora_chat).to_be_visible()
    expect(carl_chat).to_be_hidden()

    # dropped on the tab list, outside both panels: Dora's chat is the one the agent sees
    drop(console, "[role=tablist]", file_spec("for-dora.txt", "text/plain", b"for Dora only\n"))
    expect(pending(dora_chat)).to_contain_text("for-dora.txt")
    expect(pending(carl_chat)).to_be_hidden()
    message_box(dora_chat).press("Enter")
    expect(attached(dora, "for-dora.txt").get_by_role("link", name="for-dora.txt")).to_be_visible()
    expect(messages(carl)).not_to_contain_text("for-dora.txt")
    assert stored(server, "select c.chatter_name from attachment a join chat c on c.id = a.chat_id") == [
        ("Dora",)
    ]
