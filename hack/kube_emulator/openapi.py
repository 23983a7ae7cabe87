"""The OpenAPI documents: /openapi/v2 (Swagger 2.0, the whole server) and
/openapi/v3 (an index and one OpenAPI 3.0 document per group version), as
kube-openapi's handlers serve them; what kubectl's apply (strategic merge
patch metadata), explain and field-validation check read.

The built-in kinds' schemas come from apimodels (the Kubernetes Python
client's models); a custom resource's from its CRD's structural schema.
Both documents are built from one list of operations per resource, rendered
in each format. The caller passes a snapshot of the served types (a list of
ResourceType), taken under store.lock: building the documents needs no lock.
"""

import copy
import hashlib
import json

from . import apimodels
from .discovery import VERSION

META = apimodels.META
PATCH_DEF = META + "Patch"
STATUS_DEF = META + "Status"
DELETE_OPTIONS_DEF = META + "DeleteOptions"
EXTRA_DEFINITIONS = {
    PATCH_DEF: {"description": "Patch is provided to give a concrete name and type to the "
                               "Kubernetes PATCH request body.", "type": "object"},
}
PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"]
PRODUCES = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
PRODUCES_WATCH = PRODUCES + ["application/json;stream=watch",
                             "application/vnd.kubernetes.protobuf;stream=watch"]


def param(name, description, where="query", typ="string", required=False):
    return {"name": name, "in": where, "description": description, "type": typ,
            "required": required, "uniqueItems": True}


PRETTY = param("pretty", "If 'true', then the output is pretty printed.")
DRY_RUN = param("dryRun", "When present, indicates that modifications should not be "
                          "persisted. Valid values are: - All: all dry run stages will be "
                          "processed")
FIELD_MANAGER = param("fieldManager", "fieldManager is a name associated with the actor or "
                                      "entity that is making these changes.")
FIELD_VALIDATION = param("fieldValidation", "fieldValidation instructs the server on how to "
                                            "handle objects in the request containing unknown "
                                            "or duplicate fields. Valid values are: Ignore, "
                                            "Warn, Strict.")
FORCE = param("force", "Force is going to \"force\" Apply requests.", typ="boolean")
WRITE = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]
DELETE = [DRY_RUN, param("gracePeriodSeconds", "The duration in seconds before the object "
                                               "should be deleted.", typ="integer"),
          param("orphanDependents", "Deprecated: please use the PropagationPolicy.",
                typ="boolean"),
          param("propagationPolicy", "Whether and how garbage collection will be performed.")]
LIST = [param("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type "
                                     "\"BOOKMARK\".", typ="boolean"),
        param("continue", "The continue option should be set when retrieving more results "
                          "from the server."),
        param("fieldSelector", "A selector to restrict the list of returned objects by their "
                               "fields. Defaults to everything."),
        param("labelSelector", "A selector to restrict the list of returned objects by their "
                               "labels. Defaults to everything."),
        param("limit", "limit is a maximum number of responses to return for a list call.",
              typ="integer"),
        param("resourceVersion", "resourceVersion sets a constraint on what resource versions "
                                 "a request may be served from."),
        param("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is "
                                      "applied to list calls."),
        param("sendInitialEvents", "`sendInitialEvents=true` may be set together with "
                                   "`watch=true`.", typ="boolean"),
        param("timeoutSeconds", "Timeout for the list/watch call.", typ="integer"),
        param("watch", "Watch for changes to the described resources and return them as a "
                       "stream of add, update, and remove notifications.", typ="boolean")]
DELETE_COLLECTION = [p for p in LIST if p["name"] not in ("allowWatchBookmarks", "watch")]


def gv_camel(group, version):
    """AppsV1, CoreV1, RbacAuthorizationV1: the operation id's group version."""
    return apimodels.class_prefix(group) + version[0].upper() + version[1:]


def gv_tag(group, version):
    return "core_" + version if group == "" else \
        "%s_%s" % (group.replace(".k8s.io", "").replace(".", "_"), version)


def gv_path(group, version):
    return "api/v1" if group == "" else "apis/%s/%s" % (group, version)


