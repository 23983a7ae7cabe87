"""Structural schemas (pruning, defaulting, validation), ObjectMeta rules, the
decode step (Strict/Warn) and CRD checks."""

import unittest

from kube_emulator.crd import crd_status, crd_types, validate_crd
from kube_emulator.decode import check_type_meta, prepare
from kube_emulator.errors import ApiError
from kube_emulator.objectmeta import check_meta_types, validate_metadata
from kube_emulator.resources import ResourceType, builtin_types
from kube_emulator.schema import drop_nulls_and_default, prune, validate

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "image": {"type": "string", "minLength": 1},
                "restartPolicy": {"type": "string", "enum": ["Always", "Never"],
                                  "default": "Always"},
                "replicas": {"type": "integer", "minimum": 0, "maximum": 3},
                "port": {"x-kubernetes-int-or-string": True},
                "env": {"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object",
                                  "properties": {"name": {"type": "string"},
                                                 "value": {"type": "string"}}}},
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "maxItems": 2,
                         "items": {"type": "string", "pattern": "^[a-z]+$"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "note": {"type": "string", "nullable": True},
            },
        },
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}
NC = ResourceType("berth.dev", "v1alpha1", "nodecontainers", "nodecontainer", "NodeContainer",
                  True, status=True, schema=SCHEMA, builtin=False)


def errors(value, schema=SCHEMA):
    errs = []
    validate(value, schema, "", errs)
    return errs


class SchemaTest(unittest.TestCase):
    def test_valid(self):
        self.assertEqual(errors({"spec": {"image": "busybox", "replicas": 2, "port": "http",
                                          "tags": ["a", "b"]}}), [])

    def test_violations_worded_like_the_real_server(self):
        errs = errors({"spec": {"image": "", "restartPolicy": "Sometimes", "replicas": 4,
                                "port": 1.5, "tags": ["a", "a", "B"],
                                "env": [{"name": "X"}, {"name": "X"}]}})
        self.assertIn(("FieldValueInvalid", "spec.image",
                       'Invalid value: "": spec.image in body should be at least 1 chars long'),
                      errs)
        self.assertIn(("FieldValueNotSupported", "spec.restartPolicy",
                       'Unsupported value: "Sometimes": supported values: "Always", "Never"'),
                      errs)
        self.assertIn(("FieldValueInvalid", "spec.replicas",
                       "Invalid value: 4: spec.replicas in body should be less than or equal "
                       "to 3"), errs)
        self.assertIn(("FieldValueTypeInvalid", "spec.port",
                       'Invalid value: "number": spec.port in body must be of type '
                       'integer,string: "number"'), errs)
        self.assertIn(("FieldValueTooMany", "spec.tags",
                       "Too many: 3: must have at most 2 items"), errs)
        self.assertIn(("FieldValueDuplicate", "spec.tags[1]", 'Duplicate value: "a"'), errs)
        self.assertIn(("FieldValueInvalid", "spec.tags[2]",
                       "Invalid value: \"B\": spec.tags[2] in body should match '^[a-z]+$'"),
                      errs)
        self.assertIn(("FieldValueDuplicate", "spec.env[1]",
                       'Duplicate value: map[string]interface {}{"name":"X"}'), errs)

    def test_required_and_type(self):
        self.assertEqual(errors({"spec": {}}),
                         [("FieldValueRequired", "spec.image", "Required value")])
        self.assertEqual(errors({"spec": "x"}), [(
            "FieldValueTypeInvalid", "spec",
            'Invalid value: "string": spec in body must be of type object: "string"')])

    def test_combinators(self):
        any_of = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
        self.assertEqual(errors("a", any_of), [])
        self.assertEqual(errors(True, any_of)[-1][2],
                         'Invalid value: "boolean": <root> in body must validate at least '
                         "one schema (anyOf)")
        one_of = {"oneOf": [{"type": "integer"}, {"type": "number"}]}
        self.assertEqual(errors(1.5, one_of), [])
        self.assertIn("Found 2 valid alternatives", errors(1, one_of)[-1][2])
        self.assertEqual(len(errors(1, {"not": {"type": "integer"}})), 1)

    def test_prune_records_unknown_fields(self):
        obj = {"apiVersion": "v", "kind": "K", "metadata": {"name": "a", "bogus": 1},
               "spec": {"image": "x", "nope": 1, "extra": {"anything": 1},
                        "labels": {"a": "b"}},
               "top": 1}
        unknown = []
        prune(obj, SCHEMA, "", unknown, root=True)
        self.assertEqual(sorted(unknown), ["metadata.bogus", "spec.nope", "top"])
        self.assertEqual(obj, {"apiVersion": "v", "kind": "K", "metadata": {"name": "a"},
                               "spec": {"image": "x", "extra": {"anything": 1},
                                        "labels": {"a": "b"}}})

    def test_nulls_dropped_then_defaults(self):
        obj = {"spec": {"image": "x", "replicas": None, "note": None}}
        drop_nulls_and_default(obj, SCHEMA)
        self.assertEqual(obj, {"spec": {"image": "x", "note": None,
                                        "restartPolicy": "Always"}})


