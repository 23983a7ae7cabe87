#!/usr/bin/env python3
"""hack/kube-emulator driven by the Kubernetes Python client (Debian's
python3-kubernetes): typed models decode every answer, so a response whose
shape differs from a real server's (a missing field, a wrong type, a
timestamp the client cannot parse) fails here.

Run with the interpreter that has the client (ctest passes Debian's
/usr/bin/python3). The emulator and its temporary directory come from
kube_emulator_test.Emulator and are removed (and checked gone) afterwards.
"""

import copy
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

    def check_watch(self, list_call, args, create, modify, patch, delete):
        """Watches one kind with the label selector watched=yes from the
        resourceVersion of a list taken before the writes, and checks what a
        real apiserver's watch cache sends: ADDED for a matching create,
        nothing for objects outside the selector, MODIFIED for a change, ADDED
        when an object starts to match, DELETED carrying the last stored object
        at the deletion's resourceVersion, DELETED carrying the previous
        (matching) content at the write's resourceVersion when an object stops
        matching, resourceVersions strictly increasing. create(name, labels)
        and modify(name) write through the client and return what it
        returned; modify changes the object's content (not its labels).
        patch(name, *args, body) and delete(name, *args) are the kind's own
        client calls."""
        def label(name, labels):
            return patch(name, *args, {"metadata": {"labels": labels}})
        start = list_call(*args, label_selector="watched=yes").metadata.resource_version
        a = create("w-a", {"watched": "yes"})
        b = create("w-b", {"watched": "no"})
        a2 = modify("w-a")
        b2 = label("w-b", {"watched": "yes"})
        delete("w-a", *args)
        b3 = label("w-b", {"watched": "no"})
        delete("w-b", *args)
        evs = events(list_call, start, 5, *args, label_selector="watched=yes")
        self.assertEqual([(e["type"], e["object"].metadata.name) for e in evs],
                         [("ADDED", "w-a"), ("MODIFIED", "w-a"), ("ADDED", "w-b"),
                          ("DELETED", "w-a"), ("DELETED", "w-b")])
        self.assertIsInstance(evs[0]["object"], type(a))
        rvs = [int(e["object"].metadata.resource_version) for e in evs]
        self.assertEqual(rvs, sorted(set(rvs)), "resourceVersions not increasing")
        self.assertGreater(rvs[0], int(start))
        self.assertEqual([e["object"].metadata.resource_version for e in evs[:3]],
                         [a.metadata.resource_version, a2.metadata.resource_version,
                          b2.metadata.resource_version])
        self.assertLess(int(b.metadata.resource_version), rvs[1])
        self.assertEqual(evs[2]["object"].metadata.labels, {"watched": "yes"})
        # A deletion: the object as last stored (its content after modify),
        # at a newer resourceVersion than that write's.
        gone = evs[3]["object"]
        self.assertGreater(rvs[3], rvs[2])
        self.assertEqual(gone.metadata.uid, a.metadata.uid)
        gone, last = copy.deepcopy(gone), copy.deepcopy(a2)
        for obj in (gone, last):
            obj.metadata.resource_version = None
        self.assertEqual(gone, last)
        # Stopping to match: the content before the write (still labelled
        # watched=yes) at the write's resourceVersion.
        left = evs[4]["object"]
        self.assertEqual((left.metadata.labels, left.metadata.resource_version),
                         ({"watched": "yes"}, b3.metadata.resource_version))
        left, before = copy.deepcopy(left), copy.deepcopy(b2)
        for obj in (left, before):
            obj.metadata.resource_version = None
        self.assertEqual(left, before)
        # A watch from a resourceVersion in the middle starts after it.
        later = events(list_call, evs[1]["object"].metadata.resource_version, 3, *args,
                       label_selector="watched=yes")
        self.assertEqual([(e["type"], e["object"].metadata.name,
                           e["object"].metadata.resource_version) for e in later],
                         [(e["type"], e["object"].metadata.name,
                           e["object"].metadata.resource_version) for e in evs[2:]])

    def test_watch_secret(self):
        core = client.CoreV1Api(self.api)

        def create(name, labels):
            return core.create_namespaced_secret(NS, client.V1Secret(
                metadata=client.V1ObjectMeta(name=name, labels=labels),
                string_data={"user": "a"}))

        def modify(name):
            s = core.patch_namespaced_secret(name, NS, {"data": {"token": "dG9rZW4="}})
            self.assertEqual(s.data, {"user": "YQ==", "token": "dG9rZW4="})
            return s
        self.check_watch(core.list_namespaced_secret, (NS,), create, modify,
                         core.patch_namespaced_secret, core.delete_namespaced_secret)

    def test_watch_service_account(self):
        core = client.CoreV1Api(self.api)

        def create(name, labels):
            return core.create_namespaced_service_account(NS, client.V1ServiceAccount(
                metadata=client.V1ObjectMeta(name=name, labels=labels)))

        def modify(name):
            sa = core.patch_namespaced_service_account(name, NS, {
                "automountServiceAccountToken": False,
                "imagePullSecrets": [{"name": "registry"}]})
            self.assertEqual([r.name for r in sa.image_pull_secrets], ["registry"])
            return sa
        self.check_watch(core.list_namespaced_service_account, (NS,), create, modify,
                         core.patch_namespaced_service_account,
                         core.delete_namespaced_service_account)

    def test_watch_cluster_role(self):
        rbac = client.RbacAuthorizationV1Api(self.api)

        def create(name, labels):
            return rbac.create_cluster_role(client.V1ClusterRole(
                metadata=client.V1ObjectMeta(name=name, labels=labels),
                rules=[client.V1PolicyRule(api_groups=[""], resources=["configmaps"],
                                           verbs=["get"])]))

        def modify(name):
            role = rbac.read_cluster_role(name)
            role.rules.append(client.V1PolicyRule(api_groups=["apps"],
                                                  resources=["daemonsets"], verbs=["list"]))
            role = rbac.replace_cluster_role(name, role)
            self.assertEqual([r.resources for r in role.rules], [["configmaps"], ["daemonsets"]])
            return role
        self.check_watch(rbac.list_cluster_role, (), create, modify,
                         rbac.patch_cluster_role, rbac.delete_cluster_role)

    def test_watch_cluster_role_binding(self):
        rbac = client.RbacAuthorizationV1Api(self.api)

        def create(name, labels):
            return rbac.create_cluster_role_binding(client.V1ClusterRoleBinding(
                metadata=client.V1ObjectMeta(name=name, labels=labels),
                role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io",
                                          kind="ClusterRole", name="view"),
                subjects=[client.V1Subject(kind="User", name="alice",
                                           api_group="rbac.authorization.k8s.io")]))

        def modify(name):
            binding = rbac.patch_cluster_role_binding(name, {"subjects": [
                {"kind": "ServiceAccount", "name": "berth", "namespace": "berth-system"}]})
            self.assertEqual([(s.kind, s.name) for s in binding.subjects],
                             [("ServiceAccount", "berth")])
            return binding
        self.check_watch(rbac.list_cluster_role_binding, (), create, modify,
                         rbac.patch_cluster_role_binding, rbac.delete_cluster_role_binding)

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
