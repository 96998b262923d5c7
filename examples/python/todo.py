"""A todo list kept in SQLite on this device and synced through a sync server.

    tinystore serve --port 8043 --db server.sqlite        # in another terminal
    python todo.py add "buy milk"
    python todo.py done 3f9a1c                           # the id `add` printed
    python todo.py list                                   # on any device: same list

Each run opens the local database (todo.sqlite, or --db), loads it, connects to the room
(--url, default ws://127.0.0.1:8043/todos), syncs, applies the command, prints the list, and
leaves. Writes made offline are kept locally and merge when the next run syncs.
"""

import argparse
import secrets
import sys

import tinystore


def print_todos(store: tinystore.Store) -> None:
    for row_id in store.get_sorted_row_ids("todos", "created"):
        todo = store.get_row("todos", row_id)
        print(f"[{'x' if todo.get('done') else ' '}] {row_id}: {todo.get('text')}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="todo.sqlite", help="the local SQLite database")
    parser.add_argument("--url", default="ws://127.0.0.1:8043/todos", help="the sync room")
    parser.add_argument("command", choices=["add", "done", "undo", "remove", "list"])
    parser.add_argument("arg", nargs="?")
    args = parser.parse_args(argv)

    store = tinystore.create_mergeable_store()
    store.set_tables_schema({
        "todos": {
            "text": {"type": "string"},
            "done": {"type": "boolean", "default": False},
            "created": {"type": "number", "default": 0},
        }
    })
    # Local first: load what this device has, then save every change as it happens.
    with tinystore.create_sqlite_persister(store, args.db) as persister:
        persister.start_auto_persisting()
        try:
            sync = tinystore.create_ws_synchronizer(store, args.url, connect_timeout=3)
        except tinystore.TinystoreError.Sync as e:
            print(f"offline ({e}); using the local copy", file=sys.stderr)
            sync = None
        if sync is not None:
            sync.start_sync()  # pulls the room, then sends every change

        if args.command == "add":
            created = max([store.get_cell("todos", r, "created") or 0 for r in store.get_row_ids("todos")], default=0) + 1
            # Random ids: two devices adding offline must not pick the same one (add_row's
            # "0", "1", ... would collide when they sync).
            row_id = secrets.token_hex(3)
            store.set_row("todos", row_id, {"text": args.arg or "", "created": created})
            print(f"added {row_id}")
        elif args.command in ("done", "undo"):
            if not store.has_row("todos", args.arg or ""):
                print(f"no todo {args.arg}", file=sys.stderr)
                return 1
            store.set_cell("todos", args.arg, "done", args.command == "done")
        elif args.command == "remove":
            store.del_row("todos", args.arg or "")
        print_todos(store)

        if sync is not None:
            sync.destroy()  # waits for the close handshake: the changes went out
    return 0


if __name__ == "__main__":
    sys.exit(main())