class ObjectMetaTest(unittest.TestCase):
    NS = [t for t in builtin_types() if t.plural == "namespaces"][0]

    def meta_errors(self, rtype, meta):
        errs = []
        validate_metadata(rtype, {"metadata": meta}, errs)
        return [(f, m.split(":")[0]) for (_, f, m) in errs]

    def test_names(self):
        self.assertEqual(self.meta_errors(NC, {"name": "web.frontend-1"}), [])
        self.assertEqual(self.meta_errors(NC, {}), [("metadata.name", "Required value")])
        self.assertEqual(self.meta_errors(NC, {"name": "Web"}),
                         [("metadata.name", "Invalid value")])
        self.assertEqual(self.meta_errors(self.NS, {"name": "a.b"}),
                         [("metadata.name", "Invalid value")])

    def test_labels_annotations_finalizers(self):
        meta = {"name": "a", "labels": {"ok/x": "v", "bad key": "v", "k": "-bad"},
                "annotations": {"Fine/Key": "any value"}, "finalizers": ["berth.dev/x", "a b"]}
        self.assertEqual(self.meta_errors(NC, meta), [
            ("metadata.labels", "Invalid value"), ("metadata.labels", "Invalid value"),
            ("metadata.finalizers[1]", "Invalid value")])

    def test_typed_decode(self):
        obj = {"metadata": {"name": "a", "uid": None, "labels": None}}
        check_meta_types(NC, obj)
        self.assertEqual(obj, {"metadata": {"name": "a"}})
        for meta in ({"name": 1}, {"labels": {"a": 1}}, {"finalizers": "x"}, []):
            with self.assertRaises(ApiError) as cm:
                check_meta_types(NC, {"metadata": meta})
            self.assertEqual(cm.exception.code, 400, meta)
            self.assertIn("cannot be handled as a NodeContainer", cm.exception.message)


class DecodeTest(unittest.TestCase):
    def body(self, **spec):
        return {"apiVersion": "berth.dev/v1alpha1", "kind": "NodeContainer",
                "metadata": {"name": "a"}, "spec": dict({"image": "x"}, **spec)}

    def test_strict_refuses_unknown_fields(self):
        with self.assertRaises(ApiError) as cm:
            prepare(NC, self.body(x=1), {"fieldValidation": "Strict"}, [])
        self.assertEqual(cm.exception.code, 400)
        self.assertTrue(cm.exception.message.endswith(
            'strict decoding error: unknown field "spec.x"'), cm.exception.message)

    def test_warn_and_ignore_prune(self):
        for mode, warned in (("", True), ("Warn", True), ("Ignore", False)):
            warnings, obj = [], self.body(x=1)
            prepare(NC, obj, {"fieldValidation": mode} if mode else {}, warnings)
            self.assertNotIn("x", obj["spec"])
            self.assertEqual(warnings, ['unknown field "spec.x"'] if warned else [], mode)
            self.assertEqual(obj["spec"]["restartPolicy"], "Always")

    def test_invalid_is_422_with_causes(self):
        with self.assertRaises(ApiError) as cm:
            prepare(NC, self.body(replicas=-1, image=""), {}, [])
        e = cm.exception
        self.assertEqual((e.code, e.reason), (422, "Invalid"))
        self.assertTrue(e.message.startswith('NodeContainer.berth.dev "a" is invalid: ['))
        self.assertEqual([c["field"] for c in e.details["causes"]],
                         ["spec.image", "spec.replicas"])

    def test_type_meta(self):
        obj = {"metadata": {}}
        check_type_meta(NC, obj)
        self.assertEqual((obj["kind"], obj["apiVersion"]), ("NodeContainer", "berth.dev/v1alpha1"))
        with self.assertRaises(ApiError) as cm:
            check_type_meta(NC, {"kind": "Pod", "apiVersion": "v1"})
        self.assertIn("the object provided is unrecognized", cm.exception.message)


class CrdTest(unittest.TestCase):
    CRD = {"metadata": {"name": "nodecontainers.berth.dev"},
           "spec": {"group": "berth.dev", "scope": "Namespaced",
                    "names": {"plural": "nodecontainers", "kind": "NodeContainer",
                              "shortNames": ["nc"]},
                    "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                  "subresources": {"status": {}},
                                  "selectableFields": [{"jsonPath": ".spec.nodeName"}]},
                                 {"name": "v0", "served": False, "storage": False}]}}

    def test_valid(self):
        errs = []
        validate_crd(self.CRD, errs)
        self.assertEqual(errs, [])

    def test_invalid(self):
        crd = {"metadata": {"name": "wrong"},
               "spec": {"group": "berth.dev", "names": {"plural": "ncs"}, "scope": "Galaxy",
                        "versions": [{"name": "v1"}]}}
        errs = []
        validate_crd(crd, errs)
        self.assertEqual([f for (_, f, _) in errs],
                         ["spec.names.kind", "spec.scope", "spec.versions", "metadata.name"])

    def test_types_and_status(self):
        types = crd_types(self.CRD)
        self.assertEqual(len(types), 1)
        t = types[0]
        self.assertEqual((t.api_version, t.kind, t.list_kind, t.singular, t.namespaced,
                          t.status, t.selectable, t.builtin),
                         ("berth.dev/v1alpha1", "NodeContainer", "NodeContainerList",
                          "nodecontainer", True, True, ["spec.nodeName"], False))
        obj = {"spec": self.CRD["spec"]}
        crd_status(obj)
        self.assertEqual(obj["status"]["storedVersions"], ["v1alpha1"])
        self.assertEqual([c["type"] for c in obj["status"]["conditions"]],
                         ["NamesAccepted", "Established"])


if __name__ == "__main__":
    unittest.main()