class Op:
    """One operation of one path, before rendering: action (get, list, put,
    post, patch, delete, deletecollection), id, query parameters, body (a
    definition name or None) and its media types, and the response
    definitions by code."""

    def __init__(self, method, action, op_id, gvk, params, body, consumes, responses,
                 produces=PRODUCES, description=""):
        self.method, self.action, self.op_id, self.gvk = method, action, op_id, gvk
        self.params, self.body, self.consumes = params, body, consumes
        self.responses, self.produces, self.description = responses, produces, description


def resource_paths(t, kind_def, list_def):
    """{path: ([path parameters], [Op])} of a resource type, as the real
    server's route table has them (without the deprecated /watch/ paths)."""
    gvk = {"group": t.group, "kind": t.kind, "version": t.version}
    gv = gv_camel(t.group, t.version)
    ns = "Namespaced" if t.namespaced else ""
    base = "/" + gv_path(t.group, t.version)
    coll = base + ("/namespaces/{namespace}/" if t.namespaced else "/") + t.plural
    ns_params = [param("namespace", "object name and auth scope, such as for teams and "
                                    "projects", "path", required=True)] if t.namespaced else []
    name_param = param("name", "name of the " + t.kind, "path", required=True)
    patch_types = PATCH_TYPES if t.builtin else [p for p in PATCH_TYPES if "strategic" not in p]
    out = {}
    if t.verbs == ["create"]:
        out[coll] = ([PRETTY], [Op("post", "post", "create%s%s%s" % (gv, ns, t.kind), gvk,
                             WRITE, kind_def, ["*/*"],
                             {"200": kind_def, "201": kind_def, "202": kind_def})])
        return out
    coll_ops = []
    if "list" in t.verbs:
        coll_ops.append(Op("get", "list", "list%s%s%s" % (gv, ns, t.kind), gvk,
                           LIST, None, ["*/*"], {"200": list_def},
                           PRODUCES_WATCH, "list or watch objects of kind " + t.kind))
    if "create" in t.verbs:
        coll_ops.append(Op("post", "post", "create%s%s%s" % (gv, ns, t.kind), gvk,
                           WRITE, kind_def, ["*/*"],
                           {"200": kind_def, "201": kind_def, "202": kind_def},
                           description="create a " + t.kind))
    if "deletecollection" in t.verbs:
        coll_ops.append(Op("delete", "deletecollection",
                           "delete%sCollection%s%s" % (gv, ns, t.kind), gvk,
                           DELETE + DELETE_COLLECTION, DELETE_OPTIONS_DEF, ["*/*"],
                           {"200": STATUS_DEF}, description="delete collection of " + t.kind))
    out[coll] = (ns_params + [PRETTY], coll_ops)
    item_params = [name_param] + ns_params + [PRETTY]

    def item_ops(suffix, what, verbs):
        ops = [Op("get", "get", "read%s%s%s%s" % (gv, ns, t.kind, suffix), gvk, [], None,
                  ["*/*"], {"200": kind_def},
                  description="read %sthe specified %s" % (what, t.kind)),
               Op("put", "put", "replace%s%s%s%s" % (gv, ns, t.kind, suffix), gvk,
                  WRITE, kind_def, ["*/*"], {"200": kind_def, "201": kind_def},
                  description="replace %sthe specified %s" % (what, t.kind)),
               Op("delete", "delete", "delete%s%s%s" % (gv, ns, t.kind), gvk,
                  DELETE, DELETE_OPTIONS_DEF, ["*/*"],
                  {"200": STATUS_DEF if not t.returns_deleted else kind_def,
                   "202": STATUS_DEF if not t.returns_deleted else kind_def},
                  description="delete a " + t.kind),
               Op("patch", "patch", "patch%s%s%s%s" % (gv, ns, t.kind, suffix), gvk,
                  WRITE + [FORCE], PATCH_DEF, patch_types,
                  {"200": kind_def, "201": kind_def},
                  description="partially update %sthe specified %s" % (what, t.kind))]
        return [op for op in ops if {"put": "update"}.get(op.action, op.action) in verbs]
    ops = item_ops("", "", t.verbs)
    out[coll + "/{name}"] = (item_params, ops)
    if t.status:
        out[coll + "/{name}/status"] = (item_params, item_ops("Status", "status of ",
                                                              ["get", "update", "patch"]))
    if "list" in t.verbs and t.namespaced:
        out[base + "/" + t.plural] = (LIST + [PRETTY], [
            Op("get", "list", "list%s%sForAllNamespaces" % (gv, t.kind), gvk, [],
               None, ["*/*"], {"200": list_def}, PRODUCES_WATCH,
               "list or watch objects of kind " + t.kind)])
    return out


