"""Parley built as a wheel and installed in a fresh venv works on its own, away from the checkout."""

import fnmatch
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest
import requests
from conftest import ROOT, Parley

DEPENDENCIES = ("flask", "flask_sock", "flask_login", "peewee", "gunicorn", "gevent", "puremagic", "jwt")
# prints where each module named on the command line was imported from
WHERE_FROM = """
import importlib, json, sys
modules = {name: importlib.import_module(name) for name in sys.argv[1:]}
# a folder without Python (static, partials) is a namespace package: the first of its paths is what
# a lookup finds (the machine's editable install of the checkout may add itself after it)
print(json.dumps({name: [m.__file__] if m.__file__ else list(m.__path__)[:1] for name, m in modules.items()}))
"""


def run(command, **options):
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **options)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def source_files():
    """The checkout's files as git would commit them, by path."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]  # not deleted


def product():
    """The modules and folders pyproject.toml says the wheel holds: {name: its files}."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {module: [f"{module}.py"] for module in setup["py-modules"]}
    for name in source_files():
        top = name.split("/")[0]
        if "/" in name and any(fnmatch.fnmatch(top, p) for p in setup["packages"]["find"]["include"]):
            found.setdefault(top, []).append(name)
    return found


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """The wheel `pip wheel` builds from a copy of the checkout's files (a stale build/ stays out)."""
    work = tmp_path_factory.mktemp("wheel")
    for name in source_files():
        (work / "source" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, work / "source" / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work, work / "source"])
    (built,) = work.glob("parley-*.whl")
    return built


@pytest.fixture(scope="session")
def venv(wheel):
    """A fresh venv with Parley installed from the wheel."""
    venv = wheel.parent / "venv"
    # the machine's packages are visible, so no dependency is downloaded (--no-index): each one
    # must be there already, and Parley itself can only come from the wheel
    run([sys.executable, "-m", "venv", "--system-site-packages", venv])
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-index", wheel])
    return venv


class Installed(Parley):
    """`parley` as the wheel installed it, run in a folder outside the checkout."""

    def __init__(self, venv, folder):
        super().__init__(folder / "data")
        self.cwd = folder
        self.parley = venv / "bin" / "parley"
        self.env.pop("PYTHONPATH", None)

    def command(self, *args):
        return [self.parley, *args]


@pytest.fixture
def installed(venv, tmp_path):
    """The installed Parley serving tests/org.toml, loaded by its own `parley load`."""
    server = Installed(venv, tmp_path)
    server.load()
    yield server.start()
    server.stop()
    assert not server.errors(), server.log.read_text()


def test_the_wheel_holds_every_file_of_the_product(wheel):
    expected = {name for files in product().values() for name in files}
    with zipfile.ZipFile(wheel) as built:
        assert expected - set(built.namelist()) == set()


def test_parley_comes_from_the_wheel_and_its_dependencies_from_the_machine(venv, tmp_path):
    python = venv / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).strip()
    found = json.loads(run([python, "-c", WHERE_FROM, *product(), *DEPENDENCIES], cwd=tmp_path))
    for name in product():
        assert all(path.startswith(site + "/") for path in found[name]), (name, found[name])
    for name in DEPENDENCIES:
        assert not any(path.startswith(str(venv)) for path in found[name]), (name, found[name])
    demo = "import cli, os; print(os.path.isfile(cli.DEMO_FILE))"
    assert run([python, "-c", demo], cwd=tmp_path).strip() == "True"  # `parley serve --demo` finds it
    assert "delete-chatter" in run([venv / "bin" / "parley", "--help"], cwd=tmp_path)


def test_the_installed_parley_serves_its_pages_and_files(installed):
    def get(path):
        return requests.get(installed.url + path, timeout=10)

    script = get("/static/parley.js")
    assert script.status_code == 200 and script.content == (ROOT / "static" / "parley.js").read_bytes()
    login = get("/login")
    assert login.status_code == 200 and "Log in" in login.text
    page = get("/chat/support")  # made of partials/
    assert page.status_code == 200 and "/static/parley.js" in page.text


def test_a_chat_through_the_installed_parley(installed, people):
    chatter = people.chatter(installed)
    chat = chatter.start(name="Wendy Wheel")
    ann = people.agent(installed, "ann", "Support desk")
    console = ann.connect()
    assert "Wendy Wheel" in console.wait_for_text(f'id="tab-{chat}"')  # the offer
    ann.accept(chat)
    page = chatter.connect()
    page.send({"send": {"text": "Hello from the wheel", "key": "wheel-key-1"}})
    console.wait_for_text("Hello from the wheel")
    assert ann.say(chat, "Hello back").status_code == 204
    page.wait_for_text("Hello back")
