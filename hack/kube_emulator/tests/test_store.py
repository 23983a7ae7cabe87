"""The store's resourceVersion counter, watch history (410 bookkeeping),
watchers' selector semantics, and the write verbs' rules."""

import unittest

from kube_emulator.errors import ApiError
from kube_emulator.selector import Selector
from kube_emulator.store import Store
from kube_emulator.watch import CLOSE, Event, History, Watcher

CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "nodecontainers.berth.dev"},
       "spec": {"group": "berth.dev", "scope": "Namespaced",
                "names": {"plural": "nodecontainers", "kind": "NodeContainer"},
                "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                              "subresources": {"status": {}},
                              "schema": {"openAPIV3Schema": {
                                  "type": "object",
                                  "properties": {"spec": {"type": "object",
                                                          "properties": {
                                                              "image": {"type": "string"}}},
                                                 "status": {"type": "object",
                                                            "x-kubernetes-preserve-unknown-fields":
                                                                True}}}}}]}}


def drain(w):
    out = []
    while not w.q.empty():
        item = w.q.get()
        out.append(item if item is CLOSE else (item[0], item[1]["metadata"].get("name")))
    return out


class HistoryTest(unittest.TestCase):
    def test_keeps_the_last_events_and_the_oldest_served(self):
        h = History(2)
        for rv in (5, 6, 7):
            h.append(Event(rv, ("g", "p"), "ADDED", None, {}))
        self.assertEqual([e.rv for e in h.events], [6, 7])
        self.assertEqual(h.oldest, 5)
        self.assertEqual(h.check_rv("5"), 5)
        with self.assertRaises(ApiError) as cm:
            h.check_rv("4")
        self.assertEqual((cm.exception.code, cm.exception.reason), (410, "Expired"))
        self.assertEqual(cm.exception.message, "too old resource version: 4 (5)")
        with self.assertRaises(ApiError) as cm:
            h.check_rv("x")
        self.assertEqual(cm.exception.code, 400)
        self.assertEqual([e.rv for e in h.since(6, ("g", "p"))], [7])
        self.assertEqual(h.since(5, ("g", "other")), [])
        h.compact(9)
        self.assertEqual((list(h.events), h.oldest), ([], 9))


class WatcherTest(unittest.TestCase):
    def test_selector_transitions(self):
        store = Store(100)
        ns = store.find("", "v1", "namespaces")
        w = Watcher(ns, Selector(ns, None, "app=web", ""))
        on, off = {"metadata": {"name": "a", "labels": {"app": "web"}}}, {"metadata": {"name": "a"}}
        for ev in (Event(1, ns.key, "ADDED", None, off), Event(2, ns.key, "MODIFIED", off, on),
                   Event(3, ns.key, "MODIFIED", on, on), Event(4, ns.key, "MODIFIED", on, off),
                   Event(5, ns.key, "MODIFIED", off, off), Event(6, ns.key, "DELETED", off, off),
                   Event(7, ns.key, "ADDED", None, on), Event(8, ns.key, "DELETED", on, on)):
            w.offer(ev)
        self.assertEqual(drain(w), [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a"),
                                    ("ADDED", "a"), ("DELETED", "a")])

    def test_stopping_to_match_sends_the_previous_content_at_the_new_version(self):
        store = Store(100)
        ns = store.find("", "v1", "namespaces")
        w = Watcher(ns, Selector(ns, None, "app=web", ""))
        on = {"metadata": {"name": "a", "labels": {"app": "web"}, "resourceVersion": "3"},
              "spec": {"x": "old"}}
        off = {"metadata": {"name": "a", "labels": {"app": "db"}, "resourceVersion": "4"},
               "spec": {"x": "new"}}
        w.offer(Event(4, ns.key, "MODIFIED", on, off))
        etype, obj = w.q.get_nowait()
        self.assertEqual((etype, obj["metadata"]["labels"], obj["metadata"]["resourceVersion"],
                          obj["spec"]), ("DELETED", {"app": "web"}, "4", {"x": "old"}))
        self.assertEqual(on["metadata"]["resourceVersion"], "3", "the stored object changed")


