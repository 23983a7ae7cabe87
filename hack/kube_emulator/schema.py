"""Structural schemas of custom resources: pruning of unknown fields, dropping
of nulls and defaulting, and validation with the real server's wording.

validate() appends (reason, field, message) causes; it never raises.
"""

import copy
import json
import re

from .errors import go_value, type_name
from .objectmeta import OBJECT_META_FIELDS

DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def join_path(path, key):
    return key if not path else path + "." + key


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def type_ok(v, t):
    return {"string": lambda: isinstance(v, str),
            "integer": lambda: is_int(v) or (isinstance(v, float) and v.is_integer()),
            "number": lambda: is_number(v),
            "boolean": lambda: isinstance(v, bool),
            "array": lambda: isinstance(v, list),
            "object": lambda: isinstance(v, dict)}.get(t, lambda: True)()


def prune(value, schema, path, unknown, root=False):
    """Removes fields the schema does not declare; records their paths."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        if root:
            for key in list(value):
                if key in ("apiVersion", "kind"):
                    continue
                if key == "metadata":
                    meta = value[key]
                    if isinstance(meta, dict):
                        for mk in list(meta):
                            if mk not in OBJECT_META_FIELDS:
                                unknown.append(join_path("metadata", mk))
                                del meta[mk]
                    continue
                props = schema.get("properties") or {}
                if key in props:
                    prune(value[key], props[key], key, unknown)
                elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                    unknown.append(key)
                    del value[key]
            return
        if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
            addl = schema.get("additionalProperties")
            if isinstance(addl, dict):
                for key in value:
                    prune(value[key], addl, join_path(path, key), unknown)
            return
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        if props is not None or isinstance(addl, dict) or schema.get("type") == "object":
            for key in list(value):
                if props and key in props:
                    prune(value[key], props[key], join_path(path, key), unknown)
                elif isinstance(addl, dict):
                    prune(value[key], addl, join_path(path, key), unknown)
                elif addl is True or schema.get("x-kubernetes-preserve-unknown-fields"):
                    continue
                else:
                    unknown.append(join_path(path, key))
                    del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            prune(item, schema["items"], "%s[%d]" % (path, i), unknown)


def drop_nulls_and_default(value, schema):
    """Drops null fields that are not nullable, then applies `default:`."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        addl = schema.get("additionalProperties")
        for key in list(value):
            sub = props.get(key) if key in props else (addl if isinstance(addl, dict) else None)
            if value[key] is None and not (sub or {}).get("nullable"):
                del value[key]
        for key, sub in props.items():
            if key not in value and isinstance(sub, dict) and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        for key in list(value):
            sub = props.get(key) if key in props else (addl if isinstance(addl, dict) else None)
            if sub is not None and key != "metadata":
                drop_nulls_and_default(value[key], sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            drop_nulls_and_default(item, schema["items"])


def validate(v, s, path, errs, depth=0):
    """Appends (reason, field, message) for every violation of schema s."""
    if not isinstance(s, dict) or depth > 200:
        return
    shown = path or "<root>"
    if v is None:
        if not s.get("nullable") and s.get("type"):
            errs.append(("FieldValueTypeInvalid", path,
                         'Invalid value: "null": %s in body must be of type %s: "null"'
                         % (shown, s["type"])))
        return
    if s.get("x-kubernetes-int-or-string"):
        if not (is_int(v) or isinstance(v, str)):
            errs.append(("FieldValueTypeInvalid", path,
                         'Invalid value: "%s": %s in body must be of type integer,string: "%s"'
                         % (type_name(v), shown, type_name(v))))
            return
    elif s.get("type") and not type_ok(v, s["type"]):
        errs.append(("FieldValueTypeInvalid", path,
                     'Invalid value: "%s": %s in body must be of type %s: "%s"'
                     % (type_name(v), shown, s["type"], type_name(v))))
        return
    if "enum" in s and v not in s["enum"]:
        errs.append(("FieldValueNotSupported", path,
                     "Unsupported value: %s: supported values: %s"
                     % (go_value(v), ", ".join(go_value(e) for e in s["enum"]))))
    if isinstance(v, str):
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append(("FieldValueTooLong", path,
                         "Too long: may not be more than %d bytes" % s["maxLength"]))
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append(("FieldValueInvalid", path,
                         "Invalid value: %s: %s in body should be at least %d chars long"
                         % (go_value(v), shown, s["minLength"])))
        if "pattern" in s:
            try:
                ok = re.search(s["pattern"], v) is not None
            except re.error:
                ok = True
            if not ok:
                errs.append(("FieldValueInvalid", path,
                             "Invalid value: %s: %s in body should match '%s'"
                             % (go_value(v), shown, s["pattern"])))
        if s.get("format") == "date-time" and not DATE_TIME.match(v):
            errs.append(("FieldValueInvalid", path,
                         "Invalid value: %s: %s in body must be of type date-time: %s"
                         % (go_value(v), shown, go_value(v))))
    if is_number(v):
        if "minimum" in s:
            if v < s["minimum"] or (s.get("exclusiveMinimum") and v == s["minimum"]):
                errs.append(("FieldValueInvalid", path,
                             "Invalid value: %s: %s in body should be greater than %s%s"
                             % (go_value(v), shown,
                                "" if s.get("exclusiveMinimum") else "or equal to ",
                                s["minimum"])))
        if "maximum" in s:
            if v > s["maximum"] or (s.get("exclusiveMaximum") and v == s["maximum"]):
                errs.append(("FieldValueInvalid", path,
                             "Invalid value: %s: %s in body should be less than %s%s"
                             % (go_value(v), shown,
                                "" if s.get("exclusiveMaximum") else "or equal to ",
                                s["maximum"])))
        if s.get("multipleOf") and v % s["multipleOf"] != 0:
            errs.append(("FieldValueInvalid", path,
                         "Invalid value: %s: %s in body should be a multiple of %s"
                         % (go_value(v), shown, s["multipleOf"])))
    if isinstance(v, list):
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append(("FieldValueTooMany", path,
                         "Too many: %d: must have at most %d items" % (len(v), s["maxItems"])))
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append(("FieldValueInvalid", path,
                         "Invalid value: %d: %s in body should have at least %d items"
                         % (len(v), shown, s["minItems"])))
        items = s.get("items")
        for i, item in enumerate(v):
            validate(item, items, "%s[%d]" % (path, i), errs, depth + 1)
        list_type = s.get("x-kubernetes-list-type")
        if list_type == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            seen = set()
            for i, item in enumerate(v):
                if not isinstance(item, dict):
                    continue
                k = json.dumps([item.get(key) for key in keys])
                if k in seen:
                    errs.append(("FieldValueDuplicate", "%s[%d]" % (path, i),
                                 "Duplicate value: map[string]interface {}{%s}" % ", ".join(
                                     "%s:%s" % (json.dumps(key), go_value(item.get(key)))
                                     for key in keys)))
                seen.add(k)
        elif list_type == "set" or s.get("uniqueItems"):
            seen = set()
            for i, item in enumerate(v):
                k = json.dumps(item, sort_keys=True)
                if k in seen:
                    errs.append(("FieldValueDuplicate", "%s[%d]" % (path, i),
                                 "Duplicate value: %s" % go_value(item)))
                seen.add(k)
    if isinstance(v, dict):
        for req in s.get("required") or []:
            if req not in v:
                errs.append(("FieldValueRequired", join_path(path, req), "Required value"))
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for key, sub in v.items():
            if key in props:
                if path == "" and key == "metadata":
                    continue
                validate(sub, props[key], join_path(path, key), errs, depth + 1)
            elif isinstance(addl, dict):
                validate(sub, addl, "%s[%s]" % (path, key) if path else key, errs, depth + 1)
        if "maxProperties" in s and len(v) > s["maxProperties"]:
            errs.append(("FieldValueTooMany", path,
                         "Too many: %d: must have at most %d items" % (len(v), s["maxProperties"])))
        if "minProperties" in s and len(v) < s["minProperties"]:
            errs.append(("FieldValueInvalid", path,
                         "Invalid value: %d: %s in body should have at least %d properties"
                         % (len(v), shown, s["minProperties"])))
    for sub in s.get("allOf") or []:
        validate(v, sub, path, errs, depth + 1)
    # With x-kubernetes-int-or-string the anyOf branches only name the two
    # types, which the type check above covered.
    if s.get("anyOf") and not s.get("x-kubernetes-int-or-string"):
        branch_errs = []
        for sub in s["anyOf"]:
            e = []
            validate(v, sub, path, e, depth + 1)
            if not e:
                break
            branch_errs.extend(e)
        else:
            errs.extend(branch_errs)
            errs.append(("FieldValueInvalid", path,
                         'Invalid value: "%s": %s in body must validate at least one schema '
                         "(anyOf)" % (type_name(v), shown)))
    if s.get("oneOf"):
        results = []
        for sub in s["oneOf"]:
            e = []
            validate(v, sub, path, e, depth + 1)
            results.append(e)
        passed = sum(1 for e in results if not e)
        if passed != 1:
            if passed == 0:
                for e in results:
                    errs.extend(e)
            errs.append(("FieldValueInvalid", path,
                         'Invalid value: "%s": %s in body must validate one and only one '
                         "schema (oneOf).%s" % (type_name(v), shown,
                                                 " Found %d valid alternatives" % passed
                                                 if passed else "")))
    if isinstance(s.get("not"), dict):
        e = []
        validate(v, s["not"], path, e, depth + 1)
        if not e:
            errs.append(("FieldValueInvalid", path,
                         'Invalid value: "%s": %s in body must not validate the schema (not)'
                         % (type_name(v), shown)))

