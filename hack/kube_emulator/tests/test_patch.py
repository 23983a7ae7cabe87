"""Merge patch (RFC 7386), JSON patch (RFC 6902), the choice of patch by
content type, and simplified server-side apply (strategic merge patch:
test_smp.py)."""

import unittest

from kube_emulator.errors import ApiError
from kube_emulator.patch import apply_merge, apply_patch, json_patch, merge_patch
from kube_emulator.resources import builtin_types
from kube_emulator.crd import crd_types


class MergePatchTest(unittest.TestCase):
    def test_rfc7386_examples(self):
        self.assertEqual(merge_patch({"a": "b"}, {"a": "c"}), {"a": "c"})
        self.assertEqual(merge_patch({"a": "b"}, {"b": "c"}), {"a": "b", "b": "c"})
        self.assertEqual(merge_patch({"a": "b"}, {"a": None}), {})
        self.assertEqual(merge_patch({"a": "b", "b": "c"}, {"a": None}), {"b": "c"})
        self.assertEqual(merge_patch({"a": ["b"]}, {"a": "c"}), {"a": "c"})
        self.assertEqual(merge_patch({"a": "c"}, {"a": ["b"]}), {"a": ["b"]})
        self.assertEqual(merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}),
                         {"a": {"b": "d"}})
        self.assertEqual(merge_patch({"a": [{"b": "c"}]}, {"a": [1]}), {"a": [1]})
        self.assertEqual(merge_patch(["a", "b"], ["c", "d"]), ["c", "d"])
        self.assertEqual(merge_patch({"a": "b"}, ["c"]), ["c"])
        self.assertEqual(merge_patch({"e": None}, {"a": 1}), {"e": None, "a": 1})
        self.assertEqual(merge_patch([1, 2], {"a": "b", "c": None}), {"a": "b"})
        self.assertEqual(merge_patch({}, {"a": {"bb": {"ccc": None}}}), {"a": {"bb": {}}})

    def test_does_not_touch_its_arguments(self):
        target, patch = {"a": {"b": 1}}, {"a": {"c": 2}}
        merge_patch(target, patch)
        self.assertEqual(target, {"a": {"b": 1}})
        self.assertEqual(patch, {"a": {"c": 2}})


class JsonPatchTest(unittest.TestCase):
    DOC = {"metadata": {"labels": {"a": "1"}, "finalizers": ["x", "y"]}, "spec": {"n": 1}}

    def test_operations(self):
        ops = [{"op": "add", "path": "/metadata/labels/b", "value": "2"},
               {"op": "remove", "path": "/metadata/labels/a"},
               {"op": "replace", "path": "/spec/n", "value": 5},
               {"op": "add", "path": "/metadata/finalizers/-", "value": "z"},
               {"op": "add", "path": "/metadata/finalizers/0", "value": "w"},
               {"op": "move", "from": "/spec/n", "path": "/spec/m"},
               {"op": "copy", "from": "/spec/m", "path": "/spec/k"},
               {"op": "test", "path": "/spec/k", "value": 5}]
        self.assertEqual(json_patch(self.DOC, ops), {
            "metadata": {"labels": {"b": "2"}, "finalizers": ["w", "x", "y", "z"]},
            "spec": {"m": 5, "k": 5}})
        self.assertEqual(self.DOC["spec"], {"n": 1})

    def test_escaped_pointer(self):
        doc = {"metadata": {"annotations": {"a/b": "1", "c~d": "2"}}}
        out = json_patch(doc, [{"op": "remove", "path": "/metadata/annotations/a~1b"},
                               {"op": "replace", "path": "/metadata/annotations/c~0d",
                                "value": "3"}])
        self.assertEqual(out, {"metadata": {"annotations": {"c~d": "3"}}})

    def assert_error(self, code, ops, text):
        with self.assertRaises(ApiError) as cm:
            json_patch(self.DOC, ops)
        self.assertEqual(cm.exception.code, code)
        self.assertIn(text, cm.exception.message)

    def test_errors(self):
        self.assert_error(422, [{"op": "test", "path": "/spec/n", "value": 2}],
                          "the test operation on /spec/n failed")
        self.assert_error(400, [{"op": "remove", "path": "/spec/nope"}],
                          "doc is missing path: /spec/nope")
        self.assert_error(400, [{"op": "replace", "path": "/a/b", "value": 1}],
                          "doc is missing path: /a/b")
        self.assert_error(400, [{"op": "add", "path": "/metadata/finalizers/9", "value": 1}],
                          "index out of range")
        self.assert_error(400, [{"op": "frobnicate", "path": "/spec"}],
                          "unexpected JSON patch operation")
        self.assert_error(400, [{"path": "/spec"}], "invalid JSON patch operation")
        self.assert_error(400, [{"op": "add", "path": "spec", "value": 1}],
                          "invalid JSON pointer")
        with self.assertRaises(ApiError) as cm:
            json_patch(self.DOC, {"op": "add"})
        self.assertIn("must be an array", cm.exception.message)


class StrategicAndApplyTest(unittest.TestCase):
    def test_apply_merges_maps_and_replaces_lists(self):
        live = {"metadata": {"labels": {"a": "1"}}, "spec": {"l": [1, 2], "keep": True}}
        applied = {"metadata": {"labels": {"b": "2"}}, "spec": {"l": [3]}}
        self.assertEqual(apply_merge(live, applied), {
            "metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"l": [3], "keep": True}})

    def test_apply_patch_by_content_type(self):
        old = {"spec": {"a": 1, "b": 2}}
        ds = [t for t in builtin_types() if t.kind == "DaemonSet"][0]
        cr = crd_types({"spec": {"group": "g.io", "scope": "Namespaced", "names": {
            "plural": "xs", "kind": "X"}, "versions": [{"name": "v1"}]}})[0]
        self.assertEqual(apply_patch(old, "application/merge-patch+json", {"spec": {"a": None}},
                                     cr), {"spec": {"b": 2}})
        self.assertEqual(apply_patch(old, "application/json-patch+json",
                                     [{"op": "remove", "path": "/spec/b"}], cr),
                         {"spec": {"a": 1}})
        self.assertEqual(apply_patch(old, "application/strategic-merge-patch+json",
                                     {"spec": {"c": 3}}, ds),
                         {"spec": {"a": 1, "b": 2, "c": 3}})
        for content_type, rtype in (("application/strategic-merge-patch+json", cr),
                                    ("text/plain", ds)):
            with self.assertRaises(ApiError) as cm:
                apply_patch(old, content_type, {}, rtype)
            self.assertEqual(cm.exception.code, 415)
            self.assertEqual(cm.exception.reason, "UnsupportedMediaType")


if __name__ == "__main__":
    unittest.main()
