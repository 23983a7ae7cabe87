#!/usr/bin/env python3
"""The Helm chart charts/berth, rendered and linted by the real helm.

helm is <build>/tools/helm (BERTH_BUILD_DIR, set by CTest; hack/setup puts
it there), else the first on PATH; without it every test fails. The
rendered berthd arguments are also given to the real berthd (BERTHD) with
--dry-run, so that a flag it does not know fails here rather than on a
cluster.
"""

import glob
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import unittest

import yaml

CHART = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(CHART))
BUILD = os.environ.get("BERTH_BUILD_DIR", os.path.join(ROOT, "build"))
BERTHD = os.environ.get("BERTHD", os.path.join(BUILD, "bin", "berthd"))
RELEASE = "berth"
NAMESPACE = "berth-system"


def find_helm():
    built = os.path.join(BUILD, "tools", "helm")
    if os.access(built, os.X_OK):
        return built
    return shutil.which("helm")


HELM = find_helm()


def helm(*args, check=True):
    if HELM is None:
        raise AssertionError("helm not found at %s/tools/helm nor on PATH (hack/setup installs it)"
                             % BUILD)
    p = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, HELM_CACHE_HOME=TMP, HELM_CONFIG_HOME=TMP,
                                HELM_DATA_HOME=TMP))
    if check and p.returncode != 0:
        raise AssertionError("helm %s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout,
                                                         p.stderr))
    return p


def render(*args):
    """Objects of `helm template` by kind (each kind once), CRDs excluded."""
    out = helm("template", RELEASE, CHART, "--namespace", NAMESPACE, *args).stdout
    objects = {}
    for doc in yaml.safe_load_all(out):
        if doc is None:
            continue
        assert doc["kind"] not in objects, "two objects of kind %s" % doc["kind"]
        objects[doc["kind"]] = doc
    return objects


def values_file(values):
    path = os.path.join(TMP, "values-%d.yaml" % len(os.listdir(TMP)))
    with open(path, "w") as f:
        yaml.safe_dump(values, f)
    return path


