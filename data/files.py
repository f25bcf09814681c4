"""Attachments: which files are allowed, judged by their content, and where they live on disk."""

import codecs
import os
import re
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
    "image/avif": (".avif",),
    # what phones take: HEIC is HEIF with HEVC pictures, and both endings carry either
    "image/heic": (".heic", ".heif", ".hif"),
    "image/heif": (".heic", ".heif", ".hif"),
    "application/pdf": (".pdf",),
    "text/plain": (".txt", ".text", ".log", ".csv", ".md"),
}
ALIASES = {"image/x-ms-bmp": "image/bmp", "image/x-bmp": "image/bmp"}
NAMES = {
    "application/pdf": "a PDF",
    "text/plain": "a text file",
    "image/svg+xml": "an SVG image",
    "image/avif": "an AVIF image",
}

# HEIF and AVIF files are ISO base media files: the brands in their first box (`ftyp`) say which
AVIF_BRANDS = {b"avif", b"avis"}
HEIC_BRANDS = {b"heic", b"heix"}
HEIF_BRANDS = {b"mif1", b"msf1", b"heif"} | HEIC_BRANDS | AVIF_BRANDS  # the first brand is one of these

# text in a legacy encoding: any bytes decode, so a control character is what tells binary apart
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
NUL = re.compile(r"\x00")

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
    expected = [t for t, endings in ALLOWED.items() if ending in endings]
    if not expected:
        raise FileRefused(
            f"{name}: only text, PDF and image files (PNG, JPEG, GIF, WebP, BMP, TIFF, SVG, HEIC, AVIF)"
            " are allowed."
        )
    if expected == ["text/plain"]:
        found = "text/plain" if text_encoding(upload.stream) else "binary"
    else:
        found = _sniff(upload.stream)
    if found == "image/svg+xml" and not _is_utf8(upload.stream):
        found = "binary"  # SVG is XML text: an executable that merely ends in </svg> is not one
    if found not in expected:
        what = NAMES.get(expected[0], f"a {expected[0].split('/')[1].upper()} image")
        raise FileRefused(f"{name}: the content is not {what}, as its name says.")
    return found


def _sniff(stream):
    # the start and the end of the file: some types are told by their last bytes (an SVG's </svg>)
    head = stream.read(SNIFF_BYTES)
    stream.seek(max(len(head), stream.seek(0, os.SEEK_END) - SNIFF_BYTES))
    tail = stream.read()
    stream.seek(0)
    heif = _heif_type(head)
    if heif:
        return heif  # puremagic tells these apart only in part (mif1 is a "3GP" to it)
    try:
        matches = puremagic.magic_string(head + tail)
    except puremagic.PureError:
        matches = []
    for match in matches:
        mime = ALIASES.get(match.mime_type, match.mime_type)
        if mime in ALLOWED:
            return mime
    return matches[0].mime_type if matches else "unknown"


def _heif_type(head):
    """image/avif, image/heic or image/heif for a file whose `ftyp` box names a HEIF brand first."""
    size = int.from_bytes(head[:4], "big")
    if head[4:8] != b"ftyp" or not 16 <= size <= len(head) or size % 4 or head[8:12] not in HEIF_BRANDS:
        return None  # an MP4 video, say, names other brands first
    brands = {head[8:12]} | {head[at : at + 4] for at in range(16, size, 4)}
    if brands & AVIF_BRANDS:
        return "image/avif"
    return "image/heic" if brands & HEIC_BRANDS else "image/heif"


def text_encoding(stream):
    """How a text file is written: "utf-8", "utf-16" (which starts with its byte order mark) or
    "cp1252" (Windows' Latin-1); None for a file that is not text."""
    if _is_utf8(stream):
        return "utf-8"
    start = stream.read(2)
    stream.seek(0)
    encoding = "utf-16" if start in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "cp1252"
    return encoding if _decodes(stream, encoding, CONTROL) else None


def _is_utf8(stream):
    """UTF-8 without NUL bytes throughout."""
    return _decodes(stream, "utf-8", NUL)


def _decodes(stream, encoding, forbidden):
    """Whether the whole stream decodes from `encoding` without a character `forbidden` matches."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := stream.read(1024 * 1024):
            if forbidden.search(decoder.decode(chunk)):
                return False
        return not forbidden.search(decoder.decode(b"", final=True))
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
                _copy(upload.stream, mime, out)
                size = out.tell()
            saved.append(
                {"token": token, "name": display_name(upload.name), "content_type": mime, "size": size}
            )
    except OSError:
        delete(f["token"] for f in saved)
        raise
    return saved


def _copy(stream, mime, out):
    """Copy a checked file; text goes to UTF-8, which is how it is served (text/plain; charset=utf-8)."""
    stream.seek(0)
    encoding = text_encoding(stream) if mime == "text/plain" else None
    if encoding in (None, "utf-8"):
        shutil.copyfileobj(stream, out, 1024 * 1024)
        return
    reader = codecs.getreader(encoding)(stream)  # UTF-16's byte order mark is read, not copied
    while text := reader.read(1024 * 1024):
        out.write(text.encode("utf-8"))


def path_of(token):
    return os.path.join(folder, token)


def delete(tokens):
    for token in tokens:
        try:
            os.remove(path_of(token))
        except FileNotFoundError:
            pass
