"""Patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic
merge patch (smp.py) for built-in types, and simplified server-side apply. Pure functions
over JSON values; errors are ApiErrors (400, or 422 for a failed test)."""

import copy
import json

from .errors import ApiError, bad_request
from .smp import apply_strategic


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def apply_merge(target, applied):
    """Server-side apply, simplified: the applied fields win, nothing is removed."""
    if not isinstance(applied, dict) or not isinstance(target, dict):
        return copy.deepcopy(applied)
    out = copy.deepcopy(target)
    for key, value in applied.items():
        out[key] = apply_merge(out.get(key), value)
    return out


def json_pointer(doc, pointer):
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise bad_request("invalid JSON pointer %r" % pointer)
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def json_patch(doc, ops):
    """RFC 6902."""
    if not isinstance(ops, list):
        raise bad_request("the JSON patch must be an array of operations")
    doc = copy.deepcopy(doc)

    def parent(path):
        parts = json_pointer(doc, path)
        if not parts:
            raise bad_request("cannot patch the document root")
        cur = doc
        for p in parts[:-1]:
            if isinstance(cur, list):
                try:
                    cur = cur[int(p)]
                except (ValueError, IndexError):
                    raise bad_request("doc is missing path: %s" % path)
            elif isinstance(cur, dict) and p in cur:
                cur = cur[p]
            else:
                raise bad_request("doc is missing path: %s" % path)
        return cur, parts[-1]

    def get(path):
        cur = doc
        for p in json_pointer(doc, path):
            if isinstance(cur, list):
                try:
                    cur = cur[int(p)]
                except (ValueError, IndexError):
                    raise bad_request("doc is missing path: %s" % path)
            elif isinstance(cur, dict) and p in cur:
                cur = cur[p]
            else:
                raise bad_request("doc is missing path: %s" % path)
        return cur

    def remove(path):
        cont, key = parent(path)
        if isinstance(cont, list):
            try:
                return cont.pop(int(key))
            except (ValueError, IndexError):
                raise bad_request("doc is missing path: %s" % path)
        if key not in cont:
            raise bad_request("doc is missing path: %s" % path)
        return cont.pop(key)

    def add(path, value):
        nonlocal doc
        if path == "":
            doc = value
            return
        cont, key = parent(path)
        if isinstance(cont, list):
            if key == "-":
                cont.append(value)
            else:
                try:
                    idx = int(key)
                except ValueError:
                    raise bad_request("invalid index %r" % key)
                if idx < 0 or idx > len(cont):
                    raise bad_request("index out of range: %s" % path)
                cont.insert(idx, value)
        elif isinstance(cont, dict):
            cont[key] = value
        else:
            raise bad_request("doc is missing path: %s" % path)

    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request("invalid JSON patch operation: %s" % json.dumps(op))
        kind, path = op["op"], op["path"]
        if kind == "add":
            add(path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            remove(path)
        elif kind == "replace":
            remove(path)
            add(path, copy.deepcopy(op.get("value")))
        elif kind == "move":
            add(path, remove(op["from"]))
        elif kind == "copy":
            add(path, copy.deepcopy(get(op["from"])))
        elif kind == "test":
            if get(path) != op.get("value"):
                raise ApiError(422, "Invalid", "the test operation on %s failed" % path)
        else:
            raise bad_request("unexpected JSON patch operation %r" % kind)
    return doc


def apply_patch(old, content_type, patch, rtype):
    """old with a non-apply patch of content_type applied; 415 for a type the
    resource does not take (strategic merge patch is for built-in types)."""
    if content_type == "application/merge-patch+json":
        return merge_patch(old, patch)
    if content_type == "application/json-patch+json":
        return json_patch(old, patch)
    if content_type == "application/strategic-merge-patch+json" and rtype.builtin:
        return apply_strategic(old, patch, rtype.group, rtype.kind)
    raise ApiError(
        415, "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media "
        "types include: application/json-patch+json, "
        "application/merge-patch+json, application/apply-patch+yaml")