def custom_resource_schema(t, ref_prefix):
    """A custom resource's definition: its CRD's structural schema with
    apiVersion, kind and metadata (ObjectMeta by reference)."""
    schema = copy.deepcopy(t.schema or {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": True})
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "description": "APIVersion defines the "
                                                            "versioned schema of this object."}
    props["kind"] = {"type": "string", "description": "Kind is a string value representing "
                                                      "the REST resource this object "
                                                      "represents."}
    props["metadata"] = {"$ref": ref_prefix + META + "ObjectMeta",
                         "description": "Standard object's metadata."}
    schema["x-kubernetes-group-version-kind"] = [
        {"group": t.group, "kind": t.kind, "version": t.version}]
    return schema


def custom_resource_list_schema(t, ref_prefix, item_ref):
    return {"type": "object", "required": ["items"],
            "properties": {"apiVersion": {"type": "string"},
                           "items": {"type": "array", "items": {"$ref": item_ref}},
                           "kind": {"type": "string"},
                           "metadata": {"$ref": ref_prefix + META + "ListMeta"}},
            "x-kubernetes-group-version-kind": [
                {"group": t.group, "kind": t.list_kind, "version": t.version}]}


def to_v2_structural(s):
    """A CRD schema as the v2 document publishes it (apiextensions-apiserver's
    ToStructuralOpenAPIV2): no allOf, oneOf, anyOf or not; a nullable
    field, and one preserving unknown fields, loses its items and
    properties (a nullable one its type too); an array left without items
    loses its type; nullable properties are not required."""
    if not isinstance(s, dict):
        return s
    out = {k: v for k, v in s.items() if k not in ("allOf", "oneOf", "anyOf", "not")}
    if "properties" in out:
        out["properties"] = {k: to_v2_structural(v) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = to_v2_structural(out["items"])
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = to_v2_structural(out["additionalProperties"])
    if out.pop("nullable", False):
        out.pop("type", None)
        out.pop("items", None)
        out.pop("properties", None)
    if out.get("x-kubernetes-preserve-unknown-fields"):
        out.pop("items", None)
        out.pop("properties", None)
    if out.get("type") == "array" and "items" not in out:
        del out["type"]
    nullable = [k for k, v in s.get("properties", {}).items()
                if isinstance(v, dict) and v.get("nullable")]
    if "required" in out and nullable:
        out["required"] = [r for r in out["required"] if r not in nullable]
    additional = s.get("additionalProperties")
    if "required" in out and isinstance(additional, dict) and additional.get("nullable"):
        out["required"] = []
    if out.get("required") == []:
        del out["required"]
    return out


def custom_resource_name(t):
    return ".".join(reversed(t.group.split("."))) + "." + t.version + "." + t.kind


def builtin_definitions(types):
    """Definitions of the built-in kinds among types (and every type they
    reach, Status, DeleteOptions and Patch); (definitions, names by
    (group, version, kind))."""
    kinds = sorted({(t.group, t.version, t.kind) for t in types if t.builtin})
    kinds += [("", "v1", "Status"), ("", "v1", "DeleteOptions")]
    defs, names = apimodels.catalog().definitions(kinds)
    for k in (("", "v1", "Status"), ("", "v1", "DeleteOptions")):
        d = defs.get(names.get(k, ""))
        if d:
            d.pop("x-kubernetes-group-version-kind", None)
    defs.update(copy.deepcopy(EXTRA_DEFINITIONS))
    return defs, names


def definitions_and_paths(types, ref_prefix, v2=False):
    """(definitions with ref_prefix references, {path: (params, [Op])});
    v2: custom resources' schemas as the v2 document publishes them."""
    defs, names = builtin_definitions(types)
    paths = {}
    for t in types:
        if t.builtin:
            kind_def = names.get((t.group, t.version, t.kind))
            list_def = names.get((t.group, t.version, t.list_kind))
            if kind_def is None:
                continue
        else:
            kind_def = custom_resource_name(t)
            list_def = kind_def + "List"
            defs[kind_def] = custom_resource_schema(t, "#/definitions/")
            if v2:
                defs[kind_def] = to_v2_structural(defs[kind_def])
            defs[list_def] = custom_resource_list_schema(t, "#/definitions/",
                                                         "#/definitions/" + kind_def)
        paths.update(resource_paths(t, kind_def, list_def))
    if ref_prefix != "#/definitions/":
        defs = rewrite_refs(defs, "#/definitions/", ref_prefix)
    return defs, paths


def rewrite_refs(s, old, new):
    if isinstance(s, list):
        return [rewrite_refs(x, old, new) for x in s]
    if not isinstance(s, dict):
        return s
    out = {k: rewrite_refs(v, old, new) for k, v in s.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(old):
        out["$ref"] = new + ref[len(old):]
    return out


# -- v2 --

def sorted_params(params):
    """Parameters by name, as the real server's route builder lists them."""
    return sorted(params, key=lambda p: p["name"])


def v2_operation(op):
    params = [dict(p) for p in sorted_params(op.params)]
    if op.body:
        params.insert(0, {"name": "body", "in": "body", "required": op.method != "delete",
                          "schema": {"$ref": "#/definitions/" + op.body}})
    responses = {code: {"description": "OK" if code == "200" else
                        ("Created" if code == "201" else "Accepted"),
                        "schema": {"$ref": "#/definitions/" + ref}}
                 for code, ref in op.responses.items()}
    responses["401"] = {"description": "Unauthorized"}
    out = {"description": op.description or op.action, "consumes": op.consumes,
           "produces": op.produces, "schemes": ["https"],
           "tags": [gv_tag(op.gvk["group"], op.gvk["version"])],
           "operationId": op.op_id, "responses": responses,
           "x-kubernetes-action": op.action, "x-kubernetes-group-version-kind": op.gvk}
    if params:
        out["parameters"] = params
    for p in params:
        if p.get("required") is False:
            del p["required"]
    return out


def openapi_v2(types):
    """The Swagger 2.0 document of the whole server."""
    defs, paths = definitions_and_paths(types, "#/definitions/", v2=True)
    out_paths = {}
    for path, (params, ops) in paths.items():
        item = {op.method: v2_operation(op) for op in ops}
        if params:
            item["parameters"] = [dict(p) for p in sorted_params(params)]
            for p in item["parameters"]:
                if p.get("required") is False:
                    del p["required"]
        out_paths[path] = item
    return {"swagger": "2.0", "info": {"title": "Kubernetes",
                                       "version": VERSION["gitVersion"]},
            "paths": out_paths, "definitions": defs,
            "securityDefinitions": {"BearerToken": {
                "description": "Bearer Token authentication", "type": "apiKey",
                "name": "authorization", "in": "header"}},
            "security": [{"BearerToken": []}]}


# -- v3 --

def v3_schema(s):
    """A v2 schema as the v3 documents write it: a reference with siblings
    becomes allOf [reference] (kube-openapi's form)."""
    if isinstance(s, list):
        return [v3_schema(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {k: v3_schema(v) for k, v in s.items()}
    if isinstance(out.get("$ref"), str) and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}]
    return out


def v3_param(p):
    return {"name": p["name"], "in": p["in"], "description": p["description"],
            **({"required": True} if p["required"] else {}),
            "schema": {"type": p["type"], "uniqueItems": True}}


def v3_operation(op, ref_prefix):
    def content(ref, types):
        return {mt: {"schema": {"$ref": ref_prefix + ref}} for mt in types}
    out = {"tags": [gv_tag(op.gvk["group"], op.gvk["version"])],
           "description": op.description or op.action, "operationId": op.op_id}
    if op.params:
        out["parameters"] = [v3_param(p) for p in sorted_params(op.params)]
    if op.body:
        out["requestBody"] = {"content": content(op.body, op.consumes if op.consumes != ["*/*"]
                                                 else ["*/*"])}
        if op.method != "delete":
            out["requestBody"]["required"] = True
    out["responses"] = {code: {"description": "OK" if code == "200" else
                               ("Created" if code == "201" else "Accepted"),
                               "content": content(ref, op.produces)}
                        for code, ref in op.responses.items()}
    out["responses"]["401"] = {"description": "Unauthorized"}
    out["x-kubernetes-action"] = op.action
    out["x-kubernetes-group-version-kind"] = op.gvk
    return out


def reachable(defs, roots, ref_prefix):
    """The definitions reachable from roots (names)."""
    seen, todo = set(), list(roots)
    while todo:
        n = todo.pop()
        if n in seen or n not in defs:
            continue
        seen.add(n)
        stack = [defs[n]]
        while stack:
            s = stack.pop()
            if isinstance(s, dict):
                ref = s.get("$ref")
                if isinstance(ref, str) and ref.startswith(ref_prefix):
                    todo.append(ref[len(ref_prefix):])
                stack.extend(s.values())
            elif isinstance(s, list):
                stack.extend(s)
    return {n: defs[n] for n in sorted(seen)}


def openapi_v3(types, group, version):
    """The OpenAPI 3.0 document of one group version (types: the served
    types of all group versions)."""
    ref_prefix = "#/components/schemas/"
    gv_types = [t for t in types if t.group == group and t.version == version]
    defs, paths = definitions_and_paths(gv_types, ref_prefix)
    out_paths, roots = {}, set()
    for path, (params, ops) in paths.items():
        item = {op.method: v3_operation(op, ref_prefix) for op in ops}
        for op in ops:
            roots.update(r for r in [op.body] + list(op.responses.values()) if r)
        if params:
            item["parameters"] = [v3_param(p) for p in sorted_params(params)]
        out_paths[path] = item
    schemas = {n: v3_schema(d) for n, d in reachable(defs, roots, ref_prefix).items()}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes",
                                         "version": VERSION["gitVersion"]},
            "paths": out_paths, "components": {
                "schemas": schemas,
                "securitySchemes": {"BearerToken": {
                    "type": "apiKey", "description": "Bearer Token authentication",
                    "name": "authorization", "in": "header"}}}}


def etag(data):
    """kube-openapi's ETag and v3 hash: the SHA-512 of the served bytes,
    upper-case hex."""
    return hashlib.sha512(data).hexdigest().upper()


def encode(doc):
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def openapi_v3_root(types, gvs):
    """The /openapi/v3 index: each group version's document with its hash."""
    paths = {}
    for g, v in gvs:
        h = etag(encode(openapi_v3(types, g, v)))
        paths[gv_path(g, v)] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s"
                                                     % (gv_path(g, v), h)}
    return {"paths": paths}


V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
# kube-openapi handler's accepted media types, in its order: subtype ->
# what is served.
V2_MEDIA_TYPES = {"json": "json",
                  "com.github.proto-openapi.spec.v2@v1.0+protobuf": "protobuf",
                  "com.github.proto-openapi.spec.v2.v1.0+protobuf": "protobuf"}


def negotiate(accept, subtypes):
    """What goautoneg and kube-openapi's handlers choose: the Accept clauses
    sorted by q (then fewer wildcards), the first that matches an
    application/<subtype> of subtypes; None (406) when none does. subtypes
    is a list or a {subtype: result} dict."""
    if isinstance(subtypes, list):
        subtypes = {s: s for s in subtypes}
    clauses = []
    for i, part in enumerate((accept or "*/*").split(",")):
        fields = [f.strip() for f in part.split(";")]
        if "/" not in fields[0]:
            continue
        typ, sub = fields[0].split("/", 1)
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        if q > 0:
            clauses.append((-q, (typ == "*") + (sub == "*"), i, typ, sub))
    for _, _, _, typ, sub in sorted(clauses):
        for want, result in subtypes.items():
            if typ in ("application", "*") and sub in (want, "*"):
                return result
    return None
