"""The OpenAPI documents: the built-in kinds' schemas read from the Python
client's models, the patch extensions, v2 in protobuf, content negotiation."""

import json
import unittest

from kube_emulator import apimodels, openapi, openapi_proto
from kube_emulator.resources import ResourceType, builtin_types

CORE = "io.k8s.api.core.v1."


def read_varint(data, i):
    n, shift = 0, 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def fields(data):
    """[(field number, wire type, value)] of one protobuf message."""
    out, i = [], 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(data, i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 2:
            size, i = read_varint(data, i)
            value, i = data[i:i + size], i + size
        else:
            raise AssertionError("wire type %d" % wire)
        out.append((number, wire, value))
    return out


def field(data, number):
    return [v for n, _, v in fields(data) if n == number]


class ModelsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.types = builtin_types()
        cls.defs, cls.names = openapi.builtin_definitions(cls.types)

    def test_kinds_named_as_the_api_server_names_them(self):
        self.assertEqual(self.names[("apps", "v1", "DaemonSet")], "io.k8s.api.apps.v1.DaemonSet")
        self.assertEqual(self.names[("", "v1", "Event")], CORE + "Event")
        self.assertEqual(self.names[("rbac.authorization.k8s.io", "v1", "ClusterRole")],
                         "io.k8s.api.rbac.v1.ClusterRole")
        self.assertEqual(self.names[("apiextensions.k8s.io", "v1", "CustomResourceDefinition")],
                         "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
                         "CustomResourceDefinition")
        ds = self.defs["io.k8s.api.apps.v1.DaemonSet"]
        self.assertEqual(ds["x-kubernetes-group-version-kind"],
                         [{"group": "apps", "kind": "DaemonSet", "version": "v1"}])
        # Types reached from apps and rbac keep their own packages.
        for name in (CORE + "PodTemplateSpec", CORE + "PodSpec", CORE + "Container",
                     apimodels.META + "ObjectMeta", apimodels.META + "LabelSelector",
                     "io.k8s.api.rbac.v1.PolicyRule", "io.k8s.api.rbac.v1.Subject",
                     "io.k8s.api.rbac.v1.RoleRef", "io.k8s.apiextensions-apiserver.pkg.apis."
                     "apiextensions.v1.JSONSchemaProps"):
            self.assertIn(name, self.defs)

    def test_every_reference_resolves(self):
        refs = []

        def walk(s):
            if isinstance(s, dict):
                if isinstance(s.get("$ref"), str):  # JSONSchemaProps has a "$ref" field
                    refs.append(s["$ref"])
                for v in s.values():
                    walk(v)
            elif isinstance(s, list):
                for v in s:
                    walk(v)
        walk(self.defs)
        self.assertTrue(refs)
        for ref in refs:
            self.assertTrue(ref.startswith("#/definitions/"), ref)
            self.assertIn(ref[len("#/definitions/"):], self.defs)

    def test_fields_types_descriptions_and_required(self):
        container = self.defs[CORE + "Container"]
        self.assertEqual(container["required"], ["name"])
        props = container["properties"]
        self.assertEqual(props["image"]["type"], "string")
        self.assertIn("image name", props["image"]["description"])
        self.assertEqual(props["env"]["items"], {"$ref": "#/definitions/" + CORE + "EnvVar"})
        self.assertEqual(props["volumeMounts"]["items"]["$ref"],
                         "#/definitions/" + CORE + "VolumeMount")
        self.assertEqual(props["ports"]["items"]["$ref"], "#/definitions/" + CORE + "ContainerPort")
        self.assertEqual(self.defs[CORE + "ContainerPort"]["properties"]["containerPort"]["type"],
                         "integer")
        self.assertEqual(self.defs[CORE + "PodSpec"]["properties"]["nodeSelector"],
                         {"type": "object", "additionalProperties": {"type": "string"},
                          "description": self.defs[CORE + "PodSpec"]["properties"][
                              "nodeSelector"]["description"]})
        self.assertEqual(self.defs[CORE + "PodSpec"]["properties"]["hostPID"]["type"], "boolean")
        spec = self.defs["io.k8s.api.apps.v1.DaemonSetSpec"]
        self.assertEqual(spec["required"], ["selector", "template"])
        self.assertEqual(self.defs["io.k8s.api.rbac.v1.PolicyRule"]["required"], ["verbs"])
        meta = self.defs[apimodels.META + "ObjectMeta"]["properties"]
        self.assertEqual(meta["creationTimestamp"]["format"], "date-time")
        # IntOrString is an `object` in the models: no type, anything goes.
        probe = self.defs[CORE + "HTTPGetAction"]["properties"]["port"]
        self.assertNotIn("type", probe)

    def test_patch_extensions_follow_the_smp_table(self):
        def prop(name, field):
            return self.defs[name]["properties"][field]
        spec = CORE + "PodSpec"
        self.assertEqual(prop(spec, "containers")["x-kubernetes-patch-merge-key"], "name")
        self.assertEqual(prop(spec, "containers")["x-kubernetes-patch-strategy"], "merge")
        self.assertEqual(prop(spec, "volumes")["x-kubernetes-patch-strategy"], "merge,retainKeys")
        self.assertEqual(prop(spec, "imagePullSecrets")["x-kubernetes-patch-merge-key"], "name")
        for field, key in (("env", "name"), ("ports", "containerPort"),
                           ("volumeMounts", "mountPath"), ("volumeDevices", "devicePath")):
            self.assertEqual(prop(CORE + "Container", field)["x-kubernetes-patch-merge-key"], key)
        self.assertNotIn("x-kubernetes-patch-strategy", prop(CORE + "Container", "args"))
        self.assertNotIn("x-kubernetes-patch-strategy", prop(spec, "tolerations"))
        meta = apimodels.META + "ObjectMeta"
        self.assertEqual(prop(meta, "finalizers")["x-kubernetes-patch-strategy"], "merge")
        self.assertNotIn("x-kubernetes-patch-merge-key", prop(meta, "finalizers"))
        self.assertEqual(prop(meta, "ownerReferences")["x-kubernetes-patch-merge-key"], "uid")
        self.assertEqual(prop(CORE + "ServiceAccount", "secrets")["x-kubernetes-patch-merge-key"],
                         "name")
        self.assertEqual(prop(CORE + "NodeStatus", "addresses")["x-kubernetes-patch-merge-key"],
                         "type")

    def test_models_missing_is_a_clear_error(self):
        with self.assertRaisesRegex(apimodels.ModelsMissing, "no model classes in /"):
            apimodels.Catalog("/")


class DocumentsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cr = ResourceType("berth.dev", "v1alpha1", "things", "thing", "Thing", True,
                          builtin=False, status=True, schema={
                              "type": "object", "properties": {"spec": {
                                  "type": "object", "properties": {
                                      "port": {"x-kubernetes-int-or-string": True,
                                               "anyOf": [{"type": "integer"},
                                                         {"type": "string"}]},
                                      "note": {"type": "string", "nullable": True},
                                      "oneOf": {"type": "string"},
                                      "free": {"type": "object", "properties": {
                                          "a": {"type": "string"}},
                                          "x-kubernetes-preserve-unknown-fields": True},
                                      "mode": {"type": "string", "enum": ["a", "b"]}},
                                  "required": ["mode", "note"],
                                  "oneOf": [{"required": ["port"]}, {"required": ["note"]}]}}})
        cls.types = builtin_types() + [cr]
        cls.v2 = openapi.openapi_v2(cls.types)

    def test_v2_paths_and_custom_resources(self):
        paths = self.v2["paths"]
        item = paths["/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}"]
        self.assertEqual(item["patch"]["operationId"], "patchAppsV1NamespacedDaemonSet")
        self.assertEqual(item["patch"]["x-kubernetes-group-version-kind"],
                         {"group": "apps", "kind": "DaemonSet", "version": "v1"})
        self.assertEqual(item["patch"]["parameters"][0]["schema"],
                         {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"})
        self.assertIn("/apis/apps/v1/daemonsets", paths)
        self.assertEqual(sorted(paths["/apis/authorization.k8s.io/v1/subjectaccessreviews"]),
                         ["parameters", "post"])
        # Parameters by name, the body first.
        self.assertEqual([p["name"] for p in item["patch"]["parameters"]],
                         ["body", "dryRun", "fieldManager", "fieldValidation", "force"])
        self.assertEqual([p["name"] for p in item["parameters"]], ["name", "namespace", "pretty"])
        thing = self.v2["definitions"]["dev.berth.v1alpha1.Thing"]["properties"]["spec"]
        self.assertNotIn("oneOf", thing)
        self.assertEqual(thing["properties"]["port"], {"x-kubernetes-int-or-string": True})
        self.assertEqual(thing["properties"]["note"], {})
        self.assertEqual(thing["properties"]["oneOf"], {"type": "string"})  # a field's name
        self.assertEqual(thing["properties"]["free"], {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True})
        self.assertEqual(thing["required"], ["mode"])
        self.assertEqual(thing["properties"]["mode"], {"type": "string", "enum": ["a", "b"]})
        patch = paths["/apis/berth.dev/v1alpha1/namespaces/{namespace}/things/{name}"]["patch"]
        self.assertNotIn("application/strategic-merge-patch+json", patch["consumes"])

    def test_v3_per_group_version(self):
        doc = openapi.openapi_v3(self.types, "rbac.authorization.k8s.io", "v1")
        schemas = doc["components"]["schemas"]
        self.assertIn("io.k8s.api.rbac.v1.PolicyRule", schemas)
        self.assertNotIn(CORE + "PodSpec", schemas)  # only what this group version reaches
        role = schemas["io.k8s.api.rbac.v1.ClusterRole"]["properties"]
        # The models keep no description of a field whose type is a struct.
        self.assertEqual(role["metadata"],
                         {"$ref": "#/components/schemas/" + apimodels.META + "ObjectMeta"})
        # A reference with siblings is wrapped in allOf, as kube-openapi writes it.
        self.assertEqual(openapi.v3_schema({"$ref": "#/x", "description": "d"}),
                         {"allOf": [{"$ref": "#/x"}], "description": "d"})
        schemas = openapi.openapi_v3(self.types, "apiextensions.k8s.io", "v1")[
            "components"]["schemas"]
        props = schemas["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
                        "JSONSchemaProps"]["properties"]
        self.assertEqual(props["$ref"], {"type": "string"})
        patch = doc["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]["patch"]
        self.assertEqual(sorted(patch["requestBody"]["content"]), sorted(openapi.PATCH_TYPES))
        self.assertIn("fieldValidation", [p["name"] for p in patch["parameters"]])
        doc = openapi.openapi_v3(self.types, "berth.dev", "v1alpha1")
        thing = doc["components"]["schemas"]["dev.berth.v1alpha1.Thing"]
        self.assertIn("oneOf", thing["properties"]["spec"])  # v3 keeps the CRD's schema

    def test_protobuf_document_carries_the_json_one(self):
        data = openapi_proto.encode_document(self.v2)
        self.assertEqual(field(data, 1), [b"2.0"])
        definitions = field(field(data, 9)[0], 1)
        named = {field(d, 1)[0].decode(): field(d, 2)[0] for d in definitions}
        self.assertEqual(sorted(named), sorted(self.v2["definitions"]))
        ds = named["io.k8s.api.apps.v1.DaemonSet"]
        vendor = {field(v, 1)[0].decode(): json.loads(field(field(v, 2)[0], 2)[0])
                  for v in field(ds, 31)}
        self.assertEqual(vendor["x-kubernetes-group-version-kind"],
                         self.v2["definitions"]["io.k8s.api.apps.v1.DaemonSet"][
                             "x-kubernetes-group-version-kind"])
        spec = named[CORE + "PodSpec"]
        props = {field(p, 1)[0].decode(): field(p, 2)[0] for p in field(field(spec, 25)[0], 1)}
        containers = props["containers"]
        self.assertEqual(field(field(containers, 22)[0], 1), [b"array"])
        items = field(field(containers, 23)[0], 1)[0]
        self.assertEqual(field(items, 1), [b"#/definitions/" + CORE.encode() + b"Container"])
        paths = field(field(data, 8)[0], 2)
        self.assertEqual(len(paths), len(self.v2["paths"]))

    def test_protobuf_refuses_what_its_tables_lack(self):
        with self.assertRaisesRegex(ValueError, "Schema has no field 'oneOf'"):
            openapi_proto.encode_document({"definitions": {"x": {"oneOf": []}}})


class NegotiateTest(unittest.TestCase):
    def test_accept(self):
        v2 = openapi.V2_MEDIA_TYPES
        self.assertEqual(openapi.negotiate("", v2), "json")
        self.assertEqual(openapi.negotiate("*/*", v2), "json")
        self.assertEqual(openapi.negotiate(
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf", v2), "protobuf")
        self.assertEqual(openapi.negotiate(
            "application/json;q=0.5, application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            v2), "protobuf")
        self.assertEqual(openapi.negotiate("text/plain, application/*;q=0.1", v2), "json")
        self.assertIsNone(openapi.negotiate("text/plain", v2))
        self.assertIsNone(openapi.negotiate("application/json;q=0", v2))


if __name__ == "__main__":
    unittest.main()
