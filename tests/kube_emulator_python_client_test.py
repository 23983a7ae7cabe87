#!/usr/bin/env python3
"""hack/kube-emulator driven by the Kubernetes Python client (Debian's
python3-kubernetes): typed models decode every answer, so a response whose
shape differs from a real server's (a missing field, a wrong type, a
timestamp the client cannot parse) fails here.

Run with the interpreter that has the client (ctest passes Debian's
/usr/bin/python3). The emulator and its temporary directory come from
kube_emulator_test.Emulator and are removed (and checked gone) afterwards.
"""

import os
import sys
import unittest

import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kube_emulator_test import CRDS, Emulator  # noqa: E402

NS = "default"


def events(list_call, resource_version, count, *args, **kwargs):
    """The first count watch events after resource_version (bounded by a
    server-side timeout)."""
    out = []
    w = watch.Watch()
    for ev in w.stream(list_call, *args, resource_version=resource_version,
                       timeout_seconds=10, **kwargs):
        out.append(ev)
        if len(out) == count:
            w.stop()
    return out


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator()
        try:
            cls.api = config.new_client_from_config(config_file=cls.emu.path("kubeconfig"))
            ext = client.ApiextensionsV1Api(cls.api)
            for name in sorted(os.listdir(CRDS)):
                with open(os.path.join(CRDS, name)) as f:
                    for doc in yaml.safe_load_all(f):
                        if doc:
                            ext.create_custom_resource_definition(doc)
        except BaseException:
            cls.emu.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        directory = cls.emu.dir
        code = cls.emu.stop()
        assert code == 0, "kube-emulator exit code %r" % code
        assert not os.path.exists(directory), "%s left behind" % directory

    def test_configmap(self):
        core = client.CoreV1Api(self.api)
        created = core.create_namespaced_config_map(NS, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="py", labels={"app": "py"}), data={"a": "1"}))
        self.assertIsInstance(created, client.V1ConfigMap)
        self.assertIsNotNone(created.metadata.creation_timestamp.tzinfo)
        listed = core.list_namespaced_config_map(NS, label_selector="app=py")
        self.assertEqual([c.metadata.name for c in listed.items], ["py"])
        patched = core.patch_namespaced_config_map("py", NS, {"data": {"b": "2"}})
        self.assertEqual(patched.data, {"a": "1", "b": "2"})
        evs = events(core.list_namespaced_config_map, listed.metadata.resource_version, 1, NS,
                     label_selector="app=py")
        self.assertEqual([(e["type"], e["object"].data) for e in evs],
                         [("MODIFIED", {"a": "1", "b": "2"})])
        self.assertIsInstance(evs[0]["object"], client.V1ConfigMap)
        status = core.delete_namespaced_config_map("py", NS)
        self.assertIsInstance(status, client.V1Status)
        self.assertEqual(status.status, "Success")
        evs = events(core.list_namespaced_config_map, patched.metadata.resource_version, 1, NS)
        self.assertEqual([(e["type"], e["object"].metadata.name) for e in evs],
                         [("DELETED", "py")])
        with self.assertRaises(ApiException) as err:
            core.read_namespaced_config_map("py", NS)
        self.assertEqual(err.exception.status, 404)

    def test_daemonset(self):
        apps = client.AppsV1Api(self.api)
        ds = client.V1DaemonSet(
            metadata=client.V1ObjectMeta(name="py"),
            spec=client.V1DaemonSetSpec(
                selector=client.V1LabelSelector(match_labels={"app": "py"}),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels={"app": "py"}),
                    spec=client.V1PodSpec(containers=[
                        client.V1Container(name="a", image="a:1",
                                           env=[client.V1EnvVar(name="X", value="1")]),
                        client.V1Container(name="b", image="b:1")]))))
        created = apps.create_namespaced_daemon_set(NS, ds)
        self.assertEqual(created.metadata.generation, 1)
        self.assertEqual(created.status.number_ready, 0)
        rv = created.metadata.resource_version
        # A strategic merge patch (the client's choice for a dict body):
        # containers merge by name, env by name.
        patched = apps.patch_namespaced_daemon_set("py", NS, {"spec": {"template": {"spec": {
            "containers": [{"name": "b", "env": [{"name": "Y", "value": "2"}]}]}}}})
        containers = patched.spec.template.spec.containers
        self.assertEqual([(c.name, c.image) for c in containers], [("a", "a:1"), ("b", "b:1")])
        self.assertEqual([(e.name, e.value) for e in containers[1].env], [("Y", "2")])
        self.assertEqual(patched.metadata.generation, 2)
        listed = apps.list_daemon_set_for_all_namespaces()
        self.assertEqual([d.metadata.name for d in listed.items], ["py"])
        evs = events(apps.list_namespaced_daemon_set, rv, 1, NS)
        self.assertEqual(evs[0]["type"], "MODIFIED")
        self.assertIsInstance(evs[0]["object"], client.V1DaemonSet)
        self.assertEqual(len(evs[0]["object"].spec.template.spec.containers[1].env), 1)
        status = apps.read_namespaced_daemon_set_status("py", NS)
        self.assertEqual(status.status.desired_number_scheduled, 0)
        apps.delete_namespaced_daemon_set("py", NS)
        self.assertEqual(apps.list_namespaced_daemon_set(NS).items, [])

    def test_custom_resource(self):
        custom = client.CustomObjectsApi(self.api)
        args = ("berth.dev", "v1alpha1", NS, "nodecontainers")
        obj = {"apiVersion": "berth.dev/v1alpha1", "kind": "NodeContainer",
               "metadata": {"name": "py"}, "spec": {"image": "busybox"}}
        created = custom.create_namespaced_custom_object(*args, obj)
        self.assertEqual(created["metadata"]["generation"], 1)
        listed = custom.list_namespaced_custom_object(*args)
        self.assertEqual([o["metadata"]["name"] for o in listed["items"]], ["py"])
        patched = custom.patch_namespaced_custom_object(*args, "py",
                                                        {"spec": {"args": ["sleep", "1"]}})
        self.assertEqual(patched["spec"]["args"], ["sleep", "1"])
        evs = events(custom.list_namespaced_custom_object,
                     listed["metadata"]["resourceVersion"], 1, *args)
        self.assertEqual([(e["type"], e["object"]["spec"].get("args")) for e in evs],
                         [("MODIFIED", ["sleep", "1"])])
        with self.assertRaises(ApiException) as err:
            custom.patch_namespaced_custom_object(*args, "py", {"spec": {"image": 5}})
        self.assertEqual(err.exception.status, 422)
        custom.delete_namespaced_custom_object(*args, "py")
        self.assertEqual(custom.list_namespaced_custom_object(*args)["items"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
