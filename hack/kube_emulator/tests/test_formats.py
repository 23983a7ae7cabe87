"""Ages as kubectl prints them, Tables, and the protobuf Namespace decode."""

import unittest

from kube_emulator.protobuf import decode_protobuf_object
from kube_emulator.resources import ResourceType, builtin_types
from kube_emulator.tables import make_table
from kube_emulator.timestamps import human_duration


def pb(field, payload):
    """A length-delimited protobuf field (payloads < 128 bytes)."""
    return bytes([field << 3 | 2, len(payload)]) + payload


class HumanDurationTest(unittest.TestCase):
    def test_like_apimachinery(self):
        for seconds, text in ((-5, "<invalid>"), (-1, "0s"), (59, "59s"), (119, "119s"),
                              (150, "2m30s"), (600, "10m"), (3 * 3600 + 60, "3h1m"),
                              (10 * 3600, "10h"), (50 * 3600, "2d2h"), (400 * 86400, "400d"),
                              (3 * 365 * 86400, "3y"), (10 * 365 * 86400, "10y")):
            self.assertEqual(human_duration(seconds), text, seconds)


class TableTest(unittest.TestCase):
    def test_printer_columns(self):
        t = ResourceType("berth.dev", "v1alpha1", "nodecontainers", "nodecontainer",
                         "NodeContainer", True, builtin=False,
                         columns=[{"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                                  {"name": "Restarts", "type": "integer",
                                   "jsonPath": ".status.restarts"}])
        obj = {"metadata": {"name": "a"}, "status": {"phase": "Running", "restarts": 2}}
        table = make_table(t, [obj], "7", "Metadata")
        self.assertEqual([c["name"] for c in table["columnDefinitions"]],
                         ["Name", "Phase", "Restarts"])
        self.assertEqual(table["rows"][0]["cells"], ["a", "Running", 2])
        self.assertEqual(table["rows"][0]["object"]["kind"], "PartialObjectMetadata")
        self.assertEqual(make_table(t, [obj], "7", "Object")["rows"][0]["object"], obj)
        self.assertNotIn("object", make_table(t, [obj], "7", "None")["rows"][0])

    def test_builtin_types_get_an_age(self):
        ns = [t for t in builtin_types() if t.plural == "namespaces"][0]
        table = make_table(ns, [{"metadata": {"name": "default"},
                                 "status": {"phase": "Active"}}], "1", "Metadata")
        self.assertEqual([c["name"] for c in table["columnDefinitions"]],
                         ["Name", "Status", "Age"])
        self.assertEqual(table["rows"][0]["cells"], ["default", "Active", "<unknown>"])

    def test_rbac_tables(self):
        types = {t.kind: t for t in builtin_types()}
        meta = {"name": "r", "creationTimestamp": "2024-01-02T03:04:05Z"}
        for kind in ("ClusterRole", "Role"):
            # rest.NewDefaultTableConvertor: the time itself, typed date.
            table = make_table(types[kind], [{"metadata": meta}], "1", "None")
            self.assertEqual([(c["name"], c["type"], c["format"])
                              for c in table["columnDefinitions"]],
                             [("Name", "string", "name"), ("Created At", "date", "")])
            self.assertEqual(table["rows"][0]["cells"], ["r", "2024-01-02T03:04:05Z"])
        binding = {"metadata": meta, "roleRef": {"kind": "ClusterRole", "name": "view"},
                   "subjects": [{"kind": "User", "name": "u"}, {"kind": "Group", "name": "g"},
                                {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]}
        for kind, noun, ref in (("ClusterRoleBinding", "clusterRoleBinding", "can only"),
                                ("RoleBinding", "roleBinding", "can reference a Role")):
            table = make_table(types[kind], [binding], "1", "None")
            cols = table["columnDefinitions"]
            self.assertEqual([(c["name"], c["priority"]) for c in cols],
                             [("Name", 0), ("Role", 0), ("Age", 0), ("Users", 1),
                              ("Groups", 1), ("ServiceAccounts", 1)])
            self.assertIn("RoleRef " + ref, cols[1]["description"])
            self.assertEqual(cols[3]["description"], "Users in the " + noun)
            self.assertEqual(table["rows"][0]["cells"][:2] + table["rows"][0]["cells"][3:],
                             ["r", "ClusterRole/view", "u", "g", "ns/sa"])

    def test_nodes_and_events_have_kubectls_columns(self):
        types = {t.kind: t for t in builtin_types()}
        node = {"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/worker": "",
                                                      "node-role.kubernetes.io/edge": ""}},
                "spec": {"unschedulable": True},
                "status": {"conditions": [{"type": "Ready", "status": "False"}],
                           "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                           "nodeInfo": {"kubeletVersion": "v1.31.0"}}}
        table = make_table(types["Node"], [node], "1", "None")
        self.assertEqual([(c["name"], c["priority"]) for c in table["columnDefinitions"]], [
            ("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0), ("Version", 0),
            ("Internal-IP", 1), ("External-IP", 1), ("OS-Image", 1), ("Kernel-Version", 1),
            ("Container-Runtime", 1)])
        self.assertEqual(table["rows"][0]["cells"], [
            "n1", "NotReady,SchedulingDisabled", "edge,worker", "<unknown>", "v1.31.0",
            "10.0.0.1", "<none>", "<unknown>", "<unknown>", "<unknown>"])
        self.assertNotIn("object", table["rows"][0])
        event = {"metadata": {"name": "e1"}, "type": "Warning", "reason": "Failed",
                 "message": " pull failed ", "involvedObject": {
                     "kind": "NodeContainer", "name": "web", "fieldPath": "spec"},
                 "source": {"component": "berthd", "host": "node-a"}}
        table = make_table(types["Event"], [event], "1", "Metadata")
        self.assertEqual([c["name"] for c in table["columnDefinitions"]], [
            "Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
            "First Seen", "Count", "Name"])
        self.assertEqual(table["rows"][0]["cells"], [
            "<unknown>", "Warning", "Failed", "nodecontainer/web", "spec", "berthd, node-a",
            "pull failed", "<unknown>", 1, "e1"])


class ProtobufTest(unittest.TestCase):
    def test_namespace(self):
        type_meta = pb(1, b"v1") + pb(2, b"Namespace")
        meta = (pb(1, b"team-a") + pb(11, pb(1, b"env") + pb(2, b"prod")) +
                pb(14, b"kubernetes"))
        data = b"k8s\x00" + pb(1, type_meta) + pb(2, pb(1, meta))
        self.assertEqual(decode_protobuf_object(data), {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "team-a", "labels": {"env": "prod"},
                         "finalizers": ["kubernetes"]}})

    def test_refused(self):
        with self.assertRaises(ValueError):
            decode_protobuf_object(b"{}")
        with self.assertRaises(ValueError):
            decode_protobuf_object(b"k8s\x00" + pb(1, pb(2, b"Pod")))
        with self.assertRaises(ValueError):
            decode_protobuf_object(b"k8s\x00\x0a\x05ab")


if __name__ == "__main__":
    unittest.main()


class AggregatedDiscoveryTest(unittest.TestCase):
    def test_the_first_acceptable_media_range_decides(self):
        from kube_emulator.discovery import aggregated_version
        v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        beta = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
        self.assertEqual(aggregated_version(v2 + "," + beta + ",application/json"), "v2")
        self.assertEqual(aggregated_version(beta + ",application/json"), "v2beta1")
        self.assertIsNone(aggregated_version("application/json," + v2))
        self.assertIsNone(aggregated_version(""))
        self.assertIsNone(aggregated_version("application/json;g=apidiscovery.k8s.io;v=v3;"
                                             "as=APIGroupDiscoveryList"))
