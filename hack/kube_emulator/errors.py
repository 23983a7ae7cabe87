"""Errors answered as meta/v1 Status objects, and values quoted the way Go
prints them in those messages.

ApiError carries the HTTP code, the Status reason and details; the helpers
build the ones a real server answers (NotFound, Conflict, BadRequest,
Invalid, Expired) with the same wording.
"""

import json


class ApiError(Exception):
    """An error answered with a meta/v1 Status."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        out = {"kind": "Status", "apiVersion": "v1", "metadata": {},
               "status": "Failure", "message": self.message,
               "reason": self.reason, "code": self.code}
        if self.details:
            out["details"] = self.details
        return out


def qualified(rtype):
    return rtype.plural + ("." + rtype.group if rtype.group else "")


def not_found(rtype, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(rtype), name),
                    {"name": name, "group": rtype.group, "kind": rtype.plural})


def conflict(rtype, name):
    return ApiError(
        409, "Conflict",
        'Operation cannot be fulfilled on %s "%s": the object has been modified; '
        "please apply your changes to the latest version and try again"
        % (qualified(rtype), name),
        {"name": name, "group": rtype.group, "kind": rtype.plural})


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def invalid(rtype, name, causes):
    """422 Invalid; causes are (reason, field, message) tuples."""
    parts = ["%s: %s" % (f, m) if f else m for (_, f, m) in causes]
    text = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    kind_name = rtype.kind + ("." + rtype.group if rtype.group else "")
    return ApiError(
        422, "Invalid", '%s "%s" is invalid: %s' % (kind_name, name, text),
        {"name": name, "group": rtype.group, "kind": rtype.kind,
         "causes": [{"reason": r, "message": m, "field": f} for (r, f, m) in causes]})


def gone(message):
    return ApiError(410, "Expired", message)


def type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def go_value(v):
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)



def query_bool(params, key):
    """A boolean query parameter as the apiserver converts it
    (Convert_Slice_string_To_bool): absent, "0" and "false" (any case) are
    false; every other value, the empty string included, is true."""
    if key not in params:
        return False
    return params[key] != "0" and params[key].lower() != "false"
