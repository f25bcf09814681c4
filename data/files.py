"""Attachments: which files are allowed, judged by their content, and where they live on disk."""

import codecs
import os
import secrets
import shutil
from dataclasses import dataclass

import puremagic

MAX_FILES = 5
MAX_SIZE = 20 * 1024 * 1024
SNIFF_BYTES = 64 * 1024

# what the content says it is -> the file name endings that may carry it
ALLOWED = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/bmp": (".bmp",),
    "image/tiff": (".tif", ".tiff"),
    "image/svg+xml": (".svg",),
    "application/pdf": (".pdf",),
    "text/plain": (".txt", ".text", ".log", ".csv", ".md"),
}
ALIASES = {"image/x-ms-bmp": "image/bmp", "image/x-bmp": "image/bmp"}
NAMES = {
    "application/pdf": "a PDF",
    "text/plain": "a text file",
    "image/svg+xml": "an SVG image",
}

folder = None  # set by configure(): DATA/files


class FileRefused(Exception):
    """A file that may not be sent; the text names the file and the reason."""


@dataclass
class Upload:
    """A file as received, still in a temporary stream."""

    name: str
    stream: object  # a readable, seekable binary file

    @property
    def size(self):
        self.stream.seek(0, os.SEEK_END)
        size = self.stream.tell()
        self.stream.seek(0)
        return size


def configure(data_folder):
    global folder
    folder = os.path.join(data_folder, "files")
    os.makedirs(folder, exist_ok=True)


def display_name(name):
    """The original name as display text: no folder, no control characters, no leading dot, 200 at most."""
    # Werkzeug 3.1.9 and later unescape a backslash in a quoted name: `..\\a\\b.txt` may come as `....ab.txt`
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(". ")
    return name[:200] or "file"


def check(uploads):
    """Judge every upload before any is stored; return their content types, or raise FileRefused."""
    if len(uploads) > MAX_FILES:
        raise FileRefused(f"You can send at most {MAX_FILES} files at once; you chose {len(uploads)}.")
    return [content_type(upload) for upload in uploads]


def content_type(upload):
    """The type of an upload judged from its content, which must agree with its name."""
    name = display_name(upload.name)
    if upload.size > MAX_SIZE:
        raise FileRefused(f"{name}: the file is larger than 20 MB.")
    if upload.size == 0:
        raise FileRefused(f"{name}: the file is empty.")
    ending = os.path.splitext(name)[1].lower()
    expected = next((t for t, endings in ALLOWED.items() if ending in endings), None)
    if expected is None:
        raise FileRefused(
            f"{name}: only text, PDF and image files (PNG, JPEG, GIF, WebP, BMP, TIFF, SVG) are allowed."
        )
    found = (
        ("text/plain" if _is_text(upload.stream) else "binary")
        if expected == "text/plain"
        else _sniff(upload.stream)
    )
    if found == "image/svg+xml" and not _is_text(upload.stream):
        found = "binary"  # SVG is XML text: an executable that merely ends in </svg> is not one
    if found != expected:
        what = NAMES.get(expected, f"a {expected.split('/')[1].upper()} image")
        raise FileRefused(f"{name}: the content is not {what}, as its name says.")
    return found


def _sniff(stream):
    # the start and the end of the file: some types are told by their last bytes (an SVG's </svg>)
    head = stream.read(SNIFF_BYTES)
    stream.seek(max(len(head), stream.seek(0, os.SEEK_END) - SNIFF_BYTES))
    tail = stream.read()
    stream.seek(0)
    try:
        matches = puremagic.magic_string(head + tail)
    except puremagic.PureError:
        matches = []
    for match in matches:
        mime = ALIASES.get(match.mime_type, match.mime_type)
        if mime in ALLOWED:
            return mime
    return matches[0].mime_type if matches else "unknown"


def _is_text(stream):
    """UTF-8 without NUL bytes throughout: what we accept as plain text."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(1024 * 1024):
            if b"\0" in chunk:
                return False
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False
    finally:
        stream.seek(0)


def save(uploads, types):
    """Copy checked uploads into the files folder under random tokens; return their descriptions."""
    saved = []
    try:
        for upload, mime in zip(uploads, types, strict=True):
            token = secrets.token_urlsafe(24)
            with open(path_of(token), "wb") as out:
                upload.stream.seek(0)
                shutil.copyfileobj(upload.stream, out, 1024 * 1024)
            saved.append(
                {"token": token, "name": display_name(upload.name), "content_type": mime, "size": upload.size}
            )
    except OSError:
        delete(f["token"] for f in saved)
        raise
    return saved


def path_of(token):
    return os.path.join(folder, token)


def delete(tokens):
    for token in tokens:
        try:
            os.remove(path_of(token))
        except FileNotFoundError:
            pass
