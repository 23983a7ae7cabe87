"""What the strategies of some built-in types do on a write, beyond ObjectMeta:
a Secret's stringData folded into base64 data (and data checked to be
base64, as the typed decode of []byte does), its default type; the key rules
of Secrets and ConfigMaps and what `immutable` and a Secret's type forbid on
update (ValidateSecretUpdate, ValidateConfigMapUpdate); a DaemonSet's
generation, template-generation annotation and initial status."""

import base64
import binascii
import re

from .errors import bad_request, go_value, invalid

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def decode_secret(rtype, obj):
    """The typed decode of a Secret: data values must be base64 (400
    otherwise); stringData is written over data and dropped; type defaults to
    Opaque."""
    for field in ("data", "stringData"):
        value = obj.get(field)
        if value is None:
            obj.pop(field, None)
        elif not isinstance(value, dict):
            raise bad_request('Secret in version "v1" cannot be handled as a Secret: json: '
                              "cannot unmarshal %s into Go struct field Secret.%s of type "
                              "map[string][]byte" % (type(value).__name__, field))
    for key, value in (obj.get("data") or {}).items():
        if value is None:
            obj["data"][key] = ""
            continue
        try:
            base64.b64decode(value if isinstance(value, str) else "!", validate=True)
        except (binascii.Error, ValueError):
            raise bad_request('Secret in version "v1" cannot be handled as a Secret: illegal '
                              "base64 data at input byte 0")
    for key, value in (obj.pop("stringData", None) or {}).items():
        obj.setdefault("data", {})[key] = base64.b64encode(
            str(value).encode()).decode()
    if not obj.get("type"):
        obj["type"] = "Opaque"


CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
IMMUTABLE = "Forbidden: field is immutable when `immutable` is set"


def key_errors(obj, fields):
    """ValidateSecret/ValidateConfigMap: every key a valid config key, unique
    across data and binaryData."""
    errs, seen = [], set()
    for field in fields:
        for key in (obj.get(field) or {}):
            if not CONFIG_KEY.match(key) or key in (".", ".."):
                errs.append(("FieldValueInvalid", "%s[%s]" % (field, key),
                             "Invalid value: %s: a valid config key must consist of alphanumeric "
                             "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                             "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
                             % go_value(key)))
            elif key in seen:
                errs.append(("FieldValueDuplicate", "data[%s]" % key,
                             "Duplicate value: %s" % go_value(key)))
            seen.add(key)
    return errs


def check(rtype, obj, old=None):
    fields = ("data",) if rtype.key == ("", "secrets") else ("data", "binaryData")
    errs = key_errors(obj, fields)
    if old is not None:
        if rtype.key == ("", "secrets") and obj.get("type") != old.get("type"):
            errs.append(("FieldValueInvalid", "type", "Invalid value: %s: field is immutable"
                         % go_value(obj.get("type", ""))))
        if old.get("immutable") is True:
            if obj.get("immutable") is not True:
                errs.append(("FieldValueForbidden", "immutable", IMMUTABLE))
            for field in fields:
                if obj.get(field) != old.get(field):
                    errs.append(("FieldValueForbidden", field, IMMUTABLE))
    if errs:
        raise invalid(rtype, obj["metadata"].get("name", ""), errs)


def on_create(rtype, obj):
    """Type-specific changes to a new object (after decoding)."""
    if rtype.key == ("", "secrets"):
        decode_secret(rtype, obj)
        check(rtype, obj)
    elif rtype.key == ("", "configmaps"):
        check(rtype, obj)
    elif rtype.key == ("apps", "daemonsets"):
        obj["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = "1"
        obj["status"] = {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                         "desiredNumberScheduled": 0, "numberReady": 0}


def on_update(rtype, old, new):
    """Type-specific changes to an updated object (after decoding); `old` is
    the stored one."""
    if rtype.key == ("", "secrets"):
        decode_secret(rtype, new)
        check(rtype, new, old)
    elif rtype.key == ("", "configmaps"):
        check(rtype, new, old)
    elif rtype.key == ("apps", "daemonsets"):
        annotations = new["metadata"].setdefault("annotations", {})
        generation = (old["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION, "1")
        if (old.get("spec") or {}).get("template") != (new.get("spec") or {}).get("template"):
            try:
                generation = str(int(generation) + 1)
            except ValueError:
                generation = "1"
        annotations[TEMPLATE_GENERATION] = generation
