"""The verbs on a resource: get, list (as a list or a Table), create, update,
patch, delete and deletecollection, each answered through the request handler;
a watch goes to watch_stream.py. Also the decoding of request bodies."""

import json

from .errors import ApiError, bad_request, go_value, invalid
from .protobuf import decode_protobuf_object
from .selector import Selector
from .tables import make_table
from .reviews import AUTHORIZATION, access_review
from .tokens import token_request
from .watch_stream import serve_watch


def decode_body(body, content_type):
    """A written body as JSON (protobuf of the kinds protobuf.py knows too);
    415 for other media types, 400 for what does not parse."""
    if not body:
        return None
    if content_type == "application/vnd.kubernetes.protobuf":
        try:
            return decode_protobuf_object(body)
        except ValueError as e:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in "
                           "protobuf the emulator cannot decode (%s); send "
                           "application/json" % e)
    if "protobuf" in content_type or (
            "yaml" in content_type and "apply-patch" not in content_type):
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an "
                                                    "unknown format - accepted media types "
                                                    "include: application/json")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as e:
        raise bad_request("the body of the request could not be decoded: %s" % e)


def serve_resource(h, method, rtype, ns, name, sub, watch, params, raw):
    """Answers one request on a resource through handler h."""
    store = h.server.emulator.store
    h.check_accept()
    content_type = (h.headers.get("Content-Type") or "application/json").split(";")[0]
    body = decode_body(raw, content_type) if method in ("POST", "PUT", "PATCH") else None
    if method == "DELETE":
        body = decode_body(raw, content_type) or {}
        if not isinstance(body, dict):
            raise bad_request("the DeleteOptions could not be decoded")
    if params.get("dryRun") and params["dryRun"] != "All":
        raise bad_request('Invalid dry run value: "%s"' % params["dryRun"])
    warnings = []
    if rtype.group == AUTHORIZATION:
        if method != "POST" or name is not None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on "
                                                    "the requested resource")
        return h.send_json(201, access_review(store, h.user, rtype.kind, body))
    if sub == "token":
        if method != "POST":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on "
                                                    "the requested resource")
        emu = h.server.emulator
        return h.send_json(201, token_request(emu.issuer, store, ns, name, body))
    if method == "GET":
        field = params.get("fieldSelector", "")
        if watch and name:
            field = ",".join(x for x in (field, "metadata.name=" + name) if x)
        selector = Selector(rtype, ns if rtype.namespaced else None,
                            params.get("labelSelector", ""), field)
        if watch:
            return serve_watch(h, rtype, selector, params)
        if name is None:
            items, rv = store.list(rtype, selector, params.get("resourceVersion"),
                                   params.get("resourceVersionMatch"))
            if h.wants_table():
                return h.send_json(200, make_table(
                    rtype, [rtype.served(o) for o in items], rv,
                    params.get("includeObject", "Metadata")))
            return h.send_json(200, {
                "kind": rtype.list_kind, "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": rv},
                "items": [rtype.served(o) for o in items]})
        obj = store.get(rtype, ns, name)
        if h.wants_table():
            return h.send_json(200, make_table(
                rtype, [rtype.served(obj)], obj["metadata"]["resourceVersion"],
                params.get("includeObject", "Metadata")))
        return h.send_json(200, rtype.served(obj))
    if method == "POST":
        if name is not None:
            raise ApiError(405, "MethodNotAllowed", "POST is not allowed on a named "
                                                    "resource")
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be a JSON object")
        obj = store.create(rtype, ns, body, params, warnings)
        return h.send_json(201, rtype.served(obj), h.warning_headers(warnings))
    if method == "PUT":
        if name is None:
            raise ApiError(405, "MethodNotAllowed", "PUT needs a name")
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be a JSON object")
        obj = store.update(rtype, ns, name, body, params, sub, warnings)
        return h.send_json(200, rtype.served(obj), h.warning_headers(warnings))
    if method == "PATCH":
        if name is None:
            raise ApiError(405, "MethodNotAllowed", "PATCH needs a name")
        if body is None:
            raise bad_request("the PATCH body is empty")
        obj, created = store.patch(rtype, ns, name, content_type, body, params, sub,
                                   warnings)
        return h.send_json(201 if created else 200, rtype.served(obj),
                              h.warning_headers(warnings))
    if method == "DELETE":
        if sub is not None:
            raise ApiError(405, "MethodNotAllowed", "DELETE is not allowed on a "
                                                    "subresource")
        if name is None:
            selector = Selector(rtype, ns if rtype.namespaced else None,
                                params.get("labelSelector", ""),
                                params.get("fieldSelector", ""))
            items, _ = store.list(rtype, selector)
            done = []
            for o in items:
                try:
                    obj, _ = store.delete(rtype, o["metadata"].get("namespace"),
                                          o["metadata"]["name"], body, params)
                    done.append(rtype.served(obj))
                except ApiError as e:
                    if e.code != 404:
                        raise
            with store.lock:
                rv = str(store.rv)
            return h.send_json(200, {"kind": rtype.list_kind,
                                        "apiVersion": rtype.api_version,
                                        "metadata": {"resourceVersion": rv},
                                        "items": done})
        for key in ("gracePeriodSeconds", "propagationPolicy", "orphanDependents"):
            if key in params and key not in body:
                body[key] = params[key]
        if body.get("propagationPolicy") not in (None, "Orphan", "Background",
                                                 "Foreground"):
            raise invalid(rtype, name, [("FieldValueNotSupported", "propagationPolicy",
                                         "Unsupported value: %s"
                                         % go_value(body["propagationPolicy"]))])
        obj, deleted = store.delete(rtype, ns, name, body, params)
        # apiserver's DeleteResource: 202 only when the object stays and the
        # client asked for orphanDependents=false; 200 otherwise.
        code = 202 if not deleted and body.get("orphanDependents") in (False, "false") else 200
        if deleted and not rtype.returns_deleted:
            # The registry's finalizeDelete: a Status naming what went.
            return h.send_json(code, {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": obj["metadata"]["name"], "group": rtype.group,
                            "kind": rtype.plural, "uid": obj["metadata"].get("uid", "")}})
        return h.send_json(code, rtype.served(obj))
    raise ApiError(405, "MethodNotAllowed", "method %s is not allowed" % method)

