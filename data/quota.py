"""Room for attachments: a quota per chat, and a floor of free disk that uploads never go below.

The floor keeps room for the database and its journal, so a disk filled with files never stops
messages from being stored; /healthz reports the server unhealthy below it.
"""

import shutil
from dataclasses import dataclass

from peewee import fn

from data import files
from data.models import Attachment

MB = 1024 * 1024


@dataclass
class QuotaSettings:
    per_chat: int = 100 * MB  # bytes of files one chat may hold
    min_free: int = 500 * MB  # bytes of disk uploads must leave free


settings = QuotaSettings()


class NoRoom(files.FileRefused):
    """Files that would go past the chat's quota or below the free-disk floor."""


def check_room(chat_id, incoming):
    """Raise NoRoom unless `incoming` more bytes of files fit in the chat and on the disk."""
    held = (
        Attachment.select(fn.COALESCE(fn.SUM(Attachment.size), 0)).where(Attachment.chat == chat_id).scalar()
    )
    if held + incoming > settings.per_chat:
        raise NoRoom(
            f"A chat can hold at most {settings.per_chat // MB} MB of files, and this one holds "
            f"{held / MB:.1f} MB already."
        )
    if free_disk() - incoming < settings.min_free:
        raise NoRoom("The server is running out of disk space, so it takes no files for now.")


def free_disk():
    """Bytes free on the disk that holds the files (and the database beside them)."""
    return shutil.disk_usage(files.folder).free


def disk_low():
    return free_disk() < settings.min_free