class StoreTest(unittest.TestCase):
    def setUp(self):
        self.store = Store(100)
        self.ns = self.store.find("", "v1", "namespaces")
        crds = self.store.find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        self.store.create(crds, None, CRD, {})
        self.nc = self.store.find("berth.dev", "v1alpha1", "nodecontainers")

    def create(self, name, **meta):
        body = {"metadata": dict({"name": name}, **meta), "spec": {"image": "x"}}
        return self.store.create(self.nc, "default", body, {})

    def test_the_global_counter(self):
        # Four namespaces, the bootstrap RBAC policy (four ClusterRoles and
        # their bindings) and the CRD: resourceVersions 2..14.
        self.assertEqual(self.store.rv, 14)
        obj = self.create("a")
        self.assertEqual(obj["metadata"]["resourceVersion"], "15")
        _, rv = self.store.list(self.ns, Selector(self.ns, None, "", ""))
        self.assertEqual(rv, "15")
        self.assertEqual(obj["metadata"]["generation"], 1)

    def test_lists_in_storage_key_order(self):
        for ns in ("a", "a-b", "a0"):
            self.store.create(self.ns, None, {"metadata": {"name": ns}}, {})
            for name in ("x", "x-1"):
                self.store.create(self.nc, ns, {"metadata": {"name": name},
                                                "spec": {"image": "x"}}, {})
        items, _ = self.store.list(self.nc, Selector(self.nc, None, "", ""))
        # '-' sorts before '/', '/' before '0': the keys' byte order.
        self.assertEqual(["%s/%s" % (o["metadata"]["namespace"], o["metadata"]["name"])
                          for o in items],
                         ["a-b/x", "a-b/x-1", "a/x", "a/x-1", "a0/x", "a0/x-1"])

    def test_no_change_no_new_version(self):
        obj = self.create("a")
        again = self.store.update(self.nc, "default", "a", obj, {})
        self.assertEqual(again["metadata"]["resourceVersion"], obj["metadata"]["resourceVersion"])

    def test_generation_and_conflict(self):
        obj = self.create("a")
        body = {"metadata": {"name": "a", "resourceVersion": obj["metadata"]["resourceVersion"]},
                "spec": {"image": "y"}}
        new = self.store.update(self.nc, "default", "a", body, {})
        self.assertEqual(new["metadata"]["generation"], 2)
        with self.assertRaises(ApiError) as cm:
            self.store.update(self.nc, "default", "a", body, {})
        self.assertEqual((cm.exception.code, cm.exception.reason), (409, "Conflict"))
        status = self.store.patch(self.nc, "default", "a", "application/merge-patch+json",
                                  {"status": {"phase": "Running"}}, {}, "status")[0]
        self.assertEqual(status["metadata"]["generation"], 2)
        self.assertEqual(status["status"], {"phase": "Running"})

    def test_finalizers_hold_a_delete(self):
        self.create("a", finalizers=["berth.dev/cleanup"])
        w = self.store.watch(self.nc, Selector(self.nc, None, "", ""),
                             str(self.store.rv), False)
        obj, deleted = self.store.delete(self.nc, "default", "a", {}, {})
        self.assertFalse(deleted)
        self.assertIn("deletionTimestamp", obj["metadata"])
        with self.assertRaises(ApiError) as cm:
            self.store.patch(self.nc, "default", "a", "application/merge-patch+json",
                             {"metadata": {"finalizers": ["berth.dev/cleanup", "x.y/z"]}}, {})
        self.assertEqual(cm.exception.code, 422)
        self.store.patch(self.nc, "default", "a", "application/merge-patch+json",
                         {"metadata": {"finalizers": None}}, {})
        self.assertEqual(drain(w), [("MODIFIED", "a"), ("DELETED", "a")])
        with self.assertRaises(ApiError) as cm:
            self.store.get(self.nc, "default", "a")
        self.assertEqual(cm.exception.code, 404)

    def test_watch_from_a_version_and_compaction(self):
        self.create("a")
        rv = str(self.store.rv)
        self.create("b")
        w = self.store.watch(self.nc, Selector(self.nc, None, "", ""), rv, False)
        self.assertEqual(drain(w), [("ADDED", "b")])
        initial = self.store.watch(self.nc, Selector(self.nc, None, "", ""), "", True)
        items = drain(initial)
        self.assertEqual(items[:2], [("ADDED", "a"), ("ADDED", "b")])
        self.assertEqual(items[2][0], "BOOKMARK")
        new_rv = self.store.compact()
        self.assertEqual(new_rv, int(rv) + 2)
        old = self.store.watch(self.nc, Selector(self.nc, None, "", ""), rv, False)
        first = old.q.get()
        self.assertEqual(first[0], "ERROR")
        self.assertEqual(first[1]["code"], 410)
        self.assertIs(old.q.get(), CLOSE)
        with self.assertRaises(ApiError) as cm:
            self.store.list(self.nc, Selector(self.nc, None, "", ""), rv, "Exact")
        self.assertEqual(cm.exception.code, 410)
        self.store.drop_watches()
        self.assertIs(drain(w)[-1], CLOSE)

    def test_deleting_the_crd_removes_its_objects_and_types(self):
        self.create("a")
        w = self.store.watch(self.nc, Selector(self.nc, None, "", ""), str(self.store.rv),
                             False)
        crds = self.store.find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        self.store.delete(crds, None, "nodecontainers.berth.dev", {}, {})
        self.assertIsNone(self.store.find("berth.dev", "v1alpha1", "nodecontainers"))
        self.assertEqual(drain(w), [("DELETED", "a")])
        self.assertNotIn("berth.dev", self.store.groups())

    def test_namespace_needed_and_protected(self):
        with self.assertRaises(ApiError) as cm:
            self.store.create(self.nc, "nowhere", {"metadata": {"name": "a"}}, {})
        self.assertEqual(cm.exception.message, 'namespaces "nowhere" not found')
        with self.assertRaises(ApiError) as cm:
            self.store.delete(self.ns, None, "default", {}, {})
        self.assertEqual(cm.exception.code, 403)

    def test_dry_run_commits_nothing(self):
        rv = self.store.rv
        self.store.create(self.nc, "default", {"metadata": {"name": "a"}}, {"dryRun": "All"})
        self.assertEqual(self.store.rv, rv)
        with self.assertRaises(ApiError):
            self.store.get(self.nc, "default", "a")


if __name__ == "__main__":
    unittest.main()
