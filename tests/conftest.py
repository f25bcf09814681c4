"""Fixtures shared by every test: a fresh SQLite file per test."""

import pytest

from data import routing
from data.db import open_database


@pytest.fixture
def database(tmp_path):
    """A new database file in a temporary folder, bound to every model."""
    database = open_database(str(tmp_path / "data"))
    database.connect(reuse_if_open=True)
    yield database
    database.close()
    database.close_all()


@pytest.fixture(autouse=True)
def routing_settings():
    """Each test starts with the default routing settings and may change them freely."""
    saved = routing.settings
    routing.settings = routing.Settings()
    yield routing.settings
    routing.settings = saved
