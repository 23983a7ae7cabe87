"""A watch stream: HTTP/1.1 chunked, one JSON event per line, bookmarks at the
configured interval, Table events for a Table Accept, the server-side timeout,
and a clean end of the stream on CLOSE or after an ERROR event."""

import json
import queue
import ssl
import time

from .errors import bad_request, query_bool
from .tables import make_table
from .watch import CLOSE


def serve_watch(h, rtype, selector, params):
    """Streams a watch through handler h until its timeout, a CLOSE, an ERROR
    event or the client going away."""
    emu = h.server.emulator
    store = emu.store
    table = h.wants_table()
    include = params.get("includeObject", "Metadata")
    send_initial = query_bool(params, "sendInitialEvents")
    bookmarks = query_bool(params, "allowWatchBookmarks")
    try:
        timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else \
            emu.watch_timeout
    except ValueError:
        raise bad_request("timeoutSeconds must be a number")
    w = store.watch(rtype, selector, params.get("resourceVersion"), send_initial)
    h.logged_code(200)
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Transfer-Encoding", "chunked")
    h.send_header("Cache-Control", "no-cache, private")
    h.end_headers()
    h.wfile.flush()
    h.close_connection = True
    deadline = time.monotonic() + timeout
    next_bookmark = time.monotonic() + emu.bookmark_interval
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            wait = min(deadline - now, 0.5)
            if bookmarks:
                wait = max(0.0, min(wait, next_bookmark - now))
            try:
                item = w.q.get(timeout=wait)
            except queue.Empty:
                if h.peer_closed():
                    break
                if bookmarks and time.monotonic() >= next_bookmark:
                    next_bookmark = time.monotonic() + emu.bookmark_interval
                    with store.lock:
                        w.q.put(("BOOKMARK", store.bookmark(rtype)))
                continue
            if item is CLOSE:
                break
            etype, obj = item
            if etype in ("ADDED", "MODIFIED", "DELETED"):
                obj = rtype.served(obj)
                if table:
                    obj = make_table(rtype, [obj], obj["metadata"]["resourceVersion"],
                                     include)
            if etype == "BOOKMARK" and not bookmarks and not send_initial:
                continue
            h.write_chunk(json.dumps({"type": etype, "object": obj}).encode() + b"\n")
            if etype == "ERROR":
                break
        try:
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except OSError:
            pass
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
        pass
    finally:
        store.unwatch(w)

