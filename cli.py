"""The `parley` command: serve, load, export, export-chatter, delete-chatter (`python -m cli` too)."""

import argparse
import json
import os
import sys
import tomllib

import data
import server
from data import bus_url, postgres, to_postgres
from data.db import connection, db
from data.left_messages import delete_left_by
from data.models import Agent, now
from data.org import OrgError, load_file
from data.org_export import export_text
from data.retention import delete_chatter, export_chatter
from data.schema import open_database
from settings import SettingError, secret_key, settings_from_env

DEMO_FILE = os.path.join(os.path.dirname(os.path.abspath(data.__file__)), "demo.toml")


def main(argv=None):
    """Run the `parley` command line."""
    parser = argparse.ArgumentParser(prog="parley", description="Parley, a web chat desk for support teams.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the server", description="Start the Parley server.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--data", help="data folder (default: $PARLEY_DATA or ./data)")
    serve.add_argument(
        "--demo", action="store_true", help="load the demo organisation into an empty database"
    )
    serve.add_argument(
        "--workers",
        type=workers,
        default=1,
        metavar="N",
        help="worker processes on the port (default 1; more need PARLEY_BUS_URL, see docs/SCALING.md)",
    )
    load = commands.add_parser(
        "load", help="apply an organisation file", description="Apply an organisation file."
    )
    load.add_argument("file", help="the organisation file (TOML)")
    load.add_argument("--data", help="data folder (default: $PARLEY_DATA or ./data)")
    export = commands.add_parser(
        "export",
        help="write the organisation file",
        description="Write the stored organisation as a file for `parley load`. Passwords are not "
        "exported: agents without a password in the file keep theirs when it is loaded.",
    )
    export.add_argument("file", help="where to write it (TOML); - for standard output")
    export.add_argument("--data", help="data folder (default: $PARLEY_DATA or ./data)")
    for name, does in (
        ("export-chatter", "print every chat of the chatter with this e-mail address as JSON"),
        ("delete-chatter", "delete every ended chat of the chatter with this e-mail address"),
    ):
        chatter = commands.add_parser(name, help=does, description=does[0].upper() + does[1:] + ".")
        chatter.add_argument("email", help="the e-mail address the chatter gave (any case)")
        chatter.add_argument("--data", help="data folder (default: $PARLEY_DATA or ./data)")
    migrate = commands.add_parser(
        "migrate-data",
        help="copy the SQLite organisation and its history to PostgreSQL",
        description="Copy the organisation in the data folder's SQLite file, with its whole history, "
        "into an empty PostgreSQL database; then set PARLEY_DATABASE_URL to it. Refuses a database "
        "that already holds data.",
    )
    migrate.add_argument(
        "--to", required=True, metavar="URL", help="postgresql://user:password@host:port/name"
    )
    migrate.add_argument("--data", help="data folder (default: $PARLEY_DATA or ./data)")
    args = parser.parse_args(argv)
    if args.data:
        os.environ["PARLEY_DATA"] = args.data
    try:
        settings_from_env()
    except SettingError as e:
        print(f"parley: {e}", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except (postgres.Unreachable, bus_url.Unreachable) as e:
        print(f"parley {args.command}: {e}", file=sys.stderr)
        return 1


def _run(args):
    if args.command == "load":
        return _load(args.file)
    if args.command == "export":
        return _export(args.file)
    if args.command == "export-chatter":
        return _export_chatter(args.email)
    if args.command == "delete-chatter":
        return _delete_chatter(args.email)
    if args.command == "migrate-data":
        return _migrate_data(args.to)
    return _serve(args)


def _migrate_data(url):
    try:
        postgres.check_url(url)
    except ValueError as e:
        print(f"parley migrate-data: --to: {e}", file=sys.stderr)
        return 2
    folder = settings_from_env()["DATA"]
    if not os.path.exists(os.path.join(folder, "parley.db")):
        print(f"parley migrate-data: there is no SQLite database in {folder} to copy", file=sys.stderr)
        return 1
    try:
        counts = to_postgres.copy(folder, url)
    except to_postgres.NotEmpty as e:
        print(f"parley migrate-data: {e}. Nothing was copied: give an empty database.", file=sys.stderr)
        return 1
    print(f"Copied {sum(counts.values())} rows to {postgres.shown(url)}: set PARLEY_DATABASE_URL to it.")
    return 0


def _open():
    """Open the database the settings name (postgres.Unreachable when it cannot be reached)."""
    settings = settings_from_env()
    return open_database(settings["DATA"], settings["DATABASE_URL"])


def _load(path):
    _open()
    try:
        with connection():
            counts = load_file(path)
    except OrgError as e:
        print(f"parley load: {e}", file=sys.stderr)
        print("Nothing was changed.", file=sys.stderr)
        return 1
    print("Loaded " + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + ".")
    return 0


def _export(path):
    _open()
    with connection():
        text = export_text(now())
    if path == "-":
        sys.stdout.write(text)
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"Wrote the organisation to {path} (passwords are not exported).")
    return 0


def _export_chatter(email):
    _open()
    with connection():
        found = export_chatter(email)
    json.dump(found, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    if not found["chats"] and not found["messages_left"]:
        print(f"parley export-chatter: no chats or messages left of {email}", file=sys.stderr)
    return 0


def _delete_chatter(email):
    _open()
    with connection():
        deleted, still_open = delete_chatter(email)
        left = delete_left_by(email)
    print(f"Deleted {deleted} chat{'s' * (deleted != 1)} of {email}.")
    print(f"Deleted {left} message{'s' * (left != 1)} they left.")
    if still_open:
        print(
            f"{still_open} chat{'s are' if still_open != 1 else ' is'} still open and kept: "
            "run this again once they have ended.",
            file=sys.stderr,
        )
        return 1
    return 0


def workers(text):
    """--workers: a whole number from 1 up."""
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes from 1 up")
    return int(text)


def _serve(args):
    settings = settings_from_env()
    if args.workers > 1 and not settings["BUS_URL"]:
        print(
            f"parley serve: --workers {args.workers} needs PARLEY_BUS_URL=redis://host:port/0, through"
            " which the processes tell each other what changed (docs/SCALING.md). Without it, serve"
            " with one worker.",
            file=sys.stderr,
        )
        return 2
    if settings["BUS_URL"]:
        bus_url.reach(settings["BUS_URL"])
    _open()
    secret_key(settings["DATA"])  # made once here, not by each worker at once
    demo = False
    with connection():
        if args.demo and not Agent.select().exists():
            load_file(DEMO_FILE)
            demo = True
            print("Loaded the demo organisation. Log in as (username / password):")
            for line in _demo_logins():
                print("  " + line)
        elif args.demo:
            print("The database already holds an organisation; the demo was not loaded.")
    # /demo/host signs identities with the real secret: never beside an organisation of one's own
    if demo:
        os.environ["PARLEY_DEMO"] = "1"  # the worker serves the demo host page (/demo/host)
        print("A pretend host site with the chat widget: /demo/host")
    db.close_all()
    return server.run(args.host, args.port, args.workers, fresh=bool(settings["DATABASE_URL"]))


def _demo_logins():
    with open(DEMO_FILE, "rb") as f:
        agents = tomllib.load(f)["agent"]
    for a in agents:
        role = "supervisor" if a.get("supervisor") else "agent"
        yield f"{a['username']} / {a['password']}  ({a['name']}, {role})"


if __name__ == "__main__":
    sys.exit(main())
