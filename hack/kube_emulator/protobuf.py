"""Protobuf request bodies (application/vnd.kubernetes.protobuf): the `k8s\\0`
magic, the runtime.Unknown envelope (typeMeta = 1, raw = 2), and the kinds
kubectl's and helm's typed clients write (Namespace, Secret, ConfigMap,
ServiceAccount, authentication/v1 TokenRequest, authorization/v1
(Self)SubjectAccessReview, meta/v1 DeleteOptions),
decoded to the JSON a client would have sent.

The decoder is driven by MESSAGES, a table of field numbers taken from
k8s.io/api core/v1 and authentication/v1 generated.proto and apimachinery's
meta/v1 and runtime generated.proto. Go's generated marshalers write every
non-pointer field, zero values included; as encoding/json's omitempty would,
zero values are dropped, except for pointer fields (marked "ptr"), which are
written only when set and so kept as they come. A field number the table does
not know is refused (ValueError), never dropped silently.
"""

import base64
import datetime
import json
import struct

# Field kinds: "string", "bytes" (base64 in JSON), "int" (varint), "bool",
# "map" (map<string,string>), "bmap" (map<string,bytes>), "time" (meta/v1
# Time), "fields" (meta/v1 FieldsV1: raw JSON), or a message name.
# Options: "rep" (repeated), "ptr" (a pointer: kept even when zero).
MESSAGES = {
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "raw"),
                3: ("contentEncoding", "string"), 4: ("contentType", "string")},
    "ObjectMeta": {
        1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
        4: ("selfLink", "string"), 5: ("uid", "string"), 6: ("resourceVersion", "string"),
        7: ("generation", "int"), 8: ("creationTimestamp", "time"),
        9: ("deletionTimestamp", "time", "ptr"),
        10: ("deletionGracePeriodSeconds", "int", "ptr"), 11: ("labels", "map"),
        12: ("annotations", "map"), 13: ("ownerReferences", "OwnerReference", "rep"),
        14: ("finalizers", "string", "rep"),
        17: ("managedFields", "ManagedFieldsEntry", "rep")},
    "OwnerReference": {
        1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
        5: ("apiVersion", "string"), 6: ("controller", "bool", "ptr"),
        7: ("blockOwnerDeletion", "bool", "ptr")},
    "ManagedFieldsEntry": {
        1: ("manager", "string"), 2: ("operation", "string"), 3: ("apiVersion", "string"),
        4: ("time", "time", "ptr"), 6: ("fieldsType", "string"),
        7: ("fieldsV1", "fields", "ptr"), 8: ("subresource", "string")},
    "ObjectReference": {
        1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string"),
        4: ("uid", "string"), 5: ("apiVersion", "string"), 6: ("resourceVersion", "string"),
        7: ("fieldPath", "string")},
    "LocalObjectReference": {1: ("name", "string")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec"),
                  3: ("status", "NamespaceStatus")},
    "NamespaceSpec": {1: ("finalizers", "string", "rep")},
    "NamespaceStatus": {1: ("phase", "string")},
    "Secret": {1: ("metadata", "ObjectMeta"), 2: ("data", "bmap"), 3: ("type", "string"),
               4: ("stringData", "map"), 5: ("immutable", "bool", "ptr")},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", "map"),
                  3: ("binaryData", "bmap"), 4: ("immutable", "bool", "ptr")},
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"), 2: ("secrets", "ObjectReference", "rep"),
        3: ("imagePullSecrets", "LocalObjectReference", "rep"),
        4: ("automountServiceAccountToken", "bool", "ptr")},
    "TokenRequest": {1: ("metadata", "ObjectMeta"), 2: ("spec", "TokenRequestSpec"),
                     3: ("status", "TokenRequestStatus")},
    "TokenRequestSpec": {1: ("audiences", "string", "rep"),
                         3: ("boundObjectRef", "BoundObjectReference", "ptr"),
                         4: ("expirationSeconds", "int", "ptr")},
    "BoundObjectReference": {1: ("kind", "string"), 2: ("apiVersion", "string"),
                             3: ("name", "string"), 4: ("uid", "string")},
    "TokenRequestStatus": {1: ("token", "string"), 2: ("expirationTimestamp", "time")},
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int", "ptr"), 2: ("preconditions", "Preconditions", "ptr"),
        3: ("orphanDependents", "bool", "ptr"), 4: ("propagationPolicy", "string", "ptr"),
        5: ("dryRun", "string", "rep"),
        6: ("ignoreStoreReadErrorWithClusterBreakingPotential", "bool", "ptr")},
    "Preconditions": {1: ("uid", "string", "ptr"), 2: ("resourceVersion", "string", "ptr")},
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta"),
                                2: ("spec", "SubjectAccessReviewSpec")},
    "SubjectAccessReview": {1: ("metadata", "ObjectMeta"), 2: ("spec", "SubjectAccessReviewSpec")},
    "SubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes", "ptr"),
        2: ("nonResourceAttributes", "NonResourceAttributes", "ptr"), 3: ("user", "string"),
        4: ("groups", "string", "rep"), 6: ("uid", "string")},
    "ResourceAttributes": {1: ("namespace", "string"), 2: ("verb", "string"),
                           3: ("group", "string"), 4: ("version", "string"),
                           5: ("resource", "string"), 6: ("subresource", "string"),
                           7: ("name", "string")},
    "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
    "MapEntry": {1: ("key", "string"), 2: ("value", "raw")},
}

