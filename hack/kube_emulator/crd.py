"""CustomResourceDefinitions: their validation, the status the server sets on
them, and the resource types a CRD defines."""

from .errors import go_value
from .resources import ResourceType
from .timestamps import now_rfc3339


def validate_crd(obj, errs):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errs.append(("FieldValueRequired", "spec", "Required value"))
        return
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    group = spec.get("group")
    if not group or not isinstance(group, str):
        errs.append(("FieldValueRequired", "spec.group", "Required value"))
    for f in ("plural", "kind"):
        if not names.get(f):
            errs.append(("FieldValueRequired", "spec.names." + f, "Required value"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(("FieldValueNotSupported", "spec.scope",
                     'Unsupported value: %s: supported values: "Cluster", "Namespaced"'
                     % go_value(spec.get("scope"))))
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errs.append(("FieldValueInvalid", "spec.versions",
                     "Invalid value: null: must have exactly one version marked as storage "
                     "version"))
    elif sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
        errs.append(("FieldValueInvalid", "spec.versions",
                     "Invalid value: must have exactly one version marked as storage version"))
    if group and names.get("plural") and obj["metadata"].get("name") != "%s.%s" % (
            names["plural"], group):
        errs.append(("FieldValueInvalid", "metadata.name",
                     'Invalid value: %s: must be spec.names.plural+"."+spec.group'
                     % go_value(obj["metadata"].get("name"))))


def crd_status(obj):
    """Sets the status a real server gives an accepted CRD."""
    spec = obj["spec"]
    now = now_rfc3339()
    obj["status"] = {
        "acceptedNames": spec["names"],
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now}],
        "storedVersions": [v["name"] for v in spec.get("versions", []) if v.get("storage")]}


def crd_key(crd):
    """(group, plural) of the resources a CRD defines."""
    spec = crd.get("spec") or {}
    return spec.get("group"), (spec.get("names") or {}).get("plural")


def crd_types(crd):
    """The ResourceTypes of a CRD's served versions, in its order."""
    spec = crd["spec"]
    names = spec["names"]
    out = []
    for ver in spec.get("versions") or []:
        if not ver.get("served", True):
            continue
        schema = ((ver.get("schema") or {}).get("openAPIV3Schema")) or {}
        t = ResourceType(
            spec["group"], ver["name"], names["plural"],
            names.get("singular") or names["kind"].lower(), names["kind"],
            spec.get("scope", "Namespaced") == "Namespaced",
            short_names=names.get("shortNames") or (),
            categories=names.get("categories") or (),
            status="status" in (ver.get("subresources") or {}),
            schema=schema, columns=ver.get("additionalPrinterColumns") or [],
            selectable=[f["jsonPath"].lstrip(".") for f in ver.get("selectableFields") or []
                        if isinstance(f, dict) and f.get("jsonPath")],
            builtin=False)
        if names.get("listKind"):
            t.list_kind = names["listKind"]
        out.append(t)
    return out
