"""Files as a user would attach them: real PNG and AVIF images, a minimal PDF, a HEIC photo's start."""

import base64
import struct
import zlib

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def png_bytes(width=4, height=3):
    """A real PNG image (a red rectangle)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + b"\xdd\x22\x22" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# a 40x30 blue AVIF image, as Pillow 13 (libavif) wrote it
AVIF = base64.b64decode(
    "AAAAIGZ0eXBhdmlmAAAAAGF2aWZtaWYxbWlhZk1BMUIAAADrbWV0YQAAAAAAAAAhaGRscgAAAAAAAAAAcGljdAAAAAAAAAAA"
    "AAAAAAAAAAAOcGl0bQAAAAAAAQAAAB5pbG9jAAAAAEQAAAEAAQAAAAEAAAETAAAAKgAAAChpaW5mAAAAAAABAAAAGmluZmUC"
    "AAAAAAEAAGF2MDFDb2xvcgAAAABqaXBycAAAAEtpcGNvAAAAFGlzcGUAAAAAAAAAKAAAAB4AAAAQcGl4aQAAAAADCAgIAAAA"
    "DGF2MUOBAAwAAAAAE2NvbHJuY2x4AAEADQAGgAAAABdpcG1hAAAAAAAAAAEAAQQBAoMEAAAAMm1kYXQSAAoJGBUn60QENBoQ"
    "MhsZR4eGIYeeeeaAAADcrAEDFEvvrl4sg9OuA5g="
)


def iso_media(*brands):
    """The start of an ISO base media file (HEIF, AVIF, MP4): its `ftyp` box naming `brands`, the
    first the major one, then an empty `meta` box. Enough to be judged by; no picture to draw."""
    body = brands[0] + b"\0\0\0\0" + b"".join(brands)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + struct.pack(">I", 12) + b"meta" + b"\0" * 4


HEIC = iso_media(b"heic", b"mif1", b"heic")  # as an iPhone writes it
NORWEGIAN = "Blåbærsyltetøy på brødskiva.\r\nÆØÅ æøå\n"
WINDOWS_ONLY = "Prisen er 12 € – «god»\n"  # € and – are in Windows-1252, not in Latin-1
