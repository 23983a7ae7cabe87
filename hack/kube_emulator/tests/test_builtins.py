"""What the strategies of Secrets, ConfigMaps and DaemonSets do on a write."""

import unittest

from kube_emulator.errors import ApiError
from kube_emulator.store import Store


class BuiltinsTest(unittest.TestCase):
    def setUp(self):
        self.store = Store(100)
        self.secrets = self.store.find("", "v1", "secrets")
        self.cms = self.store.find("", "v1", "configmaps")

    def test_secret_string_data_and_type(self):
        s = self.store.create(self.secrets, "default", {
            "metadata": {"name": "s"}, "data": {"a": "YQ=="}, "stringData": {"b": "b"}}, {})
        self.assertEqual((s["data"], s["type"]), ({"a": "YQ==", "b": "Yg=="}, "Opaque"))
        self.assertNotIn("stringData", s)
        with self.assertRaises(ApiError) as cm:
            self.store.update(self.secrets, "default", "s", dict(s, type="kubernetes.io/tls"),
                              {})
        self.assertEqual(cm.exception.message, 'Secret "s" is invalid: type: Invalid value: '
                                               '"kubernetes.io/tls": field is immutable')
        with self.assertRaises(ApiError) as cm:
            self.store.create(self.secrets, "default", {"metadata": {"name": "k"},
                                                        "data": {"a/b": "YQ=="}}, {})
        self.assertEqual(cm.exception.code, 422)

    def test_immutable(self):
        c = self.store.create(self.cms, "default", {"metadata": {"name": "c"},
                                                    "data": {"a": "1"}, "immutable": True}, {})
        with self.assertRaises(ApiError) as cm:
            self.store.update(self.cms, "default", "c", dict(c, data={"a": "2"}), {})
        self.assertIn("data: Forbidden: field is immutable when `immutable` is set",
                      cm.exception.message)
        labelled = dict(c, metadata=dict(c["metadata"], labels={"x": "y"}))
        self.assertEqual(self.store.update(self.cms, "default", "c", labelled, {})[
            "metadata"]["labels"], {"x": "y"})

    def test_daemonset_generation(self):
        ds_type = self.store.find("apps", "v1", "daemonsets")
        body = {"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1"}]}}}}
        d = self.store.create(ds_type, "default", body, {})
        self.assertEqual(d["metadata"]["generation"], 1)
        self.assertEqual(d["status"]["desiredNumberScheduled"], 0)
        d2 = dict(d, spec={"template": {"spec": {"containers": [{"name": "a", "image": "a:2"}]}}})
        d2 = self.store.update(ds_type, "default", "d", d2, {})
        self.assertEqual(d2["metadata"]["generation"], 2)
        self.assertEqual(d2["metadata"]["annotations"][
            "deprecated.daemonset.template.generation"], "2")
        d3 = dict(d2, spec=dict(d2["spec"], minReadySeconds=5))
        d3 = self.store.update(ds_type, "default", "d", d3, {})
        self.assertEqual(d3["metadata"]["generation"], 3)
        self.assertEqual(d3["metadata"]["annotations"][
            "deprecated.daemonset.template.generation"], "2")


if __name__ == "__main__":
    unittest.main()