def berthd_container(objects):
    containers = objects["DaemonSet"]["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["berthd"], containers
    return containers[0]


def chart_yaml():
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        return yaml.safe_load(f)


def seconds(duration):
    """"5m", "1h30m", "60s" as berthd's defaults are written: seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    total = 0
    for number, unit in re.findall(r"([0-9]+)(h|ms|m|s)", duration):
        total += int(number) * units[unit]
    return total


def berthd_flag_defaults():
    """The defaults in controller/berthd/flags.cc's ABSL_FLAG definitions."""
    with open(os.path.join(ROOT, "controller", "berthd", "flags.cc")) as f:
        source = f.read()
    defaults = {}
    for name, value in re.findall(r"ABSL_FLAG\(\s*[\w:<>]+\s*,\s*(\w+)\s*,\s*([^,]+?)\s*,", source):
        m = re.fullmatch(r"absl::(Seconds|Minutes|Hours)\((\d+)\)", value)
        if m:
            value = "%ds" % (int(m.group(2)) * {"Seconds": 1, "Minutes": 60, "Hours": 3600}[m.group(1)])
        m = re.fullmatch(r"absl::Milliseconds\((\d+)\)", value)
        if m:
            value = "%sms" % m.group(1)
        defaults[name.replace("_", "-")] = value.strip('"')
    return defaults


def flag_values(args):
    """{"log-level": "info", ...} of "--flag=value" arguments (a bare flag is "")."""
    out = {}
    for a in args:
        assert a.startswith("--"), a
        name, _, value = a[2:].partition("=")
        out[name] = value
    return out


# What berthd calls (controller/kube), as (API group, resource, verb).
EXPECTED_RULES = {
    ("berth.dev", "nodecontainers", "get"),
    ("berth.dev", "nodecontainers", "list"),
    ("berth.dev", "nodecontainers", "watch"),
    ("berth.dev", "nodecontainers", "patch"),
    ("berth.dev", "nodecontainers/status", "update"),
    ("", "nodes", "list"),
    ("", "nodes", "watch"),
    ("", "events", "create"),
    ("", "events", "patch"),
    ("", "secrets", "get"),
}

# The API calls in controller/kube (file, method): a new one must be
# reflected in EXPECTED_RULES and the ClusterRole before this list.
EXPECTED_CALLS = sorted([
    ("cluster.cc", "GET"),        # secrets (imagePullSecrets)
    ("finalizers.cc", "GET"),     # nodecontainers: re-read
    ("finalizers.cc", "PATCH"),   # nodecontainers: metadata.finalizers
    ("informer.cc", "GET"),       # nodecontainers, nodes: list
    ("informer.cc", "WATCH"),     # nodecontainers, nodes: watch
    ("kube_events.cc", "PATCH"),  # events: a repeat
    ("kube_events.cc", "POST"),   # events: a new one
    ("kube_source.cc", "GET"),    # nodecontainers: still there?
    ("kube_status.cc", "GET"),    # nodecontainers: read before the status write
    ("kube_status.cc", "PUT"),    # nodecontainers/status
])


def rules_of(role):
    out = set()
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        for g in rule["apiGroups"]:
            for r in rule["resources"]:
                for v in rule["verbs"]:
                    out.add((g, r, v))
    return out


def setUpModule():
    global TMP
    TMP = tempfile.mkdtemp(prefix="berth-chart-test-")


def tearDownModule():
    shutil.rmtree(TMP)
    assert not os.path.exists(TMP)


class LintTest(unittest.TestCase):
    def test_lint_strict(self):
        p = helm("lint", "--strict", CHART)
        self.assertIn("0 chart(s) failed", p.stdout)

    def test_lint_strict_with_overrides(self):
        helm("lint", "--strict", CHART, "--set", "manifests.enabled=true",
             "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=x")


class DefaultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = render()
        cls.container = berthd_container(cls.objects)
        cls.pod = cls.objects["DaemonSet"]["spec"]["template"]["spec"]

    def test_objects(self):
        self.assertEqual(sorted(self.objects),
                         ["ClusterRole", "ClusterRoleBinding", "DaemonSet", "ServiceAccount"])
        for kind in ("DaemonSet", "ServiceAccount"):
            self.assertEqual(self.objects[kind]["metadata"]["namespace"], NAMESPACE)

    def test_privileged_host_pid(self):
        self.assertIs(self.container["securityContext"]["privileged"], True)
        self.assertIs(self.pod["hostPID"], True)
        self.assertIs(self.pod["hostNetwork"], True)
        self.assertEqual(self.pod["dnsPolicy"], "ClusterFirstWithHostNet")

    def test_host_paths_at_the_same_paths(self):
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        mounts = {m["name"]: m for m in self.container["volumeMounts"]}
        self.assertEqual(set(volumes), {"state", "run", "cgroup", "cni-bin", "cni-conf",
                                        "cni-data", "xtables-lock"})
        self.assertEqual(set(mounts), set(volumes))
        for name, path, kind in (("state", "/var/lib/berth", "DirectoryOrCreate"),
                                 ("run", "/run/berth", "DirectoryOrCreate"),
                                 ("cgroup", "/sys/fs/cgroup", "Directory"),
                                 ("cni-bin", "/usr/lib/cni", "DirectoryOrCreate"),
                                 ("cni-conf", "/etc/cni/net.d", "DirectoryOrCreate"),
                                 ("cni-data", "/var/lib/cni", "DirectoryOrCreate"),
                                 ("xtables-lock", "/run/xtables.lock", "FileOrCreate")):
            self.assertEqual(volumes[name]["hostPath"], {"path": path, "type": kind})
            self.assertEqual(mounts[name]["mountPath"], path)
        self.assertEqual(mounts["state"]["mountPropagation"], "Bidirectional")
        self.assertEqual(mounts["run"]["mountPropagation"], "Bidirectional")
        self.assertIs(mounts["cni-bin"]["readOnly"], True)
        self.assertIs(mounts["cni-conf"]["readOnly"], True)
        # host-local writes its allocations there, iptables takes its lock.
        self.assertNotIn("readOnly", mounts["cni-data"])
        self.assertNotIn("readOnly", mounts["xtables-lock"])
        flags = flag_values(self.container["args"])
        self.assertEqual(flags["cni-bin-dir"], "/usr/lib/cni")
        self.assertEqual(flags["cni-conf-dir"], "/etc/cni/net.d")

    def test_network_namespaces_reach_the_host(self):
        # berthd bind-mounts them in <run-dir>/netns (controller/berthd/config.cc):
        # that must be under a Bidirectional mount of a host directory, so that
        # the host (and the next berthd pod) sees them.
        with open(os.path.join(ROOT, "controller", "berthd", "config.cc")) as f:
            m = re.search(r'netns_dir = config\.run_dir \+ "(/[^"]+)"', f.read())
        self.assertIsNotNone(m, "config.cc no longer puts the namespaces under the run dir")
        netns_dir = flag_values(self.container["args"])["run-dir"] + m.group(1)
        bidirectional = [mt["mountPath"] for mt in self.container["volumeMounts"]
                         if mt.get("mountPropagation") == "Bidirectional"]
        self.assertTrue([p for p in bidirectional if netns_dir.startswith(p.rstrip("/") + "/")],
                        "%s under none of %s" % (netns_dir, bidirectional))

    def test_node_name_from_downward_api(self):
        self.assertEqual(self.container["env"], [
            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}])

    def test_args(self):
        self.assertEqual(self.container["args"], [
            "--in-cluster",
            "--state-dir=/var/lib/berth",
            "--run-dir=/run/berth",
            "--cni-bin-dir=/usr/lib/cni",
            "--cni-conf-dir=/etc/cni/net.d",
            "--manifests-dir=",
            "--manifests-debounce=100ms",
            "--log-level=info",
            "--log-format=text",
            "--resync-period=60s",
            "--relist-period=10s",
            "--restart-backoff-initial=10s",
            "--restart-backoff-max=5m",
            "--image-gc-high-threshold=85",
            "--image-gc-low-threshold=80",
            "--image-gc-period=5m",
            "--stop-on-exit=false",
            "--metrics-addr=127.0.0.1:9321",
        ])
        self.assertNotIn("command", self.container)

    def test_args_default_to_berthds_own_defaults(self):
        defaults = berthd_flag_defaults()
        for name, value in flag_values(self.container["args"]).items():
            if name in ("in-cluster", "manifests-dir"):
                continue  # cluster mode, and no directory unless enabled
            self.assertIn(name, defaults, "berthd has no flag --%s" % name)
            if (name.endswith("-period") or name.startswith("restart-backoff")
                    or name == "manifests-debounce"):
                self.assertEqual(seconds(value), seconds(defaults[name]), name)
            else:
                self.assertEqual(value, defaults[name], name)

    def test_scheduling(self):
        self.assertEqual(self.pod["priorityClassName"], "system-node-critical")
        self.assertEqual(self.pod["tolerations"], [{"operator": "Exists"}])
        self.assertNotIn("nodeSelector", self.pod)
        self.assertNotIn("affinity", self.pod)
        self.assertEqual(self.pod["terminationGracePeriodSeconds"], 30)
        self.assertEqual(self.objects["DaemonSet"]["spec"]["updateStrategy"],
                         {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})

    def test_image_tag_is_app_version(self):
        self.assertEqual(self.container["image"], "berth/berthd:%s" % chart_yaml()["appVersion"])
        self.assertEqual(self.container["imagePullPolicy"], "IfNotPresent")
        self.assertNotIn("imagePullSecrets", self.pod)

    def test_resources_requests_only(self):
        self.assertEqual(set(self.container["resources"]), {"requests"})

    def test_probes_on_the_nodes_loopback(self):
        # hostNetwork: kubelet reaches berthd's 127.0.0.1:9321 on the node.
        self.assertEqual(self.container["ports"],
                         [{"name": "metrics", "containerPort": 9321, "protocol": "TCP"}])
        self.assertEqual(self.container["livenessProbe"], {
            "httpGet": {"host": "127.0.0.1", "path": "/healthz", "port": 9321},
            "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6})
        self.assertEqual(self.container["readinessProbe"], {
            "httpGet": {"host": "127.0.0.1", "path": "/readyz", "port": 9321},
            "periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 3})
        self.assertNotIn("startupProbe", self.container)

    def test_selector_matches_pod_labels(self):
        ds = self.objects["DaemonSet"]
        selector = ds["spec"]["selector"]["matchLabels"]
        labels = ds["spec"]["template"]["metadata"]["labels"]
        self.assertEqual(selector, {"app.kubernetes.io/name": "berth",
                                    "app.kubernetes.io/instance": RELEASE})
        self.assertLessEqual(selector.items(), labels.items())

    def test_rbac_exactly_what_berthd_calls(self):
        role = self.objects["ClusterRole"]
        self.assertEqual(rules_of(role), EXPECTED_RULES)
        self.assertNotIn("*", yaml.safe_dump(role["rules"]))
        binding = self.objects["ClusterRoleBinding"]
        self.assertEqual(binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io",
                                              "kind": "ClusterRole",
                                              "name": role["metadata"]["name"]})
        sa = self.objects["ServiceAccount"]["metadata"]["name"]
        self.assertEqual(binding["subjects"],
                         [{"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}])
        self.assertEqual(self.pod["serviceAccountName"], sa)

    def test_api_calls_in_the_code_are_the_known_ones(self):
        calls = []
        for path in sorted(glob.glob(os.path.join(ROOT, "controller", "kube", "*.cc"))):
            name = os.path.basename(path)
            if name.endswith("_test.cc") or name.startswith("kube_test_util") or \
                    name == "api_client.cc":
                continue
            with open(path) as f:
                source = f.read()
            for method in re.findall(r"\bclient_(?:\.|->)Request\(\s*\"(\w+)\"", source):
                calls.append((name, method))
            for _ in re.findall(r"\bclient_(?:\.|->)Watch\(", source):
                calls.append((name, "WATCH"))
        self.assertEqual(sorted(set(calls)), EXPECTED_CALLS,
                         "controller/kube calls the API differently: update the ClusterRole "
                         "(charts/berth/templates/clusterrole.yaml), EXPECTED_RULES and this list")

    def test_notes(self):
        # helm renders NOTES.txt only on install, which needs a cluster: the
        # same text is rendered here as a named template of a copy of the chart.
        copy = os.path.join(TMP, "notes-chart")
        shutil.copytree(CHART, copy)
        with open(os.path.join(CHART, "templates", "NOTES.txt")) as f:
            notes = f.read()
        with open(os.path.join(copy, "templates", "_notes_test.tpl"), "w") as f:
            f.write('{{- define "notes-test" -}}\n' + notes + "{{- end }}\n")
        with open(os.path.join(copy, "templates", "notes-test.yaml"), "w") as f:
            f.write('notes: {{ include "notes-test" . | toJson }}\n')
        out = helm("template", RELEASE, copy, "--namespace", NAMESPACE,
                   "--show-only", "templates/notes-test.yaml").stdout
        text = yaml.safe_load(out)["notes"]
        self.assertIn("daemonset/berth", text)
        self.assertIn("-n berth-system", text)
        self.assertIn("nodeName: NODE", text)
        self.assertIn("kubectl get nc", text)
        example = text[text.index("apiVersion: berth.dev"):text.index("  YAML")]
        nc = yaml.safe_load("\n".join(line[2:] for line in example.splitlines()))
        self.assertEqual(nc["kind"], "NodeContainer")
        self.assertEqual(nc["spec"]["nodeName"], "NODE")


class OverridesTest(unittest.TestCase):
    VALUES = {
        "image": {"repository": "registry.example:5000/ops/berthd", "tag": "1.2.3",
                  "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "regcred"}],
        "serviceAccount": {"create": False, "name": "node-agent"},
        "berthd": {"logLevel": "debug", "logFormat": "json", "stopOnExit": True,
                   "imageGC": {"highThreshold": 90, "lowThreshold": 70, "period": "10m"},
                   "restartBackoff": {"initial": "2s", "max": "1m"},
                   # Without hostNetwork, on the pod's address.
                   "metricsAddr": ":9100"},
        "extraArgs": ["--node-labels=zone=a,disk=ssd", "--rootfs-mode=copy"],
        "manifests": {"enabled": True, "hostPath": "/srv/berth/manifests", "debounce": "20ms"},
        "hostPaths": {"stateDir": "/var/lib/berth", "runDir": "/run/berth",
                      "cgroupRoot": "/sys/fs/cgroup", "cniBinDir": "/opt/cni/bin",
                      "cniConfDir": "/srv/cni/net.d", "cniDataDir": "/srv/cni/data",
                      "xtablesLock": "/srv/xtables.lock"},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                      "limits": {"cpu": 1, "memory": "512Mi"}},
        "nodeSelector": {"berth.dev/enabled": "true"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "edge",
                         "effect": "NoSchedule"}],
        "podAnnotations": {"example.com/team": "ops"},
        "terminationGracePeriodSeconds": 120,
        "hostNetwork": False,
        "probes": {"enabled": True, "liveness": {"periodSeconds": 20, "failureThreshold": 2},
                   "readiness": {"initialDelaySeconds": 1}},
        "extraVolumes": [{"name": "auth", "secret": {"secretName": "registry-auth"}}],
        "extraVolumeMounts": [{"name": "auth", "mountPath": "/etc/berth/auth", "readOnly": True}],
    }

    @classmethod
    def setUpClass(cls):
        cls.objects = render("-f", values_file(cls.VALUES), "--set", "berthd.workers=4")
        cls.container = berthd_container(cls.objects)
        cls.pod = cls.objects["DaemonSet"]["spec"]["template"]["spec"]

    def test_image(self):
        self.assertEqual(self.container["image"], "registry.example:5000/ops/berthd:1.2.3")
        self.assertEqual(self.container["imagePullPolicy"], "Always")
        self.assertEqual(self.pod["imagePullSecrets"], [{"name": "regcred"}])

    def test_args(self):
        args = self.container["args"]
        self.assertEqual(args[0], "--in-cluster")
        self.assertEqual(args[-2:], self.VALUES["extraArgs"])  # last: they override
        flags = flag_values(args)
        for name, value in {"manifests-dir": "/srv/berth/manifests", "manifests-debounce": "20ms",
                            "log-level": "debug",
                            "log-format": "json", "workers": "4", "stop-on-exit": "true",
                            "image-gc-high-threshold": "90", "image-gc-low-threshold": "70",
                            "image-gc-period": "10m", "restart-backoff-initial": "2s",
                            "restart-backoff-max": "1m", "cni-bin-dir": "/opt/cni/bin",
                            "cni-conf-dir": "/srv/cni/net.d"}.items():
            self.assertEqual(flags[name], value, name)

    def test_cni_paths(self):
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        mounts = {m["name"]: m for m in self.container["volumeMounts"]}
        for name, path in (("cni-bin", "/opt/cni/bin"), ("cni-conf", "/srv/cni/net.d"),
                           ("cni-data", "/srv/cni/data")):
            self.assertEqual(volumes[name]["hostPath"]["path"], path)
            self.assertEqual(mounts[name]["mountPath"], path)
        # Where iptables takes it, whichever host file it is.
        self.assertEqual(volumes["xtables-lock"]["hostPath"]["path"], "/srv/xtables.lock")
        self.assertEqual(mounts["xtables-lock"]["mountPath"], "/run/xtables.lock")

    def test_manifests_dir_mounted_read_only(self):
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        mounts = {m["name"]: m for m in self.container["volumeMounts"]}
        self.assertEqual(volumes["manifests"]["hostPath"]["path"], "/srv/berth/manifests")
        self.assertEqual(mounts["manifests"]["mountPath"], "/srv/berth/manifests")
        self.assertIs(mounts["manifests"]["readOnly"], True)
        self.assertEqual(volumes["auth"], self.VALUES["extraVolumes"][0])
        self.assertEqual(mounts["auth"], self.VALUES["extraVolumeMounts"][0])

    def test_resources_and_scheduling(self):
        self.assertEqual(self.container["resources"], self.VALUES["resources"])
        self.assertEqual(self.pod["nodeSelector"], {"berth.dev/enabled": "true"})
        self.assertEqual(self.pod["tolerations"], self.VALUES["tolerations"])
        self.assertEqual(self.pod["terminationGracePeriodSeconds"], 120)
        self.assertEqual(self.objects["DaemonSet"]["spec"]["template"]["metadata"]["annotations"],
                         {"example.com/team": "ops"})
        self.assertIs(self.pod["hostNetwork"], False)
        self.assertNotIn("dnsPolicy", self.pod)

    def test_probes_on_the_pods_address(self):
        self.assertEqual(flag_values(self.container["args"])["metrics-addr"], ":9100")
        self.assertEqual(self.container["ports"],
                         [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}])
        # Merged with the chart's defaults, field by field.
        self.assertEqual(self.container["livenessProbe"], {
            "httpGet": {"path": "/healthz", "port": 9100}, "periodSeconds": 20,
            "timeoutSeconds": 5, "failureThreshold": 2})
        self.assertEqual(self.container["readinessProbe"], {
            "httpGet": {"path": "/readyz", "port": 9100}, "initialDelaySeconds": 1,
            "periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 3})

    def test_existing_service_account(self):
        self.assertNotIn("ServiceAccount", self.objects)
        self.assertEqual(self.pod["serviceAccountName"], "node-agent")
        self.assertEqual(self.objects["ClusterRoleBinding"]["subjects"],
                         [{"kind": "ServiceAccount", "name": "node-agent",
                           "namespace": NAMESPACE}])

    def test_rbac_off(self):
        objects = render("--set", "rbac.create=false")
        self.assertEqual(sorted(objects), ["DaemonSet", "ServiceAccount"])


class MetricsTest(unittest.TestCase):
    def test_off(self):
        container = berthd_container(render("--set", "berthd.metricsAddr="))
        self.assertEqual(flag_values(container["args"])["metrics-addr"], "")
        for key in ("ports", "livenessProbe", "readinessProbe"):
            self.assertNotIn(key, container)

    def test_probes_off(self):
        container = berthd_container(render("--set", "probes.enabled=false"))
        self.assertEqual(container["ports"][0]["containerPort"], 9321)
        self.assertNotIn("livenessProbe", container)
        self.assertNotIn("readinessProbe", container)

    def test_a_given_address_is_probed_there(self):
        container = berthd_container(render("--set", "berthd.metricsAddr=10.1.2.3:9100"))
        self.assertEqual(container["livenessProbe"]["httpGet"],
                         {"host": "10.1.2.3", "path": "/healthz", "port": 9100})
        container = berthd_container(render("--set", "berthd.metricsAddr=0.0.0.0:9321"))
        self.assertEqual(container["readinessProbe"]["httpGet"]["host"], "127.0.0.1")

    def refused(self, *args, mentions):
        p = helm("template", RELEASE, CHART, *args, check=False)
        self.assertNotEqual(p.returncode, 0, "accepted: %s\n%s" % (args, p.stdout))
        self.assertIn(mentions, p.stderr)

    def test_unreachable_probes_are_refused(self):
        self.refused("--set", "hostNetwork=false",
                     mentions="is the pod's own loopback, which kubelet's probes cannot reach")
        self.refused("--set", "berthd.metricsAddr=127.0.0.1:0", mentions="port 0")
        # Without probes a pod's loopback is allowed (scraped by a sidecar, say).
        render("--set", "hostNetwork=false", "--set", "probes.enabled=false")


class BerthdAcceptsTheArgsTest(unittest.TestCase):
    """The rendered arguments given to the real berthd (--dry-run on empty
    directories instead of --in-cluster): every flag exists and parses."""

    def dry_run(self, args):
        self.assertTrue(os.access(BERTHD, os.X_OK), "no berthd at %s (build it)" % BERTHD)
        work = tempfile.mkdtemp(prefix="dry-run-", dir=TMP)
        manifests = os.path.join(work, "manifests")
        os.mkdir(manifests)
        replaced = {"--state-dir": os.path.join(work, "state"),
                    "--run-dir": os.path.join(work, "run"),
                    "--manifests-dir": manifests}
        argv = [BERTHD]
        for a in args:
            name, _, _ = a.partition("=")
            if a == "--in-cluster":
                continue
            argv.append("%s=%s" % (name, replaced[name]) if name in replaced else a)
        argv.append("--dry-run")
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, "%s\n%s%s" % (argv, p.stdout, p.stderr))

    def test_defaults(self):
        self.dry_run(berthd_container(render())["args"])

    def test_overrides(self):
        self.dry_run(berthd_container(render("-f", values_file(OverridesTest.VALUES),
                                             "--set", "berthd.workers=4"))["args"])


class SchemaTest(unittest.TestCase):
    def refused(self, *args, mentions):
        p = helm("template", RELEASE, CHART, *args, check=False)
        self.assertNotEqual(p.returncode, 0, "accepted: %s\n%s" % (args, p.stdout))
        self.assertIn("values don't meet the specifications of the schema", p.stderr)
        self.assertIn(mentions, p.stderr)

    def test_wrong_types(self):
        self.refused("--set", "berthd.workers=abc", mentions="workers")
        self.refused("--set", "berthd.workers=0", mentions="workers")
        self.refused("--set", "berthd.stopOnExit=maybe", mentions="stopOnExit")
        self.refused("--set", "terminationGracePeriodSeconds=-1",
                     mentions="terminationGracePeriodSeconds")
        self.refused("--set", "berthd.imageGC.highThreshold=101", mentions="highThreshold")
        self.refused("--set", "probes.liveness.periodSeconds=0", mentions="periodSeconds")
        self.refused("--set", "berthd.metricsAddr=localhost:9321", mentions="metricsAddr")
        self.refused("--set", "berthd.metricsAddr=9321", mentions="metricsAddr")

    def test_enums(self):
        self.refused("--set", "berthd.logLevel=verbose", mentions="logLevel")
        self.refused("--set", "berthd.logFormat=xml", mentions="logFormat")
        self.refused("--set", "image.pullPolicy=Sometimes", mentions="pullPolicy")
        self.refused("--set", "updateStrategy.type=Recreate", mentions="type")

    def test_durations(self):
        self.refused("--set", "berthd.resyncPeriod=60", mentions="resyncPeriod")
        self.refused("--set", "berthd.relistPeriod=soon", mentions="relistPeriod")
        self.refused("--set", "berthd.restartBackoff.max=5 minutes", mentions="max")

    def test_unknown_keys(self):
        self.refused("--set", "replicas=3", mentions="replicas")
        self.refused("--set", "berthd.logLevl=debug", mentions="logLevl")
        self.refused("--set", "image.digest=sha256:00", mentions="digest")
        self.refused("--set", "updateStrategy.rollingUpdate.maxSurge=1", mentions="maxSurge")
        self.refused("--set", "probes.startup.periodSeconds=1", mentions="startup")

    def test_required_and_shapes(self):
        self.refused("--set", "image.repository=", mentions="repository")
        self.refused("--set", "hostPaths.stateDir=var/lib/berth", mentions="stateDir")
        self.refused("--set", "hostPaths.cniConfDir=etc/cni", mentions="cniConfDir")
        self.refused("--set", "hostPaths.cniDataDir=", mentions="cniDataDir")
        # The chart mounts one directory of plugins.
        self.refused("--set", "hostPaths.cniBinDir=/usr/lib/cni:/opt/cni/bin",
                     mentions="cniBinDir")
        self.refused("--set", "extraArgs[0]=verbose", mentions="extraArgs")
        self.refused("--set", "nodeSelector.dedicated=true", mentions="dedicated")

    def test_valid_values_pass(self):
        # The same helm, the same chart: only the values differ.
        helm("template", RELEASE, CHART, "--set", "berthd.workers=8",
             "--set", "berthd.resyncPeriod=1h30m", "--set", "updateStrategy.type=OnDelete",
             "--set", "updateStrategy.rollingUpdate.maxUnavailable=10%")


class CrdTest(unittest.TestCase):
    def test_chart_crds_equal_top_level_crds(self):
        top = os.path.join(ROOT, "crds")
        ours = os.path.join(CHART, "crds")
        names = sorted(os.listdir(top))
        self.assertTrue(names)
        self.assertEqual(sorted(os.listdir(ours)), names)
        for name in names:
            self.assertFalse(os.path.islink(os.path.join(ours, name)),
                             "%s: a symlink is not packaged by helm; copy the file" % name)
            with open(os.path.join(top, name), "rb") as a, open(os.path.join(ours, name), "rb") as b:
                self.assertEqual(a.read(), b.read(),
                                 "charts/berth/crds/%s differs from crds/%s: cp crds/%s "
                                 "charts/berth/crds/" % (name, name, name))

    def test_packaged_chart_holds_the_crd(self):
        out = os.path.join(TMP, "package")
        os.mkdir(out)
        helm("package", CHART, "--destination", out)
        version = chart_yaml()["version"]
        with tarfile.open(os.path.join(out, "berth-%s.tgz" % version)) as tar:
            members = tar.getnames()
            packaged = tar.extractfile("berth/crds/nodecontainers.berth.dev.yaml").read()
        with open(os.path.join(ROOT, "crds", "nodecontainers.berth.dev.yaml"), "rb") as f:
            self.assertEqual(packaged, f.read())
        self.assertFalse([m for m in members if m.startswith("berth/tests/")], members)
        crd = yaml.safe_load(helm("show", "crds", CHART).stdout)
        self.assertEqual(crd["metadata"]["name"], "nodecontainers.berth.dev")


if __name__ == "__main__":
    unittest.main(verbosity=2)
