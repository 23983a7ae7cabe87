"""The server process's state and socket: the Emulator (store, credentials,
watch settings, outage window, request log), the threading HTTP(S) server
that hands each connection to a Handler, and the log line format."""

import collections
import datetime
import http.server
import ssl
import sys
import threading
import time

from .store import Store
from .tokens import TokenIssuer


def log(msg):
    sys.stderr.write("kube-emulator %s %s\n" % (
        datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3], msg))
    sys.stderr.flush()


class Emulator:
    """Everything a request handler shares with the others."""

    def __init__(self, args):
        self.store = Store(args.history)
        self.token = args.token
        self.issuer = TokenIssuer()
        self.client_ca = bool(args.client_ca)
        self.bookmark_interval = args.bookmark_interval
        self.watch_timeout = args.watch_timeout
        self.outage_until = 0.0
        self.errors = (0, 0.0)  # (HTTP code, until): POST /_emulator/errors
        self.lock = threading.Lock()
        self.requests = collections.deque(maxlen=args.request_log)
        self.address = ""

    def in_outage(self):
        return time.monotonic() < self.outage_until

    def injected_error(self):
        """The code every API request is answered with now (429 or 500),
        or 0."""
        code, until = self.errors
        return code if time.monotonic() < until else 0

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)


class Server(http.server.ThreadingHTTPServer):
    """One thread per connection; TLS is negotiated in that thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, emulator, ssl_context, handler_class):
        self.emulator = emulator
        self.ssl_context = ssl_context
        super().__init__(address, handler_class)

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        try:
            request.settimeout(30)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (ssl.SSLError, OSError) as e:
            log("TLS handshake with %s:%d failed: %s" % (client_address[0], client_address[1], e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass
