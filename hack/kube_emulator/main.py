"""The command line and the server's life: flags, TLS, the kubeconfig and port
files, serving until SIGTERM or SIGINT, and closing open watches on the way out."""

import argparse
import signal
import sys
import threading

from . import apimodels, openapi
from .auth import ssl_context
from .handler import Handler
from .kubeconfig import write_atomically, write_kubeconfig
from .server import Emulator, Server, log


def main(argv):
    p = argparse.ArgumentParser(description="Kubernetes API server emulator for tests.")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    p.add_argument("--port-file", help="write the bound port here once listening")
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", help="the certificate's private key (PEM)")
    p.add_argument("--token", help="require Authorization: Bearer TOKEN")
    p.add_argument("--client-ca", help="request client certificates signed by this CA")
    p.add_argument("--kubeconfig-out", help="write a kubeconfig for this server here")
    p.add_argument("--kubeconfig-client-cert", help="client certificate to embed in the "
                                                    "kubeconfig")
    p.add_argument("--kubeconfig-client-key", help="its key")
    p.add_argument("--bookmark-interval", type=float, default=1.0,
                   help="seconds between BOOKMARK events on watches that allow them")
    p.add_argument("--watch-timeout", type=float, default=1800.0,
                   help="server-side watch timeout when the client gives none")
    p.add_argument("--history", type=int, default=10000,
                   help="watch events kept; older resourceVersions are 410 Gone")
    p.add_argument("--request-log", type=int, default=20000,
                   help="requests kept for GET /_emulator/requests")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        p.error("--client-ca needs --tls-cert and --tls-key")
    context = ssl_context(args.tls_cert, args.tls_key, args.client_ca)
    try:
        apimodels.catalog()  # the OpenAPI schemas' source: refuse to start without it
    except apimodels.ModelsMissing as e:
        p.error(str(e))
    # Deeply nested bodies (a real server decodes up to 10000 levels) need
    # deep recursion in json and copy; give handler threads the stack for it.
    threading.stack_size(64 * 1024 * 1024)
    sys.setrecursionlimit(30000)
    emulator = Emulator(args)
    server = Server(("127.0.0.1", args.port), emulator, context, Handler)
    port = server.server_address[1]
    emulator.address = "127.0.0.1:%d" % port
    url = "%s://127.0.0.1:%d" % ("https" if context else "http", port)
    if args.kubeconfig_out:
        write_kubeconfig(args.kubeconfig_out, url, args)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    thread.start()
    # Reading the models the built-in kinds reach takes a few seconds: do it
    # now rather than in kubectl's first OpenAPI request.
    with emulator.store.lock:
        types = list(emulator.store.types.values())
    threading.Thread(target=openapi.builtin_definitions, args=(types,), daemon=True).start()
    if args.port_file:
        write_atomically(args.port_file, "%d\n" % port)
    log("serving %s" % url)
    stop = threading.Event()

    def on_signal(signum, _frame):
        log("signal %d: shutting down" % signum)
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.is_set():
        stop.wait(1.0)
    emulator.store.drop_watches()
    server.shutdown()
    server.server_close()
    log("stopped")
    return 0
