"""Strategic merge patch as the apiserver applies it (apimachinery
strategicpatch): merge keys, directives and the order of merged lists."""

import unittest

from kube_emulator.errors import ApiError
from kube_emulator.smp import apply_strategic


def ds(containers, volumes=None, finalizers=None):
    obj = {"metadata": {"name": "d"},
           "spec": {"template": {"spec": {"containers": containers}}}}
    if volumes is not None:
        obj["spec"]["template"]["spec"]["volumes"] = volumes
    if finalizers is not None:
        obj["metadata"]["finalizers"] = finalizers
    return obj


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def smp(original, patch):
    return apply_strategic(original, patch, "apps", "DaemonSet")


class ContainersTest(unittest.TestCase):
    LIVE = ds([{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"},
                                                      {"name": "Y", "value": "2"}]},
               {"name": "b", "image": "b:1"}])

    def test_a_container_merges_by_name_others_stay(self):
        out = smp(self.LIVE, {"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "a:2"}]}}}})
        self.assertEqual(pod_spec(out)["containers"], [
            {"name": "a", "image": "a:2", "env": [{"name": "X", "value": "1"},
                                                   {"name": "Y", "value": "2"}]},
            {"name": "b", "image": "b:1"}])

    def test_env_merges_by_name_and_null_removes_a_field(self):
        out = smp(self.LIVE, {"spec": {"template": {"spec": {"containers": [
            {"name": "a", "env": [{"name": "Y", "value": None, "valueFrom": {
                "fieldRef": {"fieldPath": "spec.nodeName"}}}, {"name": "Z", "value": "3"}]}]}}}})
        env = pod_spec(out)["containers"][0]["env"]
        self.assertEqual(env, [{"name": "X", "value": "1"},
                               {"name": "Y", "valueFrom": {"fieldRef": {
                                   "fieldPath": "spec.nodeName"}}},
                               {"name": "Z", "value": "3"}])

    def test_delete_directive_in_a_list(self):
        out = smp(self.LIVE, {"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"$patch": "delete", "name": "b"}]}}}})
        self.assertEqual([c["name"] for c in pod_spec(out)["containers"]], ["a"])

    def test_replace_directive_in_a_list_and_a_map(self):
        out = smp(self.LIVE, {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "c:1"}, {"$patch": "replace"}]}}}})
        self.assertEqual(pod_spec(out)["containers"], [{"name": "c", "image": "c:1"}])
        # An element carrying $patch: replace is the directive for the whole
        # list, not an element (mergeSliceWithSpecialElements).
        out = smp(self.LIVE, {"spec": {"template": {"spec": {"containers": [
            {"name": "a", "env": [{"name": "N", "value": "n"}], "$patch": "replace"}]}}}})
        self.assertEqual(pod_spec(out)["containers"], [])
        out = smp(self.LIVE, {"spec": {"template": {"spec": {"containers": [
            {"name": "a", "securityContext": {"$patch": "replace", "privileged": True}}]}}}})
        self.assertEqual(pod_spec(out)["containers"][0]["securityContext"],
                         {"privileged": True})

    def test_set_element_order_reorders(self):
        out = smp(self.LIVE, {"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}}})
        self.assertEqual([c["name"] for c in pod_spec(out)["containers"]], ["b", "a"])

    def test_a_new_container_without_order_comes_first(self):
        # mergeSortedSlice: an item of the patch that the live list lacks
        # cannot be compared with the server-only ones, so it goes first.
        out = smp(self.LIVE, {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "c:1"}]}}}})
        self.assertEqual([c["name"] for c in pod_spec(out)["containers"]], ["c", "a", "b"])

    def test_a_missing_merge_key_is_invalid(self):
        with self.assertRaises(ApiError) as cm:
            smp(self.LIVE, {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})
        self.assertEqual(cm.exception.code, 422)

    def test_an_order_that_does_not_match_the_patch_is_refused(self):
        with self.assertRaises(ApiError) as cm:
            smp(self.LIVE, {"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "a"}],
                "containers": [{"name": "b", "image": "b:2"}]}}}})
        self.assertEqual(cm.exception.code, 400)


class OtherListsTest(unittest.TestCase):
    def test_retain_keys_clears_the_other_volume_source(self):
        live = ds([{"name": "a"}], volumes=[{"name": "v", "hostPath": {"path": "/x"}}])
        out = smp(live, {"spec": {"template": {"spec": {"volumes": [
            {"$retainKeys": ["emptyDir", "name"], "emptyDir": {}, "name": "v"}]}}}})
        self.assertEqual(pod_spec(out)["volumes"], [{"name": "v", "emptyDir": {}}])

    def test_retain_keys_must_cover_the_patch(self):
        live = ds([{"name": "a"}], volumes=[{"name": "v", "hostPath": {"path": "/x"}}])
        with self.assertRaises(ApiError) as cm:
            smp(live, {"spec": {"template": {"spec": {"volumes": [
                {"$retainKeys": ["name"], "emptyDir": {}, "name": "v"}]}}}})
        self.assertEqual(cm.exception.code, 400)

    def test_primitive_lists_merge_as_sets_and_delete_from_list(self):
        live = ds([{"name": "a"}], finalizers=["x", "y"])
        out = smp(live, {"metadata": {"$setElementOrder/finalizers": ["x", "y", "z"],
                                      "finalizers": ["z", "x"][:1]}})
        self.assertEqual(out["metadata"]["finalizers"], ["x", "y", "z"])
        out = smp(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}})
        self.assertEqual(out["metadata"]["finalizers"], ["y"])

    def test_lists_without_a_strategy_are_replaced(self):
        live = ds([{"name": "a", "args": ["--a", "--b"]}])
        live["spec"]["template"]["spec"]["tolerations"] = [{"operator": "Exists"}]
        out = smp(live, {"spec": {"template": {"spec": {
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "containers": [{"name": "a", "args": ["--c"]}]}}}})
        self.assertEqual(pod_spec(out)["tolerations"], [{"key": "k", "operator": "Exists"}])
        self.assertEqual(pod_spec(out)["containers"][0]["args"], ["--c"])

    def test_map_directives(self):
        live = {"metadata": {"name": "s", "labels": {"a": "1", "b": "2"}}, "data": {"k": "dg=="}}
        out = apply_strategic(live, {"metadata": {"labels": {"$patch": "replace", "c": "3"}}},
                              "", "Secret")
        self.assertEqual(out["metadata"]["labels"], {"c": "3"})
        out = apply_strategic(live, {"data": {"$patch": "delete"}}, "", "Secret")
        self.assertEqual(out["data"], {})
        with self.assertRaises(ApiError):
            apply_strategic(live, {"data": {"$patch": "merge"}}, "", "Secret")

    def test_the_original_is_not_changed(self):
        live = ds([{"name": "a", "image": "1"}])
        smp(live, {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "2"}]}}}})
        self.assertEqual(pod_spec(live)["containers"][0]["image"], "1")


if __name__ == "__main__":
    unittest.main()
