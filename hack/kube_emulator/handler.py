"""The HTTP request handler: reading bodies, sending JSON answers, logging
each request, authentication and outages, the /_emulator control endpoints,
and routing a URL to discovery, OpenAPI or a resource (resource_verbs.py
serves those, watch_stream.py the watches)."""

import email.utils
import http.server
import json
import select
import socket
import ssl
import time
import urllib.parse

from . import discovery, openapi, openapi_proto, rbac
from .auth import authenticate
from .errors import ApiError, bad_request, query_bool
from .resource_verbs import serve_resource
from .reviews import impersonate
from .server import log

NOT_FOUND = "the server could not find the requested resource"


def kube_verb(method, is_collection, watch):
    if method == "GET":
        if watch:
            return "watch"
        return "list" if is_collection else "get"
    return {"POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "deletecollection" if is_collection else "delete"}.get(method, method.lower())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-emulator"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # -- plumbing --

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def logged_code(self, code):
        # Into the request log before the answer leaves: a client that has
        # its answer finds the code in the log.
        self.code = code
        entry = getattr(self, "entry", None)
        if entry is not None:
            entry["code"] = code

    def send_bytes(self, code, data, content_type="application/json", headers=(),
                   cache_control="no-cache, private"):
        self.logged_code(code)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", cache_control)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, code, obj, headers=()):
        self.send_bytes(code, json.dumps(obj).encode(), headers=headers)

    def warning_headers(self, warnings):
        return [("Warning", '299 - "%s"' % w.replace('"', '\\"')) for w in warnings]

    # -- dispatch --

    def dispatch(self, method):
        emu = self.server.emulator
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        self.code = 0
        self.entry = None
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if path.startswith("/_emulator/"):
            try:
                self.control(method, path, params)
            except ApiError as e:
                self.send_json(e.code, e.status())
            return
        entry = {"method": method, "path": url.path, "query": url.query, "verb": "",
                 "contentType": self.headers.get("Content-Type", ""),
                 "accept": self.headers.get("Accept", ""),
                 "userAgent": self.headers.get("User-Agent", ""), "code": 0}
        emu.record(entry)  # now, so that open watches show; the code is filled in later
        self.entry = entry
        if emu.in_outage():
            entry["code"] = -1
            log("%s %s -> connection closed (outage)" % (method, self.path))
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            user = authenticate(emu, self.headers.get("Authorization", ""), self.connection,
                                path)
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            attributes = rbac.request_attributes(method, path, params)
            injected = emu.injected_error()
            if injected:
                if attributes.resource_request:
                    entry["verb"] = attributes.verb
                return self.answer_injected(injected, entry)
            with emu.store.lock:
                user = impersonate(emu.store, user, self.headers)
                allowed, reason = rbac.authorize(emu.store, user, attributes)
            if not allowed:
                entry["user"] = user.name
                if attributes.resource_request:
                    entry["verb"] = attributes.verb
                raise rbac.forbidden(user, attributes, reason)
            self.user = user
            self.route(method, path, params, body, entry)
        except ApiError as e:
            if not self.code:
                self.send_json(e.code, e.status())
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except RecursionError:
            if not self.code:
                self.send_json(400, bad_request("the object is nested too deeply").status())
        except Exception as e:  # noqa: BLE001 -- report, keep serving
            import traceback
            traceback.print_exc()
            if not self.code:
                self.send_json(500, ApiError(500, "InternalError",
                                             "Internal error occurred: %s" % e).status())
        entry["code"] = self.code
        log("%s %s -> %s" % (method, self.path, self.code or "closed"))

    def control(self, method, path, params):
        emu = self.server.emulator
        if path == "/_emulator/compact" and method == "POST":
            rv = emu.store.compact()
            log("compacted: every resourceVersion < %d is too old" % rv)
            self.send_json(200, {"resourceVersion": str(rv)})
        elif path == "/_emulator/drop-watches" and method == "POST":
            emu.store.drop_watches()
            self.send_json(200, {"dropped": True})
        elif path == "/_emulator/outage" and method == "POST":
            try:
                seconds = float(params.get("seconds", "0"))
            except ValueError:
                raise bad_request("seconds must be a number")
            emu.outage_until = time.monotonic() + seconds
            emu.store.drop_watches()
            log("outage for %.1f s" % seconds)
            self.send_json(200, {"seconds": seconds})
        elif path == "/_emulator/errors" and method == "POST":
            code = params.get("code", "")
            if code not in ("429", "500"):
                raise bad_request("code must be 429 or 500")
            try:
                seconds = float(params.get("seconds", "0"))
            except ValueError:
                raise bad_request("seconds must be a number")
            emu.errors = (int(code), time.monotonic() + seconds)
            log("answering %s for %.1f s" % (code, seconds))
            self.send_json(200, {"code": int(code), "seconds": seconds})
        elif path == "/_emulator/requests" and method == "GET":
            with emu.lock:
                data = [dict(r) for r in emu.requests]
            self.send_json(200, data)
        elif path == "/_emulator/requests" and method == "DELETE":
            with emu.lock:
                emu.requests.clear()
            self.send_json(200, {"cleared": True})
        else:
            raise ApiError(404, "NotFound", "no control endpoint %s %s" % (method, path))

    def answer_injected(self, code, entry):
        """A request refused while POST /_emulator/errors is in force.

        429 as the max-in-flight and priority-and-fairness filters send it
        (k8s.io/apiserver pkg/server/filters, tooManyRequests): http.Error's
        plain text, not a Status, with `Retry-After: 1`; client-go makes a
        Status of reason TooManyRequests out of it. 500 as a storage failure
        reaches the client (apierrors.NewInternalError): a Status of reason
        InternalError, the cause in details.causes."""
        if code == 429:
            self.send_bytes(429, b"Too many requests, please try again later.\n",
                            "text/plain; charset=utf-8",
                            headers=[("X-Content-Type-Options", "nosniff"),
                                     ("Retry-After", "1")])
        else:
            cause = "injected by POST /_emulator/errors"
            self.send_json(500, ApiError(500, "InternalError",
                                         "Internal error occurred: %s" % cause,
                                         {"causes": [{"message": cause}]}).status())
        entry["code"] = code
        log("%s %s -> %d (injected)" % (self.command, self.path, code))

    def route(self, method, path, params, body, entry):
        store = self.server.emulator.store
        if method == "GET":
            if path == "/version":
                return self.send_json(200, discovery.VERSION)
            if path in ("/healthz", "/livez", "/readyz"):
                return self.send_bytes(200, b"ok", "text/plain; charset=utf-8")
            if path in ("/api", "/apis"):
                version = discovery.aggregated_version(self.headers.get("Accept", ""))
                if version:
                    with store.lock:
                        doc = discovery.aggregated_list(store, path == "/api", version)
                    return self.send_bytes(200, json.dumps(doc).encode(),
                                           discovery.aggregated_content_type(version),
                                           headers=[("Vary", "Accept")])
            if path == "/api":
                return self.send_json(200, discovery.api_versions(self.server.emulator.address))
            if path == "/apis":
                with store.lock:
                    doc = discovery.api_group_list(store)
                return self.send_json(200, doc)
            if path == "/openapi/v3":
                return self.openapi_root()
            if path.startswith("/openapi/v3/"):
                return self.openapi_gv(path[len("/openapi/v3/"):], params)
            if path == "/openapi/v2":
                return self.openapi_v2()
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2 and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[0] == "apis" and len(parts) == 2 and method == "GET":
            with store.lock:
                versions = store.groups().get(parts[1])
                if not versions:
                    raise ApiError(404, "NotFound", NOT_FOUND)
                return self.send_json(200, dict({"kind": "APIGroup", "apiVersion": "v1"},
                                                **discovery.api_group(parts[1], versions)))
        else:
            raise ApiError(404, "NotFound", NOT_FOUND)
        if not rest:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method "
                                                        "on the requested resource")
            with store.lock:
                types = store.resources(group, version)
                if not types:
                    raise ApiError(404, "NotFound", NOT_FOUND)
                doc = discovery.api_resource_list(group, version, types)
            return self.send_json(200, doc)
        watch = False
        if rest[0] == "watch":
            watch, rest = True, rest[1:]
        ns = None
        if rest and rest[0] == "namespaces" and len(rest) >= 3 and not (
                group == "" and rest[2] in ("status", "finalize")):
            ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise ApiError(404, "NotFound", NOT_FOUND)
        plural = rest[0]
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) == 3 else None
        rtype = store.find(group, version, plural)
        if rtype is None or (ns is not None and not rtype.namespaced) or (
                sub is not None and not (sub == "status" and rtype.status) and
                sub not in [r[0] for r in rtype.subresources]):
            raise ApiError(404, "NotFound", NOT_FOUND)
        if query_bool(params, "watch"):
            watch = True
        entry["verb"] = kube_verb(method, name is None, watch)
        if rtype.namespaced and name is not None and ns is None:
            raise ApiError(404, "NotFound", NOT_FOUND)
        serve_resource(self, method, rtype, ns, name, sub, watch, params, body)

    def served_types(self):
        """A snapshot of the served types (the OpenAPI documents are built
        from it without the store's lock)."""
        store = self.server.emulator.store
        with store.lock:
            types = list(store.types.values())
            gvs = [(g, v) for g, vs in store.groups().items() for v in vs]
        return types, gvs

    def send_openapi(self, data, content_type, extra_headers=(),
                     cache_control="no-cache, private"):
        """kube-openapi's answer: ETag (quoted SHA-512 of the bytes), Vary:
        Accept, and 304 when If-None-Match names the ETag
        (http.ServeContent)."""
        tag = '"%s"' % openapi.etag(data)
        headers = [("Etag", tag), ("Vary", "Accept")] + list(extra_headers)
        if self.headers.get("If-None-Match") == tag:
            self.logged_code(304)
            self.send_response(304)
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            return
        self.send_bytes(200, data, content_type, headers=headers, cache_control=cache_control)

    def openapi_v2(self):
        """/openapi/v2: JSON, or gnostic's protobuf Document when Accept
        asks for it first (kubectl does), else 406."""
        mt = openapi.negotiate(self.headers.get("Accept", ""), openapi.V2_MEDIA_TYPES)
        if mt is None:
            self.logged_code(406)
            self.send_response(406)
            self.send_header("Content-Length", "0")
            self.send_header("Vary", "Accept")
            self.end_headers()
            return
        types, _ = self.served_types()
        doc = openapi.openapi_v2(types)
        if mt == "json":
            return self.send_openapi(openapi.encode(doc), "application/json")
        self.send_openapi(openapi_proto.encode_document(doc), openapi.V2_PROTOBUF)

    def openapi_root(self):
        types, gvs = self.served_types()
        self.send_openapi(openapi.encode(openapi.openapi_v3_root(types, gvs)),
                          "application/json")

    def openapi_gv(self, rel, params):
        parts = rel.split("/")
        if parts == ["api", "v1"]:
            group, version = "", "v1"
        elif len(parts) == 3 and parts[0] == "apis":
            group, version = parts[1], parts[2]
        else:
            raise ApiError(404, "NotFound", NOT_FOUND)
        types, gvs = self.served_types()
        if (group, version) not in gvs:
            raise ApiError(404, "NotFound", NOT_FOUND)
        if openapi.negotiate(self.headers.get("Accept", ""), ["json"]) is None:
            raise ApiError(406, "NotAcceptable", "only the following media types are "
                                                 "accepted: application/json")
        data = openapi.encode(openapi.openapi_v3(types, group, version))
        want = params.get("hash")
        if want:
            tag = openapi.etag(data)
            if want != tag:
                # handler3: a stale hash is redirected to the current one.
                location = "/openapi/v3/%s?hash=%s" % (rel, tag)
                self.logged_code(301)
                self.send_response(301)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            expires = email.utils.formatdate(time.time() + 365 * 86400, usegmt=True)
            return self.send_openapi(data, "application/json", [("Expires", expires)],
                                     cache_control="public, immutable")
        self.send_openapi(data, "application/json")

    # -- helpers for resource_verbs.py and watch_stream.py --

    def wants_table(self):
        accept = self.headers.get("Accept", "")
        return "as=Table" in accept and "g=meta.k8s.io" in accept

    def check_accept(self):
        accept = self.headers.get("Accept", "")
        if accept and "json" not in accept and "*/*" not in accept:
            raise ApiError(406, "NotAcceptable", "only the following media types are "
                                                 "accepted: application/json")

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def peer_closed(self):
        if isinstance(self.connection, ssl.SSLSocket):
            return False
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True
        return False

