#!/usr/bin/env python3
"""The chart installed, upgraded, rolled back and uninstalled by the real
helm against hack/kube-emulator (over TLS, with a bearer token), as a
cluster admin would: the release is stored in Secrets (helm's typed client
writes them in protobuf), the objects appear, an upgrade changes the
DaemonSet by a three-way strategic merge patch that keeps what others added
to it, a rollback restores the first revision and an uninstall removes
everything but the CRD.

helm is <build>/tools/helm (BERTH_BUILD_DIR, set by CTest), kubectl
<build>/tools/kubectl (BERTH_KUBECTL); the emulator helper is the one of
tests/kube_emulator_test.py.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

import yaml

CHART = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(CHART))
BUILD = os.environ.get("BERTH_BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from kube_emulator_test import Emulator  # noqa: E402

NAMESPACE = "berth-system"
RELEASE = "berth"
PROTOBUF = "application/vnd.kubernetes.protobuf"
SMP = "application/strategic-merge-patch+json"


def find_helm():
    built = os.path.join(BUILD, "tools", "helm")
    if os.access(built, os.X_OK):
        return built
    return shutil.which("helm")


HELM = find_helm()


class HelmLifecycleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if HELM is None:
            raise AssertionError("helm not found at %s/tools/helm nor on PATH" % BUILD)
        cls.emu = Emulator(tls=True, token="admin-token")

    @classmethod
    def tearDownClass(cls):
        directory = cls.emu.dir
        code = cls.emu.stop()
        assert code == 0, "kube-emulator exit code %r" % code
        assert not os.path.exists(directory), "%s left behind" % directory

    def helm(self, *args):
        home = self.emu.path("helm")
        # KUBECACHEDIR: helm's discovery and OpenAPI cache, else ~/.kube/cache.
        env = dict(os.environ, HELM_CACHE_HOME=home, HELM_CONFIG_HOME=home,
                   HELM_DATA_HOME=home, KUBECACHEDIR=os.path.join(home, "kube-cache"),
                   KUBECONFIG=self.emu.path("kubeconfig"))
        p = subprocess.run([HELM, *args, "--namespace", NAMESPACE], capture_output=True,
                           text=True, timeout=120, env=env)
        if p.returncode != 0:
            raise AssertionError("helm %s: exit %d\n%s%s\nemulator log:\n%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr, self.emu.logs()))
        return p.stdout

    def get(self, *args):
        r = self.emu.kubectl("get", *args, "-o", "json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def daemonset(self):
        return self.get("daemonset", "-n", NAMESPACE, RELEASE)

    def container(self):
        return self.daemonset()["spec"]["template"]["spec"]["containers"][0]

    def releases(self):
        items = self.get("secrets", "-n", NAMESPACE, "-l", "owner=helm,name=" + RELEASE)["items"]
        return sorted((int(s["metadata"]["labels"]["version"]), s["metadata"]["labels"]["status"],
                       s["type"]) for s in items)

    def requests(self):
        code, log = self.emu.request("GET", "/_emulator/requests")
        self.assertEqual(code, 200)
        return log

    def test_install_upgrade_rollback_uninstall(self):
        self.emu.kubectl("create", "namespace", NAMESPACE)
        self.emu.request("DELETE", "/_emulator/requests")
        self.helm("install", RELEASE, CHART)

        # The release, stored by helm's typed client in protobuf.
        self.assertEqual(self.releases(), [(1, "deployed", "helm.sh/release.v1")])
        self.assertIn((PROTOBUF, 201), [(r["contentType"], r["code"]) for r in self.requests()
                                        if r["method"] == "POST" and
                                        r["path"].endswith("/secrets")])
        # Every object of the chart, as helm template renders them.
        rendered = {d["kind"]: d for d in yaml.safe_load_all(
            self.helm("template", RELEASE, CHART)) if d}
        self.assertEqual(sorted(rendered), ["ClusterRole", "ClusterRoleBinding", "DaemonSet",
                                            "ServiceAccount"])
        self.assertIsNotNone(self.get("serviceaccount", "-n", NAMESPACE, RELEASE))
        role = self.get("clusterrole", RELEASE)
        self.assertEqual(role["rules"], rendered["ClusterRole"]["rules"])
        binding = self.get("clusterrolebinding", RELEASE)
        self.assertEqual(binding["subjects"], rendered["ClusterRoleBinding"]["subjects"])
        self.assertIsNotNone(self.get("crd", "nodecontainers.berth.dev"))
        ds = self.daemonset()
        self.assertEqual(ds["spec"], rendered["DaemonSet"]["spec"])
        self.assertEqual(ds["metadata"]["generation"], 1)
        args = self.container()["args"]
        self.assertIn("--log-level=info", args)

        # What another actor adds to the live DaemonSet: an env var and a
        # volume. A three-way merge keeps both (they are merged by name).
        self.emu.kubectl("patch", "daemonset", "-n", NAMESPACE, RELEASE, "--type=strategic",
                         "-p", json.dumps({"spec": {"template": {"spec": {
                             "containers": [{"name": "berthd", "env": [
                                 {"name": "EXTRA", "value": "kept"}]}],
                             "volumes": [{"name": "extra", "emptyDir": {}}]}}}}))
        # A patch without $setElementOrder puts the new element first
        # (strategicpatch's mergeSortedSlice), as on a real server.
        env = self.container()["env"]
        self.assertEqual([e["name"] for e in env], ["EXTRA", "NODE_NAME"])

        self.emu.request("DELETE", "/_emulator/requests")
        self.helm("upgrade", RELEASE, CHART, "--set", "berthd.logLevel=debug",
                  "--set", "image.tag=v2")
        patches = [r for r in self.requests() if r["method"] == "PATCH"]
        self.assertEqual([(r["path"].rsplit("/", 1)[1], r["contentType"], r["code"])
                          for r in patches], [(RELEASE, SMP, 200)])
        c = self.container()
        self.assertIn("--log-level=debug", c["args"])
        self.assertNotIn("--log-level=info", c["args"])
        self.assertTrue(c["image"].endswith(":v2"), c["image"])
        self.assertEqual([e["name"] for e in c["env"]], ["EXTRA", "NODE_NAME"])
        self.assertEqual(c["securityContext"], {"privileged": True})
        volumes = [v["name"] for v in self.daemonset()["spec"]["template"]["spec"]["volumes"]]
        self.assertIn("extra", volumes)
        self.assertIn("state", volumes)
        ds = self.daemonset()
        self.assertEqual(ds["metadata"]["generation"], 3)
        self.assertEqual(ds["metadata"]["annotations"][
            "deprecated.daemonset.template.generation"], "3")
        self.assertEqual(self.releases(), [(1, "superseded", "helm.sh/release.v1"),
                                           (2, "deployed", "helm.sh/release.v1")])

        self.helm("rollback", RELEASE, "1")
        c = self.container()
        self.assertIn("--log-level=info", c["args"])
        self.assertFalse(c["image"].endswith(":v2"), c["image"])
        self.assertEqual([e["name"] for e in c["env"]], ["EXTRA", "NODE_NAME"])
        self.assertEqual([r[:2] for r in self.releases()],
                         [(1, "superseded"), (2, "superseded"), (3, "deployed")])
        self.assertIn("Rollback to 1", self.helm("history", RELEASE))

        self.helm("uninstall", RELEASE)
        self.assertIsNone(self.daemonset())
        self.assertIsNone(self.get("serviceaccount", "-n", NAMESPACE, RELEASE))
        self.assertIsNone(self.get("clusterrole", RELEASE))
        self.assertIsNone(self.get("clusterrolebinding", RELEASE))
        self.assertEqual(self.releases(), [])
        # helm leaves CRDs in place.
        self.assertIsNotNone(self.get("crd", "nodecontainers.berth.dev"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
