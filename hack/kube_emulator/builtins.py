"""What the strategies of some built-in types do on a write, beyond ObjectMeta:
a Secret's stringData folded into base64 data (and data checked to be
base64, as the typed decode of []byte does), its default type; a DaemonSet's
generation, template-generation annotation and initial status."""

import base64
import binascii

from .errors import bad_request

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


def on_create(rtype, obj):
    """Type-specific changes to a new object (after decoding)."""
    if rtype.key == ("", "secrets"):
        decode_secret(rtype, obj)
    elif rtype.key == ("apps", "daemonsets"):
        obj["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = "1"
        obj["status"] = {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                         "desiredNumberScheduled": 0, "numberReady": 0}


def on_update(rtype, old, new):
    """Type-specific changes to an updated object (after decoding); `old` is
    the stored one."""
    if rtype.key == ("", "secrets"):
        decode_secret(rtype, new)
    elif rtype.key == ("apps", "daemonsets"):
        annotations = new["metadata"].setdefault("annotations", {})
        generation = (old["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION, "1")
        if (old.get("spec") or {}).get("template") != (new.get("spec") or {}).get("template"):
            try:
                generation = str(int(generation) + 1)
            except ValueError:
                generation = "1"
        annotations[TEMPLATE_GENERATION] = generation
