"""ObjectMeta rules every object follows: the typed decode (wrong types are
400s), name, label, annotation and finalizer validation (422 causes worded like
the real server's), and the set of fields ObjectMeta has."""

import re

from .errors import bad_request, go_value, type_name

OBJECT_META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
    "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
    "labels", "annotations", "ownerReferences", "finalizers", "managedFields"}

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def dns_subdomain_error(value):
    if len(value) > 253:
        return "must be no more than 253 characters"
    if not DNS_SUBDOMAIN.match(value):
        return ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric "
                "character (e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    return None


def dns_label_error(value):
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not DNS_LABEL.match(value):
        return ("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric character "
                "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    return None


def qualified_name_error(key):
    parts = key.split("/")
    if len(parts) > 2 or (len(parts) == 2 and dns_subdomain_error(parts[0])):
        return "prefix part must be a lowercase RFC 1123 subdomain"
    name = parts[-1]
    if not name or len(name) > 63 or not LABEL_NAME.match(name):
        return ("name part must consist of alphanumeric characters, '-', '_' or '.', and "
                "must start and end with an alphanumeric character (e.g. 'MyName',  or "
                "'my.name',  or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
    return None


def path_segment_error(value):
    """ValidateRBACName: path.IsValidPathSegmentName."""
    if value in (".", ".."):
        return "may not be '%s'" % value
    for bad in ("/", "%"):
        if bad in value:
            return "may not contain '%s'" % bad
    return None


def validate_metadata(rtype, obj, errs):
    """ObjectMeta rules every object follows."""
    meta = obj["metadata"]
    name = meta.get("name", "")
    if not name:
        errs.append(("FieldValueRequired", "metadata.name",
                     "Required value: name or generateName is required"))
    else:
        if rtype.kind == "Namespace":
            err = dns_label_error(name)
        elif rtype.builtin and rtype.group == "rbac.authorization.k8s.io":
            err = path_segment_error(name)
        elif rtype.builtin and rtype.kind == "Event":
            err = dns_subdomain_error(name) if "/" in name or len(name) > 253 else None
        else:
            err = dns_subdomain_error(name)
        if err:
            errs.append(("FieldValueInvalid", "metadata.name",
                         "Invalid value: %s: %s" % (go_value(name), err)))
    for key, value in (meta.get("labels") or {}).items():
        err = qualified_name_error(key)
        if err:
            errs.append(("FieldValueInvalid", "metadata.labels",
                         "Invalid value: %s: %s" % (go_value(key), err)))
        if value and (len(value) > 63 or not LABEL_NAME.match(value)):
            errs.append(("FieldValueInvalid", "metadata.labels",
                         "Invalid value: %s: a valid label must be an empty string or consist "
                         "of alphanumeric characters, '-', '_' or '.', and must start and end "
                         "with an alphanumeric character" % go_value(value)))
    for key in (meta.get("annotations") or {}):
        err = qualified_name_error(key.lower())
        if err:
            errs.append(("FieldValueInvalid", "metadata.annotations",
                         "Invalid value: %s: %s" % (go_value(key), err)))
    for i, fin in enumerate(meta.get("finalizers") or []):
        err = qualified_name_error(fin)
        if err:
            errs.append(("FieldValueInvalid", "metadata.finalizers[%d]" % i,
                         "Invalid value: %s: %s" % (go_value(fin), err)))


def check_meta_types(rtype, obj):
    """The typed decode of ObjectMeta a real server does: wrong types are 400s."""
    def fail(field, want, got):
        raise bad_request(
            '%s in version "%s" cannot be handled as a %s: json: cannot unmarshal %s into '
            'Go struct field ObjectMeta.metadata.%s of type %s'
            % (rtype.kind, rtype.version, rtype.kind, type_name(got), field, want))

    meta = obj.get("metadata")
    if meta is None:
        obj["metadata"] = meta = {}
    if not isinstance(meta, dict):
        raise bad_request('%s in version "%s" cannot be handled as a %s: json: cannot '
                          "unmarshal %s into Go struct field %s.metadata of type "
                          "v1.ObjectMeta" % (rtype.kind, rtype.version, rtype.kind,
                                             type_name(meta), rtype.kind))
    for field in ("name", "generateName", "namespace", "uid", "resourceVersion",
                  "creationTimestamp", "deletionTimestamp"):
        if field in meta and meta[field] is not None and not isinstance(meta[field], str):
            fail(field, "string", meta[field])
        if field in meta and meta[field] is None:
            del meta[field]
    for field in ("labels", "annotations"):
        if meta.get(field) is None:
            meta.pop(field, None)
            continue
        if not isinstance(meta[field], dict):
            fail(field, "map[string]string", meta[field])
        for value in meta[field].values():
            if not isinstance(value, str):
                fail(field, "string", value)
    if meta.get("finalizers") is None:
        meta.pop("finalizers", None)
    elif not isinstance(meta["finalizers"], list) or not all(
            isinstance(f, str) for f in meta["finalizers"]):
        fail("finalizers", "[]string", meta["finalizers"])

