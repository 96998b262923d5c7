"""The seeds' "Mix it up" architecture: one app, three stores, each persisted its own way.

    tinystore serve --port 8043 --db server.sqlite        # in another terminal
    python mix.py --dir ./device-a note "call the vet"
    python mix.py --dir ./device-b list                  # another device: sees the note

- settings (theme, name) in a JSON file of this device (the file persister);
- reference data (species and their lifespans) loaded read-only from a URL (the remote
  persister; `--catalog URL`, else this example serves ./catalog.json itself on a local port,
  with ETags, as a static file server or a CDN would);
- the user's notes in a MergeableStore kept in SQLite on this device and synced through a
  sync server (`--url`, default ws://127.0.0.1:8043/notes), so they merge across devices.
"""

import argparse
import http.server
import json
import secrets
import sys
import threading
from pathlib import Path

import tinystore

CATALOG = [
    {"species": {"dog": {"lifespan": 13}, "cat": {"lifespan": 15}, "parrot": {"lifespan": 50}}},
    {"updated": "2026-12-01"},
]


class _Catalog(http.server.BaseHTTPRequestHandler):
    """Serves the catalog document at /catalog.json with an ETag (304 when unchanged)."""

    body = json.dumps(CATALOG, separators=(",", ":")).encode()

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._answer(True)

    def do_HEAD(self):
        self._answer(False)

    def _answer(self, with_body):
        if self.path != "/catalog.json":
            self.send_response(404)
            self.end_headers()
            return
        etag = '"catalog-1"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if with_body:
            self.wfile.write(self.body)


def serve_catalog() -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Catalog)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/catalog.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=".", help="this device's data directory")
    parser.add_argument("--url", default="ws://127.0.0.1:8043/notes", help="the notes' sync room")
    parser.add_argument("--catalog", help="the reference data's URL (default: served here)")
    parser.add_argument("--name", help="set this device's user name (a setting)")
    parser.add_argument("command", choices=["note", "list"])
    parser.add_argument("text", nargs="?")
    args = parser.parse_args(argv)
    data = Path(args.dir)
    data.mkdir(parents=True, exist_ok=True)

    # 1. Settings: a plain Store in a JSON file, local to this device.
    settings = tinystore.create_store()
    with tinystore.create_file_persister(settings, str(data / "settings.json")) as p:
        p.load(({}, {"theme": "light", "name": "anonymous"}))
        p.start_auto_save()
        if args.name:
            settings.set_value("name", args.name)

    # 2. Reference data: read-only from a URL (no save URL: this app never writes it).
    catalog = tinystore.create_store()
    with tinystore.create_remote_persister(catalog, args.catalog or serve_catalog()) as p:
        p.load()

    # 3. The user's notes: a MergeableStore in SQLite, synced through the server.
    notes = tinystore.create_mergeable_store()
    with tinystore.create_sqlite_persister(notes, str(data / "notes.sqlite")) as p:
        p.start_auto_persisting()
        try:
            sync = tinystore.create_ws_synchronizer(notes, args.url, connect_timeout=3)
            sync.start_sync()
        except tinystore.TinystoreError.Sync as e:
            print(f"offline ({e}); using the local copy", file=sys.stderr)
            sync = None
        if args.command == "note":
            notes.set_row("notes", secrets.token_hex(3), {
                "text": args.text or "",
                "by": settings.get_value("name"),
            })
        species = ", ".join(
            f"{s} ({catalog.get_cell('species', s, 'lifespan')} years)"
            for s in catalog.get_row_ids("species")
        )
        print(f"settings: theme={settings.get_value('theme')} name={settings.get_value('name')}")
        print(f"catalog: {species}")
        for row_id in notes.get_row_ids("notes"):
            note = notes.get_row("notes", row_id)
            print(f"note {row_id}: {note.get('text')} (by {note.get('by')})")
        if sync is not None:
            sync.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
