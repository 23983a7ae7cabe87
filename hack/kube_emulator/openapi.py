"""OpenAPI v3 documents, one per group version, generated from the registered
types: what kubectl's field-validation check and `kubectl explain` read."""

import copy
import hashlib
import json


OBJECT_META_REF = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
OBJECT_META_SCHEMA = {
    "description": "ObjectMeta is metadata that all persisted resources must have.",
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Name must be unique within a namespace."},
        "generateName": {"type": "string", "description": "Prefix for a generated name."},
        "namespace": {"type": "string", "description": "The namespace of the object."},
        "uid": {"type": "string", "description": "Set by the server on create."},
        "resourceVersion": {"type": "string", "description": "Opaque version of the object."},
        "generation": {"type": "integer", "format": "int64",
                       "description": "Sequence number of the desired state."},
        "creationTimestamp": {"type": "string", "format": "date-time"},
        "deletionTimestamp": {"type": "string", "format": "date-time"},
        "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
        "annotations": {"type": "object",
                        "additionalProperties": {"type": "string", "default": ""}},
        "finalizers": {"type": "array", "items": {"type": "string", "default": ""},
                       "x-kubernetes-list-type": "set"},
        "ownerReferences": {"type": "array", "items": {"type": "object",
                                                       "x-kubernetes-preserve-unknown-fields": True}},
        "managedFields": {"type": "array", "items": {"type": "object",
                                                     "x-kubernetes-preserve-unknown-fields": True}},
    },
}


def schema_name(t):
    if t.group == "":
        return "io.k8s.api.core.v1." + t.kind
    if t.group == "apiextensions.k8s.io":
        return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.%s.%s" % (t.version, t.kind)
    return ".".join(reversed(t.group.split("."))) + "." + t.version + "." + t.kind


def openapi_param(name, description):
    return {"name": name, "in": "query", "description": description,
            "schema": {"type": "string", "uniqueItems": True}}


WRITE_PARAMS = [
    openapi_param("dryRun", "When present, modifications are not persisted."),
    openapi_param("fieldManager", "The name of the actor making the change."),
    openapi_param("fieldValidation", "Ignore, Warn or Strict: how to treat unknown and "
                                     "duplicate fields."),
]


def openapi_doc(store, group, version):
    schemas = {"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": OBJECT_META_SCHEMA}
    paths = {}
    for t in store.resources(group, version):
        if "get" not in t.verbs:
            continue  # the access reviews: create only
        gvk = {"group": group, "version": version, "kind": t.kind}
        name = schema_name(t)
        if t.schema:
            schema = copy.deepcopy(t.schema)
        else:
            schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                      "properties": {"spec": {"type": "object",
                                              "x-kubernetes-preserve-unknown-fields": True},
                                     "status": {"type": "object",
                                                "x-kubernetes-preserve-unknown-fields": True}}}
        props = schema.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "description": "APIVersion defines the "
                                                                "versioned schema of this object."}
        props["kind"] = {"type": "string", "description": "Kind is a string value representing "
                                                          "the REST resource this object "
                                                          "represents."}
        props["metadata"] = {"description": "Standard object's metadata.",
                             "allOf": [{"$ref": OBJECT_META_REF}]}
        schema["x-kubernetes-group-version-kind"] = [gvk]
        schemas[name] = schema
        ref = {"$ref": "#/components/schemas/" + name}
        base = "/api/v1" if group == "" else "/apis/%s/%s" % (group, version)
        coll = base + ("/namespaces/{namespace}/" if t.namespaced else "/") + t.plural

        def op(action, params=(), op_id=""):
            return {"operationId": op_id or action + t.kind, "x-kubernetes-action": action,
                    "x-kubernetes-group-version-kind": gvk,
                    "parameters": list(params),
                    "responses": {"200": {"description": "OK", "content": {
                        "application/json": {"schema": ref}}}}}
        item = {"get": op("get"), "put": op("put", WRITE_PARAMS),
                "patch": op("patch", WRITE_PARAMS + [openapi_param("force", "Force apply.")]),
                "delete": op("delete", WRITE_PARAMS[:1])}
        paths[coll + "/{name}"] = item
        paths[coll] = {"get": op("list"), "post": op("post", WRITE_PARAMS)}
        if t.status:
            paths[coll + "/{name}/status"] = {
                "get": op("get", op_id="read%sStatus" % t.kind),
                "put": op("put", WRITE_PARAMS, "replace%sStatus" % t.kind),
                "patch": op("patch", WRITE_PARAMS, "patch%sStatus" % t.kind)}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": schemas}}


def gv_path(group, version):
    return "api/v1" if group == "" else "apis/%s/%s" % (group, version)


def openapi_root(store):
    """The /openapi/v3 index: each group version's document with its hash.
    The caller holds store.lock."""
    paths = {}
    for g, vs in store.groups().items():
        for v in vs:
            doc = json.dumps(openapi_doc(store, g, v), sort_keys=True).encode()
            h = hashlib.sha512(doc).hexdigest().upper()[:64]
            paths[gv_path(g, v)] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s"
                                                         % (gv_path(g, v), h)}
    return {"paths": paths}
