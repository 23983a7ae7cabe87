"""From a written body to an object fit to store: its kind and apiVersion,
the typed decode of ObjectMeta, unknown fields pruned (or refused with
fieldValidation=Strict), nulls dropped and defaults applied, then validation
(ObjectMeta, the CRD's structural schema, a CRD itself). Failures raise
ApiErrors: 400 for decoding, 422 Invalid for validation."""

from .crd import validate_crd
from .errors import bad_request, invalid
from .objectmeta import check_meta_types, validate_metadata
from .schema import drop_nulls_and_default, prune, validate


def check_type_meta(rtype, obj):
    """Refuses another kind; sets kind and apiVersion to rtype's."""
    if not isinstance(obj, dict):
        raise bad_request("the body of the request must be a JSON object")
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if (kind and kind != rtype.kind) or (api_version and api_version != rtype.api_version):
        if not (api_version and api_version.split("/")[0] == rtype.group and kind == rtype.kind):
            raise bad_request(
                '%s in version "%s" cannot be handled as a %s: the object provided is '
                'unrecognized (must be of type %s): %s, Kind=%s'
                % (rtype.kind, rtype.version, rtype.kind, rtype.kind, api_version, kind))
    obj["kind"] = rtype.kind
    obj["apiVersion"] = rtype.api_version


def decode(rtype, obj, params, warnings):
    """The decoding step: unknown fields are pruned, or refused when Strict."""
    check_meta_types(rtype, obj)
    if not rtype.builtin and rtype.schema:
        unknown = []
        prune(obj, rtype.schema, "", unknown, root=True)
        mode = params.get("fieldValidation", "")
        if unknown and mode == "Strict":
            raise bad_request(
                '%s in version "%s" cannot be handled as a %s: strict decoding error: %s'
                % (rtype.kind, rtype.version, rtype.kind,
                   ", ".join('unknown field "%s"' % u for u in unknown)))
        if unknown and mode in ("", "Warn"):
            warnings.extend('unknown field "%s"' % u for u in unknown)


def prepare(rtype, obj, params, warnings):
    """Pruning, defaulting and validation of a whole object."""
    decode(rtype, obj, params, warnings)
    if not rtype.builtin and rtype.schema:
        drop_nulls_and_default(obj, rtype.schema)
    errs = []
    validate_metadata(rtype, obj, errs)
    if not rtype.builtin and rtype.schema:
        body = {k: v for k, v in obj.items() if k != "metadata"}
        validate(body, rtype.schema, "", errs)
    if rtype.kind == "CustomResourceDefinition" and rtype.builtin:
        validate_crd(obj, errs)
    if errs:
        raise invalid(rtype, obj["metadata"].get("name", ""), errs)