# The kinds a body may carry, by (apiVersion, kind).
KINDS = {("v1", "Namespace"), ("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "ServiceAccount"),
         ("authentication.k8s.io/v1", "TokenRequest"), ("meta.k8s.io/v1", "DeleteOptions"),
         ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
         ("authorization.k8s.io/v1", "SubjectAccessReview"),
         ("v1", "DeleteOptions")}

MAGIC = b"k8s\x00"


def pb_fields(data):
    """Yields (field number, wire type, value) of a protobuf message; a
    varint's value is an int, a length-delimited one bytes."""
    i = 0

    def varint():
        nonlocal i
        shift = result = 0
        while True:
            if i >= len(data):
                raise ValueError("truncated varint")
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")
    while i < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            yield field, wire, varint()
        elif wire == 2:
            n = varint()
            if i + n > len(data):
                raise ValueError("truncated field")
            yield field, wire, data[i:i + n]
            i += n
        elif wire == 1:
            if i + 8 > len(data):
                raise ValueError("truncated field")
            yield field, wire, struct.unpack("<q", data[i:i + 8])[0]
            i += 8
        elif wire == 5:
            if i + 4 > len(data):
                raise ValueError("truncated field")
            yield field, wire, struct.unpack("<i", data[i:i + 4])[0]
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wire)


def signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def time_json(data):
    t = decode_message("Time", data)
    seconds = t.get("seconds", 0)
    if not seconds and not t.get("nanos"):
        return None  # the zero Time: null in JSON
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def scalar(kind, wire, value, where):
    want = 0 if kind in ("int", "bool") else 2
    if wire != want:
        raise ValueError("%s: wire type %d where %d was expected" % (where, wire, want))
    if kind == "int":
        return signed64(value)
    if kind == "bool":
        return value != 0
    if kind == "string":
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("%s: not UTF-8" % where)
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind == "raw":
        return value
    if kind == "time":
        return time_json(value)
    if kind == "fields":
        raw = decode_message("MapEntry", value).get("key")  # FieldsV1: raw = 1
        return json.loads(raw) if raw else {}
    return decode_message(kind, value)


def is_zero(v):
    return v in (None, "", 0, False, {}, [], b"")


def decode_message(name, data):
    """One message of MESSAGES[name] as a JSON object."""
    table = MESSAGES[name]
    out = {}
    for number, wire, value in pb_fields(data):
        spec = table.get(number)
        where = "%s field %d" % (name, number)
        if spec is None:
            raise ValueError("%s is not known to the emulator" % where)
        key, kind, opts = spec[0], spec[1], spec[2:]
        if kind in ("map", "bmap"):
            if wire != 2:
                raise ValueError("%s: a map entry must be length-delimited" % where)
            entry = {n: v for n, _, v in pb_fields(value)}
            k = entry.get(1, b"").decode("utf-8")
            v = entry.get(2, b"")
            out.setdefault(key, {})[k] = (base64.b64encode(v).decode() if kind == "bmap"
                                          else v.decode("utf-8"))
            continue
        v = scalar(kind, wire, value, where)
        if "rep" in opts:
            out.setdefault(key, []).append(v)
        elif "ptr" in opts:
            out[key] = v
        elif is_zero(v):
            out.pop(key, None)
        else:
            out[key] = v
    return out


def decode_protobuf_object(data):
    """A protobuf body as the JSON object it stands for; ValueError for what
    is not a k8s envelope of a kind in KINDS, or does not decode."""
    if not data.startswith(MAGIC):
        raise ValueError("no k8s protobuf envelope")
    unknown = decode_message("Unknown", data[len(MAGIC):])
    type_meta = unknown.get("typeMeta") or {}
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    if (api_version, kind) not in KINDS:
        raise ValueError("protobuf is not decoded for %s %s" % (api_version, kind))
    if unknown.get("contentEncoding"):
        raise ValueError("content encoding %r is not supported"
                         % unknown["contentEncoding"])
    obj = decode_message(kind, unknown.get("raw", b""))
    out = {"apiVersion": api_version, "kind": kind}
    out.update(obj)
    if "metadata" in MESSAGES[kind].get(1, ()) and "metadata" not in out:
        out["metadata"] = {}
    return out
