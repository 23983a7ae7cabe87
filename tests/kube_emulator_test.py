#!/usr/bin/env python3
"""hack/kube-emulator driven by the real kubectl, and the NodeContainer CRD
checked against controller/testdata (the parser's good and bad inputs).

Each test class starts its own emulator on a free port, with a kubeconfig
and a kubectl cache in a temporary directory that is removed (and checked
to be gone) afterwards, like the emulator process itself.
"""

import base64
import calendar
import hashlib
import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMULATOR = os.path.join(ROOT, "hack", "kube-emulator")
CRDS = os.path.join(ROOT, "crds")
EXAMPLES = os.path.join(ROOT, "manifests", "examples")
GOOD = os.path.join(ROOT, "controller", "testdata", "good")
BAD = os.path.join(ROOT, "controller", "testdata", "bad")


def find_kubectl():
    """The kubectl hack/install-tools installed (BERTH_KUBECTL, set by CTest,
    else build/tools/kubectl), else the first one on PATH."""
    for candidate in (os.environ.get("BERTH_KUBECTL"),
                      os.path.join(ROOT, "build", "tools", "kubectl")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("kubectl")


KUBECTL = find_kubectl()
NC = "/apis/berth.dev/v1alpha1"


def pb(field, payload):
    """A length-delimited protobuf field."""
    n, size = len(payload), b""
    while True:
        byte = n & 0x7F
        n >>= 7
        size += bytes([byte | (0x80 if n else 0)])
        if not n:
            return bytes([field << 3 | 2]) + size + payload


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


class Emulator:
    """One hack/kube-emulator process and its temporary directory."""

    def __init__(self, *extra, tls=False, token=None, client_ca=False, embed_client_cert=False):
        self.dir = tempfile.mkdtemp(prefix="kube-emulator-test-")
        self.token = token
        self.ssl_context = None
        self.client_cert = None
        args = [EMULATOR, "--port", "0", "--port-file", self.path("port"),
                "--kubeconfig-out", self.path("kubeconfig"), "--bookmark-interval", "0.3"]
        if tls:
            self._make_certs(client_ca)
            args += ["--tls-cert", self.path("server.pem"), "--tls-key", self.path("server.key")]
            self.ssl_context = ssl.create_default_context(cafile=self.path("server.pem"))
        if client_ca:
            args += ["--client-ca", self.path("ca.pem")]
            self.client_cert = (self.path("client.pem"), self.path("client.key"))
            if embed_client_cert:
                args += ["--kubeconfig-client-cert", self.client_cert[0],
                         "--kubeconfig-client-key", self.client_cert[1]]
        if token:
            args += ["--token", token]
        args += list(extra)
        self.log = open(self.path("emulator.log"), "wb")
        self.proc = subprocess.Popen(["python3"] + args, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        port = wait_for(lambda: self._read_port(), what="the port file")
        self.port = port
        self.base = "%s://127.0.0.1:%d" % ("https" if tls else "http", port)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _read_port(self):
        if self.proc.poll() is not None:
            raise AssertionError("kube-emulator exited: %s" % self.logs())
        try:
            with open(self.path("port")) as f:
                text = f.read().strip()
            return int(text) if text else None
        except FileNotFoundError:
            return None

    def _make_certs(self, client_ca):
        def openssl(*args):
            subprocess.run(["openssl"] + list(args), check=True, capture_output=True,
                           timeout=60)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-keyout", self.path("server.key"), "-out", self.path("server.pem"),
                "-subj", "/CN=kube-emulator",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
        if client_ca:
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", self.path("ca.key"), "-out", self.path("ca.pem"),
                    "-subj", "/CN=test-client-ca")
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", self.path("client.key"),
                    "-out", self.path("client.csr"), "-subj", "/CN=node-a")
            openssl("x509", "-req", "-in", self.path("client.csr"), "-CA", self.path("ca.pem"),
                    "-CAkey", self.path("ca.key"), "-CAcreateserial", "-days", "1",
                    "-out", self.path("client.pem"))

    def logs(self):
        try:
            with open(self.path("emulator.log"), "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        """SIGTERM; returns the exit code. Removes the temporary directory."""
        code = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                code = "killed after SIGTERM timeout"
        else:
            code = self.proc.returncode
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return code

    # -- kubectl --

    def kubectl(self, *args, input=None, check=True, timeout=60, kubeconfig=None):
        cmd = [KUBECTL, "--kubeconfig", kubeconfig or self.path("kubeconfig"),
               "--cache-dir", self.path("kubectl-cache")] + list(args)
        result = subprocess.run(cmd, input=input, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError("%s failed (%d):\n%s\n%s\nemulator log:\n%s" % (
                " ".join(args), result.returncode, result.stdout, result.stderr, self.logs()))
        return result

    def kubectl_json(self, *args):
        return json.loads(self.kubectl(*(list(args) + ["-o", "json"])).stdout)

    # -- raw HTTP --

    def request(self, method, path, body=None, content_type="application/json",
                headers=None, auth=True, cert=True, timeout=10):
        """Returns (status code, decoded JSON body or text)."""
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.token and auth:
            req.add_header("Authorization", "Bearer " + self.token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        context = self._context(cert)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
                code, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            code, raw = e.code, e.read()
        try:
            return code, json.loads(raw)
        except ValueError:
            return code, raw.decode(errors="replace")

    def _context(self, cert=True):
        if self.ssl_context is None:
            return None
        context = ssl.create_default_context(cafile=self.path("server.pem"))
        if cert and self.client_cert:
            context.load_cert_chain(*self.client_cert)
        return context

    def watch(self, path):
        return WatchStream(self, path)


class WatchStream:
    """A raw watch: events are read by a thread into a queue."""

    def __init__(self, emulator, path):
        cls = http.client.HTTPSConnection if emulator.ssl_context else http.client.HTTPConnection
        kwargs = {"context": emulator._context()} if emulator.ssl_context else {}
        self.conn = cls("127.0.0.1", emulator.port, timeout=30, **kwargs)
        headers = {}
        if emulator.token:
            headers["Authorization"] = "Bearer " + emulator.token
        self.conn.request("GET", path, headers=headers)
        self.sock = self.conn.sock
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.events = queue.Queue()
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                self.events.put(json.loads(line))
        except (OSError, ValueError, http.client.HTTPException):
            pass
        finally:
            self.ended.set()

    def next(self, timeout=5.0, skip_bookmarks=True):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no watch event within %.1fs" % timeout)
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                raise AssertionError("no watch event within %.1fs" % timeout)
            if skip_bookmarks and ev["type"] == "BOOKMARK":
                continue
            return ev

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
        self.resp.close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "watch reader still running"


def nc(name, namespace="default", node=None, labels=None, image="busybox"):
    obj = {"apiVersion": "berth.dev/v1alpha1", "kind": "NodeContainer",
           "metadata": {"name": name, "namespace": namespace},
           "spec": {"image": image}}
    if node is not None:
        obj["spec"]["nodeName"] = node
    if labels:
        obj["metadata"]["labels"] = labels
    return obj


def kubectl_table(out):
    """kubectl's table output as (header, rows of cells): each column is cut
    at its header's offset (kubectl pads columns with spaces, so a cell may
    be empty or hold single spaces)."""
    lines = out.rstrip("\n").split("\n")
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    bounds = list(zip(starts, starts[1:] + [None]))
    header = [lines[0][a:b].strip() for a, b in bounds]
    return header, [[line[a:b].strip() for a, b in bounds] for line in lines[1:]]


def ages(created, before, after):
    """The ages kubectl may print for an object created at the RFC 3339 time
    created, asked between before and after (seconds since the epoch): under
    two minutes, "<seconds>s"."""
    t = calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ"))
    low, high = int(before - t), int(after - t)
    assert 0 <= low <= high < 120, (created, before, after)
    return ["%ds" % s for s in range(low, high + 1)]


class EmulatorTestCase(unittest.TestCase):
    emulator_args = {}

    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(**cls.emulator_args)
        try:
            cls.emu.kubectl("apply", "-f", CRDS)
        except BaseException:
            cls.emu.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        directory, proc = cls.emu.dir, cls.emu.proc
        code = cls.emu.stop()
        assert code == 0, "kube-emulator exit code %r" % code
        assert proc.poll() is not None, "kube-emulator still running"
        assert not os.path.exists(directory), "%s left behind" % directory

    def create(self, obj):
        code, body = self.emu.request(
            "POST", "%s/namespaces/%s/nodecontainers" % (NC, obj["metadata"]["namespace"]), obj)
        self.assertEqual(code, 201, body)
        return body

    def names(self, *args):
        out = self.emu.kubectl("get", "nodecontainers", "-o", "name", *args).stdout.split()
        return sorted(n.split("/", 1)[1] for n in out)


class CrdAndKubectlTest(EmulatorTestCase):
    def test_crd_established_and_discovered(self):
        crd = self.emu.kubectl_json("get", "crd", "nodecontainers.berth.dev")
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        self.assertEqual(conditions, {"Established": "True", "NamesAccepted": "True"})
        resources = self.emu.kubectl("api-resources", "--api-group=berth.dev").stdout
        self.assertRegex(resources, r"nodecontainers\s+nc\s+berth.dev/v1alpha1\s+true\s+"
                                    r"NodeContainer")
        code, listing = self.emu.request("GET", NC)
        self.assertEqual(code, 200)
        by_name = {r["name"]: r for r in listing["resources"]}
        self.assertEqual(by_name["nodecontainers/status"]["verbs"], ["get", "patch", "update"])
        self.assertEqual(by_name["nodecontainers"]["shortNames"], ["nc"])
        explained = self.emu.kubectl("explain", "nc.spec.restartPolicy").stdout
        self.assertIn("ENUM:", explained)
        self.assertIn("OnFailure", explained)

    def test_apply_examples_get_and_status_put(self):
        self.emu.kubectl("apply", "-f", EXAMPLES)
        self.assertLessEqual({"sleeper", "ticker", "web"}, set(self.names()))
        web = self.emu.kubectl_json("get", "nc", "web")
        self.assertEqual(web["metadata"]["generation"], 1)
        # Defaults from the schema.
        self.assertEqual(web["spec"]["terminationGracePeriodSeconds"], 30)
        self.assertNotIn("status", web)

        web["status"] = {"phase": "Running", "restartCount": 2, "observedGeneration": 1,
                         "nodes": [{"nodeName": "node-a", "phase": "Running", "pid": 42,
                                    "startedAt": "2026-01-01T00:00:00Z",
                                    "conditions": [{"type": "Ready", "status": "True"}]}]}
        code, updated = self.emu.request(
            "PUT", NC + "/namespaces/default/nodecontainers/web/status", web)
        self.assertEqual(code, 200, updated)
        self.assertEqual(updated["metadata"]["generation"], 1)
        table = self.emu.kubectl("get", "nc", "web").stdout.splitlines()
        self.assertEqual(table[0].split(), ["NAME", "NODE", "PHASE", "RESTARTS", "AGE"])
        self.assertEqual(table[1].split()[:3], ["web", "Running", "2"])

        # The same resourceVersion again: 409 Conflict with a Status.
        code, status = self.emu.request(
            "PUT", NC + "/namespaces/default/nodecontainers/web/status", web)
        self.assertEqual(code, 409)
        self.assertEqual((status["kind"], status["reason"], status["code"]),
                         ("Status", "Conflict", 409))
        self.assertIn("the object has been modified", status["message"])

        # A status change through the main resource is ignored.
        updated["status"]["phase"] = "Failed"
        updated["spec"]["nodeName"] = "node-a"
        code, again = self.emu.request("PUT", NC + "/namespaces/default/nodecontainers/web",
                                       updated)
        self.assertEqual(code, 200, again)
        self.assertEqual(again["status"]["phase"], "Running")
        self.assertEqual(again["metadata"]["generation"], 2)
        table = self.emu.kubectl("get", "nc", "web").stdout.splitlines()
        self.assertEqual(table[1].split()[:4], ["web", "node-a", "Running", "2"])

        # An invalid status is refused like the real server does.
        again["status"]["nodes"].append({"nodeName": "node-a", "phase": "Exploded"})
        code, status = self.emu.request(
            "PUT", NC + "/namespaces/default/nodecontainers/web/status", again)
        self.assertEqual(code, 422, status)
        fields = sorted(c["field"] for c in status["details"]["causes"])
        self.assertEqual(fields, ["status.nodes[1]", "status.nodes[1].phase"])

    def test_apply_edit_increments_generation(self):
        obj = nc("edited", labels={"app": "x"})
        self.emu.kubectl("apply", "-f", "-", input=json.dumps(obj))
        first = self.emu.kubectl_json("get", "nc", "edited")
        self.assertEqual(first["metadata"]["generation"], 1)
        obj["spec"]["args"] = ["sleep", "1"]
        out = self.emu.kubectl("apply", "-f", "-", input=json.dumps(obj)).stdout
        self.assertIn("configured", out)
        second = self.emu.kubectl_json("get", "nc", "edited")
        self.assertEqual(second["metadata"]["generation"], 2)
        self.assertGreater(int(second["metadata"]["resourceVersion"]),
                           int(first["metadata"]["resourceVersion"]))
        # Metadata-only changes keep the generation.
        self.emu.kubectl("label", "nc", "edited", "tier=backend")
        self.emu.kubectl("annotate", "nc", "edited", "note=x")
        third = self.emu.kubectl_json("get", "nc", "edited")
        self.assertEqual(third["metadata"]["generation"], 2)
        self.assertEqual(third["metadata"]["labels"], {"app": "x", "tier": "backend"})
        # Unchanged apply is a no-op.
        out = self.emu.kubectl("apply", "-f", "-", input=json.dumps(obj)).stdout
        self.assertIn("unchanged", out)

    def test_patch_types(self):
        self.create(nc("patched", labels={"app": "p"}))
        self.emu.kubectl("patch", "nc", "patched", "--type", "merge",
                         "-p", '{"spec":{"restartPolicy":"Never","nodeName":"node-b"}}')
        self.emu.kubectl("patch", "nc", "patched", "--type", "json",
                         "-p", '[{"op":"add","path":"/spec/command","value":["true"]}]')
        obj = self.emu.kubectl_json("get", "nc", "patched")
        self.assertEqual((obj["spec"]["restartPolicy"], obj["spec"]["nodeName"],
                          obj["spec"]["command"]), ("Never", "node-b", ["true"]))
        self.assertEqual(obj["metadata"]["generation"], 3)
        # Custom resources take no strategic merge patch (kubectl's default).
        result = self.emu.kubectl("patch", "nc", "patched", "-p", '{"spec":{"args":["x"]}}',
                                  check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("application/merge-patch+json", result.stderr)
        # Invalid patches are refused with the field.
        result = self.emu.kubectl("patch", "nc", "patched", "--type", "merge",
                                  "-p", '{"spec":{"restartPolicy":"Sometimes"}}', check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn('spec.restartPolicy: Unsupported value: "Sometimes"', result.stderr)
        # Status through the status subresource only.
        self.emu.kubectl("patch", "nc", "patched", "--subresource=status", "--type", "merge",
                         "-p", '{"status":{"phase":"Succeeded","restartCount":1}}')
        obj = self.emu.kubectl_json("get", "nc", "patched")
        self.assertEqual(obj["status"], {"phase": "Succeeded", "restartCount": 1})
        self.assertEqual(obj["metadata"]["generation"], 3)
        # A merge patch carrying a stale resourceVersion is a conflict.
        code, status = self.emu.request(
            "PATCH", NC + "/namespaces/default/nodecontainers/patched",
            {"metadata": {"resourceVersion": "1", "finalizers": ["a.b/c"]}},
            "application/merge-patch+json")
        self.assertEqual((code, status["reason"]), (409, "Conflict"))
        # Server-side apply (simplified).
        code, applied = self.emu.request(
            "PATCH", NC + "/namespaces/default/nodecontainers/ssa?fieldManager=test",
            nc("ssa"), "application/apply-patch+yaml")
        self.assertEqual(code, 201, applied)

    def test_label_selectors(self):
        for name, labels in (("l1", {"tier": "web", "env": "prod"}),
                             ("l2", {"tier": "db", "env": "prod"}),
                             ("l3", {"tier": "web"})):
            self.create(nc(name, labels=labels))
        only = lambda names: [n for n in names if n in ("l1", "l2", "l3")]
        self.assertEqual(only(self.names("-l", "tier=web")), ["l1", "l3"])
        self.assertEqual(only(self.names("-l", "tier==web")), ["l1", "l3"])
        self.assertEqual(only(self.names("-l", "tier!=web")), ["l2"])
        self.assertEqual(only(self.names("-l", "tier in (db,cache)")), ["l2"])
        self.assertEqual(only(self.names("-l", "tier notin (db),tier")), ["l1", "l3"])
        self.assertEqual(only(self.names("-l", "env")), ["l1", "l2"])
        self.assertEqual(only(self.names("-l", "!env,tier")), ["l3"])
        self.assertEqual(only(self.names("-l", "env=prod,tier=web")), ["l1"])

    def test_field_selectors(self):
        self.emu.kubectl("create", "namespace", "fs")
        self.create(nc("on-a", "fs", node="node-a"))
        self.create(nc("on-b", "fs", node="node-b"))
        self.create(nc("anywhere", "fs"))
        self.create(nc("empty-node", "fs", node=""))
        self.assertEqual(self.names("-n", "fs", "--field-selector", "spec.nodeName=node-a"),
                         ["on-a"])
        self.assertEqual(self.names("-n", "fs", "--field-selector", "spec.nodeName="),
                         ["anywhere", "empty-node"])
        self.assertEqual(self.names("-n", "fs", "--field-selector", "spec.nodeName!=node-a"),
                         ["anywhere", "empty-node", "on-b"])
        self.assertEqual(self.names("-n", "fs", "--field-selector",
                                    "metadata.name=on-b,metadata.namespace=fs"), ["on-b"])
        # Across namespaces, the way berthd lists.
        code, listing = self.emu.request(
            "GET", NC + "/nodecontainers?fieldSelector=" + urllib.parse.quote("spec.nodeName="))
        self.assertEqual(code, 200)
        found = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in listing["items"]}
        self.assertIn(("fs", "anywhere"), found)
        self.assertNotIn(("fs", "on-a"), found)
        result = self.emu.kubectl("get", "nc", "--field-selector", "spec.image=busybox",
                                  check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("field label not supported: spec.image", result.stderr)

    def test_delete_with_finalizer(self):
        self.create(nc("final"))
        code, _ = self.emu.request(
            "PATCH", NC + "/namespaces/default/nodecontainers/final",
            {"metadata": {"finalizers": ["node.berth.dev/node-a"]}},
            "application/merge-patch+json")
        self.assertEqual(code, 200)
        self.emu.kubectl("delete", "nc", "final", "--wait=false")
        obj = self.emu.kubectl_json("get", "nc", "final")
        self.assertIn("deletionTimestamp", obj["metadata"])
        self.assertEqual(obj["metadata"]["finalizers"], ["node.berth.dev/node-a"])
        # No new finalizers once deleting.
        code, status = self.emu.request(
            "PATCH", NC + "/namespaces/default/nodecontainers/final",
            {"metadata": {"finalizers": ["node.berth.dev/node-a", "x.y/z"]}},
            "application/merge-patch+json")
        self.assertEqual(code, 422, status)
        # kubectl delete waits until the finalizer is gone.
        waiter = subprocess.Popen(
            [KUBECTL, "--kubeconfig", self.emu.path("kubeconfig"), "--cache-dir",
             self.emu.path("kubectl-cache"), "delete", "nc", "final", "--timeout=30s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            def waiting():
                _, log = self.emu.request("GET", "/_emulator/requests")
                return any(r["verb"] == "watch" and "metadata.name%3Dfinal" in r["query"]
                           for r in log)
            wait_for(waiting, timeout=30, what="kubectl delete to watch the object")
            time.sleep(0.5)
            self.assertIsNone(waiter.poll(), "kubectl delete returned before the finalizer "
                                             "was removed")
            self.emu.kubectl("patch", "nc", "final", "--type", "json",
                             "-p", '[{"op":"remove","path":"/metadata/finalizers/0"}]')
            out, err = waiter.communicate(timeout=30)
        finally:
            if waiter.poll() is None:
                waiter.kill()
                waiter.wait()
        self.assertEqual(waiter.returncode, 0, err)
        self.assertIn('"final" deleted', out)
        code, _ = self.emu.request("GET", NC + "/namespaces/default/nodecontainers/final")
        self.assertEqual(code, 404)

    def test_generate_name_and_update_preconditions(self):
        obj = nc("")
        del obj["metadata"]["name"]
        obj["metadata"]["generateName"] = "gen-"
        created = self.create(obj)
        name = created["metadata"]["name"]
        self.assertRegex(name, r"^gen-[a-z0-9]{5}$")
        self.assertTrue(created["metadata"]["uid"])
        del created["metadata"]["resourceVersion"]
        code, status = self.emu.request("PUT", NC + "/namespaces/default/nodecontainers/" + name,
                                        created)
        self.assertEqual(code, 422, status)
        code, status = self.emu.request("POST", NC + "/namespaces/default/nodecontainers",
                                        nc(name))
        self.assertEqual((code, status["reason"]), (409, "AlreadyExists"))
        code, status = self.emu.request("POST", NC + "/namespaces/nowhere/nodecontainers",
                                        nc("x", "nowhere"))
        self.assertEqual((code, status["reason"]), (404, "NotFound"))

    def test_nodes_and_events(self):
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "node-a", "labels": {"disk": "ssd"}}}
        self.emu.kubectl("apply", "-f", "-", input=json.dumps(node))
        self.emu.kubectl("label", "node", "node-a", "zone=z1")
        got = self.emu.kubectl_json("get", "node", "node-a")
        self.assertEqual(got["metadata"]["labels"], {"disk": "ssd", "zone": "z1"})
        code, listing = self.emu.request("GET", "/api/v1/nodes?fieldSelector=metadata.name%3D"
                                                "node-a")
        self.assertEqual([n["metadata"]["name"] for n in listing["items"]], ["node-a"])
        event = {"apiVersion": "v1", "kind": "Event",
                 "metadata": {"name": "web.1", "namespace": "default"},
                 "involvedObject": {"kind": "NodeContainer", "name": "web",
                                    "namespace": "default", "uid": "u1"},
                 "reason": "Started", "message": "started", "type": "Normal", "count": 1,
                 "source": {"component": "berthd", "host": "node-a"},
                 "reportingComponent": "berth.dev/berthd", "reportingInstance": "node-a"}
        code, created = self.emu.request("POST", "/api/v1/namespaces/default/events", event)
        self.assertEqual(code, 201, created)
        code, patched = self.emu.request("PATCH", "/api/v1/namespaces/default/events/web.1",
                                         {"count": 2}, "application/strategic-merge-patch+json")
        self.assertEqual((code, patched["count"]), (200, 2))
        out = self.emu.kubectl("get", "events", "--field-selector",
                               "involvedObject.name=web,reason=Started").stdout
        self.assertEqual(kubectl_table(out)[1], [["<unknown>", "Normal", "Started",
                                                  "nodecontainer/web", "started"]])

    def test_node_tables(self):
        """kubectl get nodes [-o wide]: the columns and cells of the apiserver's
        node printer (pkg/printers/internalversion printNode), as kubectl 1.31
        lays them out."""
        nodes = {
            # Ready, cordoned, two roles (a node-role.kubernetes.io/ label and
            # the older kubernetes.io/role), every address type.
            "tbl-a": ({"node-role.kubernetes.io/worker": "", "kubernetes.io/role": "edge",
                       "disk": "ssd"},
                      {"unschedulable": True},
                      {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "Hostname", "address": "tbl-a"},
                                     {"type": "InternalIP", "address": "10.0.0.5"},
                                     {"type": "InternalIP", "address": "10.0.0.6"},
                                     {"type": "ExternalIP", "address": "203.0.113.7"}],
                       "nodeInfo": {"kubeletVersion": "v1.31.0",
                                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "kernelVersion": "6.1.0-18-amd64",
                                    "containerRuntimeVersion": "berth://0.1.0"}}),
            # Nothing reported yet.
            "tbl-b": ({}, {}, None),
            # Ready False, only a kernel version.
            "tbl-c": ({"kubernetes.io/role": ""}, {},
                      {"conditions": [{"type": "Ready", "status": "Unknown"}],
                       "nodeInfo": {"kernelVersion": "6.1.0"}}),
        }
        for name, (labels, spec, status) in nodes.items():
            labels = dict(labels, table="nodes")
            code, body = self.emu.request("POST", "/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": labels}, "spec": spec})
            self.assertEqual(code, 201, body)
            if status:
                code, body = self.emu.request("PATCH", "/api/v1/nodes/%s/status" % name,
                                              {"status": status},
                                              "application/merge-patch+json")
                self.assertEqual(code, 200, body)
        created = {n["metadata"]["name"]: n["metadata"]["creationTimestamp"]
                   for n in self.emu.kubectl_json("get", "nodes", "-l", "table=nodes")["items"]}
        self.assertEqual(sorted(created), ["tbl-a", "tbl-b", "tbl-c"])

        for wide in (False, True):
            before = time.time()
            out = self.emu.kubectl("get", "nodes", "-l", "table=nodes",
                                   *(["-o", "wide"] if wide else [])).stdout
            after = time.time()
            header, rows = kubectl_table(out)
            expected_header = ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
            # The AGE cell is checked apart and left out here.
            expected = [["tbl-a", "Ready,SchedulingDisabled", "edge,worker", "v1.31.0"],
                        ["tbl-b", "Unknown", "<none>", ""],
                        ["tbl-c", "NotReady", "<none>", ""]]
            if wide:
                expected_header += ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION",
                                    "CONTAINER-RUNTIME"]
                expected[0] += ["10.0.0.5", "203.0.113.7", "Debian GNU/Linux 12 (bookworm)",
                                "6.1.0-18-amd64", "berth://0.1.0"]
                expected[1] += ["<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]
                expected[2] += ["<none>", "<none>", "<unknown>", "6.1.0", "<unknown>"]
            self.assertEqual(header, expected_header, out)
            for row in rows:
                self.assertIn(row.pop(3), ages(created[row[0]], before, after), out)
            self.assertEqual(rows, expected, out)

    def test_event_tables(self):
        """kubectl get events [-o wide] [-A]: the columns and cells of the
        apiserver's event printer (printEvent), as kubectl 1.31 lays them out:
        ages from lastTimestamp, eventTime or series, the involved object as
        kind/name, the source or the reporting controller and instance, the
        message trimmed (kubectl cuts it at a newline)."""
        code, body = self.emu.request("POST", "/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tables"}})
        self.assertEqual(code, 201, body)
        now = time.time()

        def stamp(seconds_ago, micro=False):
            t = time.gmtime(now - seconds_ago)
            return time.strftime("%Y-%m-%dT%H:%M:%S" + (".000000Z" if micro else "Z"), t)
        hour, day = 3600, 24 * 3600
        events = [
            {"metadata": {"name": "web.1"},
             "involvedObject": {"kind": "NodeContainer", "name": "web", "namespace": "tables",
                                "uid": "u1", "fieldPath": "spec.containers{web}"},
             "reason": "Started", "message": "  started container web \n", "type": "Normal",
             "count": 3, "firstTimestamp": stamp(10 * day), "lastTimestamp": stamp(30 * hour),
             "source": {"component": "berthd", "host": "node-a"},
             "reportingComponent": "berth.dev/berthd", "reportingInstance": "node-a"},
            # A new-style event: eventTime, no count, no source.
            {"metadata": {"name": "web.2"}, "involvedObject": {"kind": "Node"},
             "reason": "Pulled", "message": "pulled", "type": "Warning",
             "eventTime": stamp(20 * day, micro=True), "action": "Pull",
             "reportingComponent": "berth.dev/berthd", "reportingInstance": "node-b"},
            # A series, a component without a host, no first time at all.
            {"metadata": {"name": "web.3"},
             "involvedObject": {"kind": "NodeContainer", "name": "db", "namespace": "tables"},
             "reason": "BackOff", "message": "back-off\nrestarting", "type": "Warning",
             "series": {"count": 7, "lastObservedTime": stamp(12 * day, micro=True)},
             "source": {"component": "berthd"}},
        ]
        for ev in events:
            ev.update({"apiVersion": "v1", "kind": "Event"})
            ev["metadata"]["namespace"] = "tables"
            code, body = self.emu.request("POST", "/api/v1/namespaces/tables/events", ev)
            self.assertEqual(code, 201, body)

        header, rows = kubectl_table(self.emu.kubectl("get", "events", "-n", "tables").stdout)
        self.assertEqual(header, ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"])
        self.assertEqual(rows, [["30h", "Normal", "Started", "nodecontainer/web",
                                 "started container web"],
                                ["20d", "Warning", "Pulled", "node", "pulled"],
                                ["12d", "Warning", "BackOff", "nodecontainer/db",
                                 "back-off..."]])
        header, rows = kubectl_table(
            self.emu.kubectl("get", "events", "-n", "tables", "-o", "wide").stdout)
        self.assertEqual(header, ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE",
                                  "MESSAGE", "FIRST SEEN", "COUNT", "NAME"])
        self.assertEqual(rows, [["30h", "Normal", "Started", "nodecontainer/web",
                                 "spec.containers{web}", "berthd, node-a",
                                 "started container web", "10d", "3", "web.1"],
                                ["20d", "Warning", "Pulled", "node", "",
                                 "berth.dev/berthd, node-b", "pulled", "20d", "1", "web.2"],
                                ["12d", "Warning", "BackOff", "nodecontainer/db", "", "berthd",
                                 "back-off...", "<unknown>", "7", "web.3"]])
        header, rows = kubectl_table(self.emu.kubectl(
            "get", "events", "-A", "--field-selector", "metadata.namespace=tables").stdout)
        self.assertEqual(header, ["NAMESPACE", "LAST SEEN", "TYPE", "REASON", "OBJECT",
                                  "MESSAGE"])
        self.assertEqual([r[:3] for r in rows], [["tables", "30h", "Normal"],
                                                 ["tables", "20d", "Warning"],
                                                 ["tables", "12d", "Warning"]])
        self.emu.kubectl("delete", "namespace", "tables")

    def test_crd_delete_removes_objects(self):
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "widgets.example.com"},
               "spec": {"group": "example.com", "scope": "Cluster",
                        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {
                                          "type": "object",
                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}
        self.emu.kubectl("apply", "-f", "-", input=json.dumps(crd))
        widget = {"apiVersion": "example.com/v1", "kind": "Widget",
                  "metadata": {"name": "w1"}, "size": 3}
        self.emu.kubectl("apply", "-f", "-", input=json.dumps(widget))
        self.assertEqual(self.emu.kubectl_json("get", "widget", "w1")["size"], 3)
        self.emu.kubectl("delete", "crd", "widgets.example.com")
        code, _ = self.emu.request("GET", "/apis/example.com/v1/widgets/w1")
        self.assertEqual(code, 404)
        code, groups = self.emu.request("GET", "/apis")
        self.assertNotIn("example.com", [g["name"] for g in groups["groups"]])

    def test_pruning_and_field_validation_modes(self):
        obj = nc("pruned")
        obj["spec"]["bogus"] = 1
        obj["spec"]["mounts"] = [{"mountPath": "/m", "tmpfs": {}, "extra": True}]
        path = NC + "/namespaces/default/nodecontainers"
        code, status = self.emu.request("POST", path + "?fieldValidation=Strict", obj)
        self.assertEqual(code, 400, status)
        self.assertIn('unknown field "spec.bogus"', status["message"])
        self.assertIn('unknown field "spec.mounts[0].extra"', status["message"])
        req = urllib.request.Request(self.emu.base + path + "?fieldValidation=Warn",
                                     data=json.dumps(obj).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            created = json.loads(resp.read())
            warnings = resp.headers.get_all("Warning")
        self.assertEqual(resp.status, 201)
        self.assertIn('299 - "unknown field \\"spec.bogus\\""', warnings)
        self.assertNotIn("bogus", created["spec"])
        self.assertEqual(created["spec"]["mounts"], [{"mountPath": "/m", "tmpfs": {}}])
        # Null fields are dropped, then defaults applied.
        obj = nc("nulls")
        obj["spec"]["restartPolicy"] = None
        obj["spec"]["nodeSelector"] = None
        code, created = self.emu.request("POST", path + "?fieldValidation=Ignore", obj)
        self.assertEqual(code, 201, created)
        self.assertEqual(created["spec"]["restartPolicy"], "Always")
        self.assertNotIn("nodeSelector", created["spec"])

    def test_concurrent_status_writers_with_conflicts(self):
        """The read-modify-write loop of CONTRACT.md, from several writers."""
        self.create(nc("contended"))
        item = NC + "/namespaces/default/nodecontainers/contended"
        writers, rounds, conflicts, errors = 6, 10, [], []

        def writer(index):
            try:
                write(index)
            except Exception as e:  # noqa: BLE001 -- reported below
                errors.append(e)

        def write(index):
            node = "node-%d" % index
            for _ in range(rounds):
                for _attempt in range(200):
                    _, obj = self.emu.request("GET", item)
                    status = obj.get("status") or {}
                    entries = [e for e in status.get("nodes", []) if e["nodeName"] != node]
                    mine = [e for e in status.get("nodes", []) if e["nodeName"] == node]
                    count = mine[0]["restartCount"] + 1 if mine else 1
                    entries.append({"nodeName": node, "phase": "Running",
                                    "restartCount": count})
                    obj["status"] = {"phase": "Running", "nodes": entries,
                                     "restartCount": sum(e["restartCount"] for e in entries)}
                    code, _ = self.emu.request("PUT", item + "/status", obj)
                    if code == 200:
                        break
                    if code != 409:
                        raise AssertionError("status PUT: %d" % code)
                    conflicts.append(1)
                else:
                    raise AssertionError("writer %d never succeeded" % index)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
            self.assertFalse(t.is_alive())
        self.assertEqual(errors, [])
        _, obj = self.emu.request("GET", item)
        self.assertEqual(obj["status"]["restartCount"], writers * rounds)
        self.assertEqual(sorted(e["restartCount"] for e in obj["status"]["nodes"]),
                         [rounds] * writers)
        self.assertTrue(conflicts, "no write ever conflicted")
        self.assertEqual(obj["metadata"]["generation"], 1)

    def test_request_log(self):
        self.emu.kubectl("get", "nc", "--field-selector", "spec.nodeName=node-z")
        code, log = self.emu.request("GET", "/_emulator/requests")
        self.assertEqual(code, 200)
        lists = [r for r in log if r["verb"] == "list" and
                 r["path"] == NC + "/namespaces/default/nodecontainers" and
                 "spec.nodeName%3Dnode-z" in r["query"]]
        self.assertTrue(lists, log[-5:])


class WatchTest(EmulatorTestCase):
    def test_bookmarks_and_gone_after_compaction(self):
        code, listing = self.emu.request("GET", NC + "/namespaces/default/nodecontainers")
        rv = listing["metadata"]["resourceVersion"]
        w = self.emu.watch(NC + "/namespaces/default/nodecontainers?watch=1&resourceVersion=%s"
                                "&allowWatchBookmarks=true" % rv)
        try:
            self.assertEqual(w.status, 200)
            created = self.create(nc("watched"))
            ev = w.next()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "watched"))
            bookmark = w.next(skip_bookmarks=False)
            while bookmark["type"] != "BOOKMARK":
                bookmark = w.next(skip_bookmarks=False)
            self.assertEqual(bookmark["object"]["kind"], "NodeContainer")
            self.assertGreaterEqual(int(bookmark["object"]["metadata"]["resourceVersion"]),
                                    int(created["metadata"]["resourceVersion"]))
        finally:
            w.close()

        # A watch from an old resourceVersion replays what came after it.
        w = self.emu.watch(NC + "/namespaces/default/nodecontainers?watch=1&resourceVersion=%s"
                           % rv)
        try:
            self.assertEqual(w.next()["object"]["metadata"]["name"], "watched")
        finally:
            w.close()

        code, _ = self.emu.request("POST", "/_emulator/compact")
        self.assertEqual(code, 200)
        w = self.emu.watch(NC + "/namespaces/default/nodecontainers?watch=1&resourceVersion=%s"
                           % created["metadata"]["resourceVersion"])
        try:
            ev = w.next()
            self.assertEqual(ev["type"], "ERROR")
            self.assertEqual((ev["object"]["code"], ev["object"]["reason"]), (410, "Expired"))
            self.assertTrue(w.ended.wait(5), "the stream did not end after the ERROR")
        finally:
            w.close()
        code, status = self.emu.request(
            "GET", NC + "/nodecontainers?resourceVersion=%s&resourceVersionMatch=Exact" % rv)
        self.assertEqual(code, 410, status)
        # Relist and watch from the new resourceVersion: works again.
        code, listing = self.emu.request("GET", NC + "/nodecontainers")
        w = self.emu.watch(NC + "/nodecontainers?watch=true&resourceVersion=%s"
                           % listing["metadata"]["resourceVersion"])
        try:
            self.create(nc("after-compaction"))
            self.assertEqual(w.next()["object"]["metadata"]["name"], "after-compaction")
        finally:
            w.close()

    def test_initial_events_and_timeout(self):
        self.create(nc("initial"))
        w = self.emu.watch(NC + "/namespaces/default/nodecontainers?watch=1&timeoutSeconds=1"
                                "&fieldSelector=metadata.name%3Dinitial")
        try:
            ev = w.next()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "initial"))
            self.assertTrue(w.ended.wait(5), "timeoutSeconds not honoured")
        finally:
            w.close()
        # The older /watch/ paths, with the name in the path.
        w = self.emu.watch(NC + "/watch/namespaces/default/nodecontainers/initial"
                                "?timeoutSeconds=5")
        try:
            self.create(nc("initial-other"))
            code, _ = self.emu.request(
                "PATCH", NC + "/namespaces/default/nodecontainers/initial",
                {"metadata": {"labels": {"seen": "yes"}}}, "application/merge-patch+json")
            self.assertEqual(code, 200)
            self.assertEqual(w.next()["type"], "ADDED")
            ev = w.next()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]),
                             ("MODIFIED", "initial"))
        finally:
            w.close()

    def test_selector_transitions(self):
        self.create(nc("mover", node="node-a"))
        w = self.emu.watch(NC + "/nodecontainers?watch=1&resourceVersion=0&fieldSelector="
                           + urllib.parse.quote("spec.nodeName=node-a"))
        try:
            self.assertEqual(w.next()["type"], "ADDED")
            # Leaving the selector: DELETED with the content that matched (as
            # the watch cache sends it) at the write's resourceVersion;
            # entering it: ADDED with the new content.
            for node, expected, shown in (("node-b", "DELETED", "node-a"),
                                          ("node-a", "ADDED", "node-a")):
                code, patched = self.emu.request(
                    "PATCH", NC + "/namespaces/default/nodecontainers/mover",
                    {"spec": {"nodeName": node}}, "application/merge-patch+json")
                self.assertEqual(code, 200)
                ev = w.next()
                self.assertEqual((ev["type"], ev["object"]["spec"]["nodeName"],
                                  ev["object"]["metadata"]["resourceVersion"]),
                                 (expected, shown, patched["metadata"]["resourceVersion"]))
            self.emu.kubectl("delete", "nc", "mover")
            self.assertEqual(w.next()["type"], "DELETED")
        finally:
            w.close()

    def test_label_selector_watch(self):
        w = self.emu.watch(NC + "/namespaces/default/nodecontainers?watch=1&labelSelector="
                           + urllib.parse.quote("app in (a,b)"))
        try:
            self.create(nc("unlabelled"))
            self.create(nc("labelled", labels={"app": "b"}))
            ev = w.next()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]),
                             ("ADDED", "labelled"))
        finally:
            w.close()

    def test_kubectl_get_watch(self):
        proc = subprocess.Popen(
            [KUBECTL, "--kubeconfig", self.emu.path("kubeconfig"), "--cache-dir",
             self.emu.path("kubectl-cache"), "get", "nc", "-w", "--request-timeout=4s",
             "--field-selector", "metadata.name=kw"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)
            self.create(nc("kw"))
            self.emu.kubectl("patch", "nc", "kw", "--subresource=status", "--type", "merge",
                             "-p", '{"status":{"phase":"Running"}}')
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        rows = [line.split() for line in out.splitlines() if line.startswith("kw ")]
        self.assertGreaterEqual(len(rows), 2, out + err)
        self.assertIn("Running", rows[-1])

    def test_drop_watches(self):
        w = self.emu.watch(NC + "/nodecontainers?watch=1")
        try:
            code, _ = self.emu.request("POST", "/_emulator/drop-watches")
            self.assertEqual(code, 200)
            self.assertTrue(w.ended.wait(5), "watch still open after drop-watches")
        finally:
            w.close()


class OutageTest(EmulatorTestCase):
    def test_outage_closes_connections_and_watches(self):
        w = self.emu.watch(NC + "/nodecontainers?watch=1")
        try:
            code, _ = self.emu.request("POST", "/_emulator/outage?seconds=2")
            self.assertEqual(code, 200)
            self.assertTrue(w.ended.wait(5), "watch survived the outage")
        finally:
            w.close()
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError,
                                urllib.error.URLError)):
            self.emu.request("GET", "/api/v1/namespaces")
        time.sleep(2.1)
        code, _ = self.emu.request("GET", "/api/v1/namespaces")
        self.assertEqual(code, 200)
        self.emu.kubectl("get", "ns")
        code, log = self.emu.request("GET", "/_emulator/requests")
        self.assertIn(-1, [r["code"] for r in log])


class TlsTokenTest(EmulatorTestCase):
    emulator_args = {"tls": True, "token": "s3cret-token", "client_ca": True}

    def test_kubectl_over_tls_with_token(self):
        with open(self.emu.path("kubeconfig")) as f:
            config = f.read()
        self.assertIn("certificate-authority-data:", config)
        self.assertIn("https://127.0.0.1:", config)
        self.emu.kubectl("apply", "-f", os.path.join(EXAMPLES, "sleeper.yaml"))
        self.assertIn("sleeper", self.names())
        # Without credentials: 401. With a client certificate from the CA: fine.
        code, status = self.emu.request("GET", "/api/v1/namespaces", auth=False, cert=False)
        self.assertEqual((code, status["reason"]), (401, "Unauthorized"))
        code, _ = self.emu.request("GET", "/api/v1/namespaces", auth=False, cert=True)
        self.assertEqual(code, 200)
        code, _ = self.emu.request("GET", "/api/v1/namespaces", auth=False, cert=False,
                                   headers={"Authorization": "Bearer wrong"})
        self.assertEqual(code, 401)
        bad = config.replace("s3cret-token", "wrong-token")
        bad_path = self.emu.path("bad-kubeconfig")
        with open(bad_path, "w") as f:
            f.write(bad)
        result = self.emu.kubectl("get", "nc", kubeconfig=bad_path, check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Unauthorized", result.stderr)
        w = self.emu.watch(NC + "/nodecontainers?watch=1&resourceVersion=0")
        try:
            self.assertEqual(w.next()["object"]["metadata"]["name"], "sleeper")
        finally:
            w.close()


class BuiltinTypesTest(EmulatorTestCase):
    """ConfigMaps, Secrets, ServiceAccounts, DaemonSets and RBAC objects as
    kubectl and client-go's typed clients (protobuf bodies) use them."""

    def test_discovery(self):
        code, core = self.emu.request("GET", "/api/v1")
        self.assertEqual(code, 200)
        by_name = {r["name"]: r for r in core["resources"]}
        self.assertEqual(by_name["configmaps"]["shortNames"], ["cm"])
        self.assertEqual(by_name["serviceaccounts"]["shortNames"], ["sa"])
        self.assertEqual(by_name["serviceaccounts/token"]["verbs"], ["create"])
        self.assertEqual(by_name["serviceaccounts/token"]["kind"], "TokenRequest")
        self.assertNotIn("deletecollection", by_name["namespaces"]["verbs"])
        code, apps = self.emu.request("GET", "/apis/apps/v1")
        ds = {r["name"]: r for r in apps["resources"]}["daemonsets"]
        self.assertEqual((ds["kind"], ds["shortNames"], ds["categories"]),
                         ("DaemonSet", ["ds"], ["all"]))
        resources = self.emu.kubectl("api-resources", "--api-group=rbac.authorization.k8s.io"
                                     ).stdout
        self.assertRegex(resources, r"clusterroles\s+rbac.authorization.k8s.io/v1\s+false\s+"
                                    r"ClusterRole")
        self.assertRegex(resources, r"rolebindings\s+rbac.authorization.k8s.io/v1\s+true\s+"
                                    r"RoleBinding")
        # Aggregated discovery, what kubectl asks for first.
        accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                  "application/json")
        code, doc = self.emu.request("GET", "/apis", headers={"Accept": accept})
        self.assertEqual((code, doc["kind"], doc["apiVersion"]),
                         (200, "APIGroupDiscoveryList", "apidiscovery.k8s.io/v2"))
        groups = {g["metadata"]["name"]: g for g in doc["items"]}
        apps = groups["apps"]["versions"][0]
        self.assertEqual((apps["version"], apps["freshness"]), ("v1", "Current"))
        ds = apps["resources"][0]
        self.assertEqual((ds["resource"], ds["scope"], ds["singularResource"], ds["shortNames"],
                          ds["responseKind"]),
                         ("daemonsets", "Namespaced", "daemonset", ["ds"],
                          {"group": "apps", "version": "v1", "kind": "DaemonSet"}))
        self.assertEqual(ds["subresources"][0]["subresource"], "status")
        nc_version = groups["berth.dev"]["versions"][0]
        self.assertEqual(nc_version["resources"][0]["resource"], "nodecontainers")
        code, doc = self.emu.request("GET", "/api", headers={"Accept": accept})
        core = {r["resource"]: r for r in doc["items"][0]["versions"][0]["resources"]}
        self.assertNotIn("name", doc["items"][0]["metadata"])
        self.assertEqual(core["serviceaccounts"]["subresources"], [{
            "subresource": "token", "verbs": ["create"], "responseKind": {
                "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}}])
        # Plain JSON first: the legacy documents.
        code, doc = self.emu.request("GET", "/api", headers={"Accept": "application/json"})
        self.assertEqual(doc["kind"], "APIVersions")

    def test_secret_from_kubectl_and_in_protobuf(self):
        self.emu.kubectl("create", "secret", "docker-registry", "regcred",
                         "--docker-server=127.0.0.1:5000", "--docker-username=u",
                         "--docker-password=p")
        secret = self.emu.kubectl_json("get", "secret", "regcred")
        self.assertEqual(secret["type"], "kubernetes.io/dockerconfigjson")
        config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
        self.assertEqual(config["auths"]["127.0.0.1:5000"]["username"], "u")
        # A Secret as client-go's typed client writes it: k8s\0 + Unknown.
        meta = pb(1, b"pb-secret") + pb(11, pb(1, b"app") + pb(2, b"x"))
        body = pb(1, meta) + pb(2, pb(1, b"k") + pb(2, b"\x00\xffv")) + pb(3, b"Opaque")
        data = b"k8s\x00" + pb(1, pb(1, b"v1") + pb(2, b"Secret")) + pb(2, body)
        code, created = self.emu.request("POST", "/api/v1/namespaces/default/secrets", data,
                                         "application/vnd.kubernetes.protobuf",
                                         headers={"Accept": "application/vnd.kubernetes."
                                                  "protobuf, application/json"})
        self.assertEqual(code, 201, created)
        self.assertEqual(created["data"], {"k": base64.b64encode(b"\x00\xffv").decode()})
        self.assertEqual(created["metadata"]["labels"], {"app": "x"})
        self.assertNotIn("namespace", json.dumps(created["metadata"]["labels"]))
        # stringData is folded into data; data must be base64.
        code, created = self.emu.request("POST", "/api/v1/namespaces/default/secrets", {
            "metadata": {"name": "sd"}, "stringData": {"a": "b"}})
        self.assertEqual((code, created["data"], created["type"]),
                         (201, {"a": "Yg=="}, "Opaque"), created)
        self.assertNotIn("stringData", created)
        code, status = self.emu.request("POST", "/api/v1/namespaces/default/secrets", {
            "metadata": {"name": "bad"}, "data": {"a": "not base64!"}})
        self.assertEqual((code, status["reason"]), (400, "BadRequest"), status)
        # A field the decoder does not know is refused, not dropped.
        code, status = self.emu.request(
            "POST", "/api/v1/namespaces/default/secrets",
            b"k8s\x00" + pb(1, pb(1, b"v1") + pb(2, b"Secret")) + pb(2, pb(9, b"x")),
            "application/vnd.kubernetes.protobuf")
        self.assertEqual(code, 415, status)

    def test_delete_answers(self):
        # Immediate deletes: a Status naming the object (secrets, configmaps,
        # daemonsets, custom resources) or the object (serviceaccounts,
        # namespaces), as each type's registry has ReturnDeletedObject.
        self.emu.kubectl("create", "configmap", "gone", "--from-literal=a=b")
        uid = self.emu.kubectl_json("get", "cm", "gone")["metadata"]["uid"]
        code, body = self.emu.request("DELETE", "/api/v1/namespaces/default/configmaps/gone")
        self.assertEqual((code, body), (200, {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": "gone", "group": "", "kind": "configmaps", "uid": uid}}))
        self.emu.kubectl("create", "serviceaccount", "gone")
        code, body = self.emu.request("DELETE", "/api/v1/namespaces/default/serviceaccounts/gone")
        self.assertEqual((code, body["kind"]), (200, "ServiceAccount"))
        self.create(nc("gone-nc"))
        code, body = self.emu.request("DELETE", NC + "/namespaces/default/nodecontainers/gone-nc")
        self.assertEqual((code, body["kind"], body["details"]["kind"]),
                         (200, "Status", "nodecontainers"))
        # With finalizers the object stays: 200 (202 only for
        # orphanDependents=false), and generation counts the deletion.
        for name, options, want in (("held", {}, 200),
                                    ("held-202", {"orphanDependents": False}, 202)):
            obj = nc(name)
            obj["metadata"]["finalizers"] = ["a.b/c"]
            self.create(obj)
            code, body = self.emu.request(
                "DELETE", NC + "/namespaces/default/nodecontainers/" + name, options)
            self.assertEqual((code, body["metadata"]["generation"]), (want, 2))
            self.assertIn("deletionTimestamp", body["metadata"])

    def test_deleted_event_carries_the_last_stored_object(self):
        obj = nc("last-state")
        obj["metadata"]["finalizers"] = ["a.b/c"]
        self.create(obj)
        self.emu.request("DELETE", NC + "/namespaces/default/nodecontainers/last-state")
        w = self.emu.watch(NC + "/namespaces/default/nodecontainers?watch=true&fieldSelector="
                           "metadata.name%3Dlast-state")
        try:
            self.assertEqual(w.next()["type"], "ADDED")
            code, updated = self.emu.request(
                "PATCH", NC + "/namespaces/default/nodecontainers/last-state",
                {"metadata": {"finalizers": None}}, "application/merge-patch+json")
            self.assertEqual(code, 200)
            self.assertNotIn("finalizers", updated["metadata"])
            ev = w.next()
            self.assertEqual(ev["type"], "DELETED")
            # The stored object as it was, finalizer included.
            self.assertEqual(ev["object"]["metadata"]["finalizers"], ["a.b/c"])
        finally:
            w.close()

    def test_bookmarks_on_any_true_value(self):
        for value, wanted in (("True", True), ("yes", True), ("", True), ("0", False),
                              ("FALSE", False)):
            w = self.emu.watch("/api/v1/namespaces?watch=1&resourceVersion=%s"
                               "&allowWatchBookmarks=%s"
                               % (self.emu.request("GET", "/api/v1/namespaces")[1]["metadata"]
                                  ["resourceVersion"], value))
            try:
                if wanted:
                    self.assertEqual(w.next(timeout=3, skip_bookmarks=False)["type"],
                                     "BOOKMARK", value)
                else:
                    with self.assertRaises(AssertionError):
                        w.next(timeout=1, skip_bookmarks=False)
            finally:
                w.close()

    def test_daemonset_generation_and_strategic_merge(self):
        ds = {"apiVersion": "apps/v1", "kind": "DaemonSet",
              "metadata": {"name": "d", "labels": {"app": "d"}},
              "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {
                  "metadata": {"labels": {"app": "d"}},
                  "spec": {"containers": [{"name": "a", "image": "a:1",
                                           "env": [{"name": "X", "value": "1"}]},
                                          {"name": "b", "image": "b:1"}]}}}}
        self.emu.kubectl("apply", "-f", "-", input=json.dumps(ds))
        live = self.emu.kubectl_json("get", "ds", "d")
        self.assertEqual(live["metadata"]["generation"], 1)
        self.assertEqual(live["metadata"]["annotations"][
            "deprecated.daemonset.template.generation"], "1")
        self.assertEqual(live["status"]["numberReady"], 0)
        ds["spec"]["template"]["spec"]["containers"][0]["image"] = "a:2"
        self.emu.kubectl("apply", "-f", "-", input=json.dumps(ds))
        live = self.emu.kubectl_json("get", "ds", "d")
        self.assertEqual(live["metadata"]["generation"], 2)
        self.assertEqual([(c["name"], c["image"]) for c in
                          live["spec"]["template"]["spec"]["containers"]],
                         [("a", "a:2"), ("b", "b:1")])
        self.emu.kubectl("patch", "ds", "d", "-p", json.dumps({"spec": {"template": {"spec": {
            "containers": [{"name": "b", "env": [{"name": "Y", "value": "2"}]}]}}}}))
        live = self.emu.kubectl_json("get", "ds", "d")
        containers = live["spec"]["template"]["spec"]["containers"]
        self.assertEqual(containers[0]["env"], [{"name": "X", "value": "1"}])
        self.assertEqual(containers[1], {"name": "b", "image": "b:1",
                                         "env": [{"name": "Y", "value": "2"}]})
        self.assertEqual(live["metadata"]["annotations"][
            "deprecated.daemonset.template.generation"], "3")


class OpenApiTest(EmulatorTestCase):
    """/openapi/v2 and /openapi/v3 as kubectl reads them: apply's strategic
    merge patch from the served schema, explain from both documents."""

    def raw(self, path, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.emu.port, timeout=30)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def requests_since(self, count):
        code, log = self.emu.request("GET", "/_emulator/requests")
        self.assertEqual(code, 200)
        return log[count:]

    def apply_twice(self, first, second, live_patch, kind):
        """apply first, change the live object with a merge patch, apply
        second; both applies must print no warning and read the group
        version's OpenAPI v3 document."""
        self.emu.kubectl("apply", "-f", "-", input=json.dumps(first))
        self.emu.kubectl("patch", kind, first["metadata"]["name"], "--type=merge",
                         "-p", json.dumps(live_patch))
        before = len(self.requests_since(0))
        result = self.emu.kubectl("apply", "-f", "-", input=json.dumps(second))
        self.assertEqual(result.stderr, "")
        log = self.requests_since(before)
        gv = "/openapi/v3/" + ("api/v1" if "/" not in second["apiVersion"]
                               else "apis/" + second["apiVersion"])
        patches = [r for r in log if r["method"] == "PATCH"]
        self.assertEqual([r["contentType"] for r in patches],
                         ["application/strategic-merge-patch+json"], log)
        # kubectl read the group version's document (by its hash: later
        # reads come from its cache, the URL being immutable).
        self.assertTrue([r for r in self.requests_since(0) if r["path"] == gv and
                         "hash=" in r["query"] and r["code"] == 200], log)
        return gv, self.emu.kubectl_json("get", kind, first["metadata"]["name"])

    def test_apply_daemonset_merges_containers_and_env_by_name(self):
        def ds(containers):
            return {"apiVersion": "apps/v1", "kind": "DaemonSet",
                    "metadata": {"name": "merge"},
                    "spec": {"selector": {"matchLabels": {"app": "merge"}}, "template": {
                        "metadata": {"labels": {"app": "merge"}},
                        "spec": {"containers": containers}}}}
        first = ds([{"name": "a", "image": "a:1",
                     "env": [{"name": "FOO", "value": "1"}, {"name": "BAR", "value": "2"}]},
                    {"name": "b", "image": "b:1"}])
        second = ds([{"name": "a", "image": "a:2",
                      "env": [{"name": "BAR", "value": "3"}, {"name": "BAZ", "value": "4"}]},
                     {"name": "c", "image": "c:1"}])
        live = {"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "FOO", "value": "1"},
                                                  {"name": "BAR", "value": "2"},
                                                  {"name": "LIVE", "value": "l"}]},
            {"name": "b", "image": "b:1"}]}}}}
        gv, obj = self.apply_twice(first, second, live, "daemonset")
        self.assertEqual(gv, "/openapi/v3/apis/apps/v1")
        containers = obj["spec"]["template"]["spec"]["containers"]
        # The env entry only the live object has stays; FOO, dropped from the
        # applied configuration, goes; b is replaced by c.
        self.assertEqual([c["name"] for c in containers], ["a", "c"])
        self.assertEqual(containers[0]["image"], "a:2")
        self.assertEqual(containers[0]["env"], [{"name": "BAR", "value": "3"},
                                                {"name": "BAZ", "value": "4"},
                                                {"name": "LIVE", "value": "l"}])

    def test_apply_configmap_twice(self):
        def cm(data):
            return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "merge"},
                    "data": data}
        gv, obj = self.apply_twice(cm({"a": "1", "b": "2"}), cm({"b": "3", "d": "4"}),
                                      {"data": {"c": "live"}}, "configmap")
        self.assertEqual(gv, "/openapi/v3/api/v1")
        self.assertEqual(obj["data"], {"b": "3", "c": "live", "d": "4"})

    def test_explain_from_v3_and_v2(self):
        out = self.emu.kubectl("explain", "daemonset.spec.template.spec.containers").stdout
        self.assertIn("FIELD: containers <[]Container>", out)
        self.assertRegex(out, r"\n  env\t<\[\]EnvVar>\n")
        self.assertRegex(out, r"\n  name\t<string> -required-\n")
        out = self.emu.kubectl("explain", "daemonset.spec.template.spec.containers",
                               "--output=plaintext-openapiv2").stdout
        self.assertIn("RESOURCE: containers <[]Object>", out)
        # kubectl reads /openapi/v2 in protobuf only: the document it parsed
        # is the gnostic encoding.
        v2 = [r for r in self.requests_since(0) if r["path"] == "/openapi/v2" and
              r["userAgent"].startswith("kubectl")]
        self.assertTrue(v2)
        self.assertEqual({(r["accept"], r["code"]) for r in v2}, {
            ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", 200)})
        self.assertRegex(out, r"\n   env\t<\[\]Object>\n")
        out = self.emu.kubectl("explain", "clusterrole.rules", "--output=plaintext-openapiv2"
                               ).stdout
        self.assertRegex(out, r"\n   verbs\t<\[\]string> -required-\n")
        out = self.emu.kubectl("explain", "nodecontainers.spec").stdout
        self.assertIn("KIND:       NodeContainer", out)

    def test_v2_document_json_protobuf_and_etag(self):
        code, headers, body = self.raw("/openapi/v2")
        self.assertEqual(code, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        doc = json.loads(body)
        self.assertEqual(doc["swagger"], "2.0")
        ds = doc["definitions"]["io.k8s.api.apps.v1.DaemonSet"]
        self.assertEqual(ds["x-kubernetes-group-version-kind"],
                         [{"group": "apps", "kind": "DaemonSet", "version": "v1"}])
        spec = doc["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]
        self.assertEqual((spec["containers"]["x-kubernetes-patch-merge-key"],
                          spec["containers"]["x-kubernetes-patch-strategy"]), ("name", "merge"))
        self.assertEqual(spec["volumes"]["x-kubernetes-patch-strategy"], "merge,retainKeys")
        self.assertIn("io.k8s.api.rbac.v1.PolicyRule", list(doc["definitions"]))
        self.assertIn("dev.berth.v1alpha1.NodeContainer", list(doc["definitions"]))
        # v2 has no oneOf, anyOf or not: the CRD's schema is published without them.
        nc = json.dumps(doc["definitions"]["dev.berth.v1alpha1.NodeContainer"])
        self.assertNotIn('"oneOf"', nc)
        self.assertNotIn('"anyOf"', nc)
        patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}"]["patch"]
        self.assertIn("fieldValidation", [p["name"] for p in patch["parameters"]])
        self.assertIn("application/strategic-merge-patch+json", patch["consumes"])
        tag = headers["Etag"]
        self.assertEqual(tag, '"%s"' % hashlib.sha512(body).hexdigest().upper())
        code, _, _ = self.raw("/openapi/v2", {"If-None-Match": tag})
        self.assertEqual(code, 304)
        code, headers, proto = self.raw("/openapi/v2", {
            "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
        self.assertEqual(code, 200)
        self.assertEqual(headers["Content-Type"],
                         "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        self.assertTrue(proto.startswith(b"\x0a\x032.0"), proto[:16])
        code, _, _ = self.raw("/openapi/v2", {"Accept": "text/plain"})
        self.assertEqual(code, 406)

    def test_v3_index_hashes_and_patch_bodies(self):
        code, _, body = self.raw("/openapi/v3")
        self.assertEqual(code, 200)
        url = json.loads(body)["paths"]["apis/apps/v1"]["serverRelativeURL"]
        code, headers, doc = self.raw(url)
        self.assertEqual(code, 200)
        self.assertEqual(url.split("hash=")[1], hashlib.sha512(doc).hexdigest().upper())
        self.assertEqual(headers["Cache-Control"], "public, immutable")
        doc = json.loads(doc)
        path = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}"]
        self.assertIn("application/strategic-merge-patch+json",
                      path["patch"]["requestBody"]["content"])
        container = doc["components"]["schemas"]["io.k8s.api.core.v1.Container"]
        self.assertEqual(container["required"], ["name"])
        self.assertEqual(container["properties"]["env"]["x-kubernetes-patch-merge-key"], "name")
        code, headers, _ = self.raw(url.split("hash=")[0] + "hash=0")
        self.assertEqual((code, headers["Location"]), (301, url))
        code, _, body = self.raw("/openapi/v3/apis/berth.dev/v1alpha1")
        patch = json.loads(body)["paths"][
            "/apis/berth.dev/v1alpha1/namespaces/{namespace}/nodecontainers/{name}"]["patch"]
        self.assertNotIn("application/strategic-merge-patch+json",
                         patch["requestBody"]["content"])


class RbacTest(EmulatorTestCase):
    """ServiceAccount tokens and RBAC: a token from `kubectl create token`
    is its ServiceAccount; what its bound roles do not allow is a 403."""

    emulator_args = {"tls": True, "token": "admin-token"}

    def as_user(self, token, *args, check=False):
        return self.emu.kubectl("--token", token, *args, check=check)

    def token(self, namespace, name):
        if self.emu.kubectl("get", "sa", "-n", namespace, name, check=False).returncode != 0:
            self.emu.kubectl("create", "serviceaccount", "-n", namespace, name)
        return self.emu.kubectl("create", "token", "-n", namespace, name).stdout.strip()

    def raw(self, token, method, path, body=None):
        return self.emu.request(method, path, body, headers={"Authorization": "Bearer " + token},
                                auth=False)

    def test_token_request(self):
        token = self.token("default", "reader")
        header, claims, _ = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        self.assertEqual(claims["sub"], "system:serviceaccount:default:reader")
        self.assertEqual(claims["exp"] - claims["iat"], 3600)
        code, status = self.emu.request(
            "POST", "/api/v1/namespaces/default/serviceaccounts/reader/token",
            {"spec": {"expirationSeconds": 60}})
        self.assertEqual((code, status["reason"]), (422, "Invalid"), status)
        self.assertIn("may not specify a duration less than 10 minutes", status["message"])
        code, status = self.emu.request(
            "POST", "/api/v1/namespaces/default/serviceaccounts/nobody/token", {})
        self.assertEqual((code, status["message"]), (404, 'serviceaccounts "nobody" not found'))
        # Deleting the ServiceAccount invalidates its tokens.
        code, _ = self.raw(token, "GET", "/api")
        self.assertEqual(code, 200)
        self.emu.kubectl("delete", "sa", "reader")
        code, _ = self.raw(token, "GET", "/api")
        self.assertEqual(code, 401)

    def test_forbidden_until_bound(self):
        token = self.token("default", "berth")
        result = self.as_user(token, "get", "nodecontainers", "-A")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn('nodecontainers.berth.dev is forbidden: User '
                      '"system:serviceaccount:default:berth" cannot list resource '
                      '"nodecontainers" in API group "berth.dev" at the cluster scope',
                      result.stderr)
        code, status = self.raw(token, "GET", "/api/v1/namespaces/default/secrets/x")
        self.assertEqual(code, 403)
        self.assertEqual(status["details"], {"name": "x", "group": "", "kind": "secrets"})
        self.assertEqual(status["message"], 'secrets "x" is forbidden: User '
                         '"system:serviceaccount:default:berth" cannot get resource "secrets" '
                         'in API group "" in the namespace "default"')
        # Discovery is allowed to every authenticated user.
        self.assertEqual(self.raw(token, "GET", "/apis")[0], 200)
        code, status = self.raw(token, "GET", "/metrics")
        self.assertEqual((code, status["message"]), (403, 'forbidden: User '
                         '"system:serviceaccount:default:berth" cannot get path "/metrics"'))

        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "nc-reader"},
                "rules": [{"apiGroups": ["berth.dev"], "resources": ["nodecontainers"],
                           "verbs": ["get", "list", "watch"]},
                          {"apiGroups": ["berth.dev"], "resources": ["nodecontainers/status"],
                           "verbs": ["update"]},
                          {"apiGroups": [""], "resources": ["secrets"],
                           "verbs": ["get", "list"], "resourceNames": ["allowed"]},
                          {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]}
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "nc-reader"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                               "name": "nc-reader"},
                   "subjects": [{"kind": "ServiceAccount", "name": "berth",
                                 "namespace": "default"}]}
        self.emu.kubectl("apply", "-f", "-", input=json.dumps(binding))
        # A binding to a role that does not exist says so.
        code, status = self.raw(token, "GET", "/metrics")
        self.assertEqual(code, 403)
        self.assertTrue(status["message"].endswith(
            ': RBAC: clusterrole.rbac.authorization.k8s.io "nc-reader" not found'), status)
        self.emu.kubectl("apply", "-f", "-", input=json.dumps(role))
        self.assertEqual(self.as_user(token, "get", "nodecontainers", "-A").returncode, 0)
        self.create(nc("rbac"))
        self.assertEqual(self.raw(token, "GET", "/metrics")[0], 404)
        # Verbs, subresources and resource names as the rules say.
        result = self.as_user(token, "delete", "nc", "rbac")
        self.assertIn('cannot delete resource "nodecontainers"', result.stderr)
        obj = self.emu.kubectl_json("get", "nc", "rbac")
        obj["status"] = {"phase": "Pending"}
        code, _ = self.raw(token, "PUT", NC + "/namespaces/default/nodecontainers/rbac/status",
                           obj)
        self.assertEqual(code, 200)
        code, status = self.raw(token, "PUT", NC + "/namespaces/default/nodecontainers/rbac",
                                obj)
        self.assertEqual(code, 403, status)
        self.emu.kubectl("create", "secret", "generic", "allowed", "--from-literal=a=b")
        self.emu.kubectl("create", "secret", "generic", "other", "--from-literal=a=b")
        self.assertEqual(self.raw(token, "GET", "/api/v1/namespaces/default/secrets/allowed")[0],
                         200)
        self.assertEqual(self.raw(token, "GET", "/api/v1/namespaces/default/secrets/other")[0],
                         403)
        # A list narrowed to one name by a field selector is checked by that name.
        self.assertEqual(self.raw(token, "GET", "/api/v1/namespaces/default/secrets?"
                                  "fieldSelector=metadata.name%3Dallowed")[0], 200)
        self.assertEqual(self.raw(token, "GET", "/api/v1/namespaces/default/secrets")[0], 403)
        # Removing the rule takes the permission away at once.
        role["rules"] = role["rules"][1:]
        self.emu.kubectl("apply", "-f", "-", input=json.dumps(role))
        self.assertNotEqual(self.as_user(token, "get", "nodecontainers", "-A").returncode, 0)

    def test_auth_can_i_and_impersonation(self):
        self.emu.kubectl("create", "serviceaccount", "-n", "default", "asker")
        self.emu.kubectl("create", "clusterrole", "asker", "--verb=list,watch",
                         "--resource=nodecontainers.berth.dev")
        self.emu.kubectl("create", "clusterrolebinding", "asker", "--clusterrole=asker",
                         "--serviceaccount=default:asker")
        sa = "system:serviceaccount:default:asker"
        # kubectl auth can-i: a SelfSubjectAccessReview (protobuf), as the
        # admin impersonating the account or with the account's own token.
        can = self.emu.kubectl("auth", "can-i", "list", "nodecontainers", "--as", sa)
        self.assertEqual(can.stdout.strip(), "yes")
        cannot = self.emu.kubectl("auth", "can-i", "delete", "nodecontainers", "--as", sa,
                                  check=False)
        self.assertEqual((cannot.returncode, cannot.stdout.strip()), (1, "no"))
        token = self.token("default", "asker")
        self.assertEqual(self.as_user(token, "auth", "can-i", "watch", "nodecontainers", "-A"
                                      ).stdout.strip(), "yes")
        code, review = self.emu.request(
            "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {"spec": {"user": sa, "groups": ["system:serviceaccounts"],
                      "resourceAttributes": {"verb": "list", "group": "berth.dev",
                                             "resource": "nodecontainers"}}})
        self.assertEqual(code, 201, review)
        self.assertEqual(review["status"], {
            "allowed": True, "reason": 'RBAC: allowed by ClusterRoleBinding "asker" of '
                                       'ClusterRole "asker" to ServiceAccount "asker/default"'})
        # Only who may impersonate does.
        result = self.as_user(token, "get", "nc", "-A", "--as", "bob")
        self.assertIn('users "bob" is forbidden: User "%s" cannot impersonate resource "users" '
                      'in API group "" at the cluster scope' % sa, result.stderr)

    def test_namespaced_role(self):
        token = self.token("default", "ns-user")
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "cm", "namespace": "default"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]}
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": "cm", "namespace": "default"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                               "name": "cm"},
                   "subjects": [{"kind": "Group", "name": "system:serviceaccounts:default"}]}
        self.emu.kubectl("apply", "-f", "-", input=json.dumps([role, binding][0]))
        self.emu.kubectl("apply", "-f", "-", input=json.dumps(binding))
        self.assertEqual(self.as_user(token, "create", "configmap", "c1",
                                      "--from-literal=a=b").returncode, 0)
        result = self.as_user(token, "get", "configmaps", "-n", "kube-system")
        self.assertIn('cannot list resource "configmaps" in API group "" in the namespace '
                      '"kube-system"', result.stderr)
        result = self.as_user(token, "get", "configmaps", "-A")
        self.assertIn("at the cluster scope", result.stderr)


class LifecycleTest(unittest.TestCase):
    def test_sigterm_with_an_open_watch_exits_cleanly(self):
        emu = Emulator()
        try:
            w = emu.watch("/api/v1/namespaces?watch=1&allowWatchBookmarks=true")
            self.assertEqual(w.next()["object"]["metadata"]["name"], "default")
        finally:
            directory, proc = emu.dir, emu.proc
            started = time.monotonic()
            code = emu.stop()
        self.assertEqual(code, 0)
        self.assertLess(time.monotonic() - started, 5)
        self.assertTrue(w.ended.wait(5), "the watch outlived the server")
        w.close()
        self.assertIsNotNone(proc.poll())
        self.assertFalse(os.path.exists(directory))

    def test_history_bound_makes_old_versions_gone(self):
        emu = Emulator("--history", "3")
        try:
            code, listing = emu.request("GET", "/api/v1/nodes")
            rv = listing["metadata"]["resourceVersion"]
            for i in range(5):
                code, _ = emu.request("POST", "/api/v1/nodes",
                                      {"apiVersion": "v1", "kind": "Node",
                                       "metadata": {"name": "n%d" % i}})
                self.assertEqual(code, 201)
            w = emu.watch("/api/v1/nodes?watch=1&resourceVersion=" + rv)
            try:
                ev = w.next()
                self.assertEqual((ev["type"], ev["object"]["code"]), ("ERROR", 410))
            finally:
                w.close()
        finally:
            self.assertEqual(emu.stop(), 0)


class TlsClientCertificateTest(EmulatorTestCase):
    emulator_args = {"tls": True, "client_ca": True, "embed_client_cert": True}

    def test_kubectl_with_a_client_certificate(self):
        with open(self.emu.path("kubeconfig")) as f:
            config = f.read()
        self.assertIn("client-certificate-data:", config)
        self.assertNotIn("token:", config)
        self.emu.kubectl("apply", "-f", os.path.join(EXAMPLES, "sleeper.yaml"))
        self.assertIn("sleeper", self.names())
        code, _ = self.emu.request("GET", "/api/v1/namespaces", cert=False)
        self.assertEqual(code, 401)


# ---- The CRD against the parser's test data. ----

# Every bad file, and how it is refused when applied with kubectl:
#   ("invalid", field)  422 Invalid from the schema/ObjectMeta rules, naming field
#   ("strict", field)   400 strict decoding error: unknown field (kubectl's
#                       default --validate=strict)
#   ("server", text)    refused by the server for another reason
#   ("kubectl", text)   refused by kubectl before it reaches the server
#   ("parser-only", why)  accepted by the schema; only berthd's parser refuses it
BAD_EXPECTED = {
    "alias_bomb.yaml": ("kubectl", "excessive aliasing"),
    "alias_in_status.yaml": ("strict", "status.image"),
    "bad_env_name.yaml": ("invalid", "spec.env[0].name"),
    "bad_quantity.yaml": ("invalid", "spec.resources.limits.memory"),
    "bad_restart_policy.yaml": ("invalid", "spec.restartPolicy"),
    "bad_signal.yaml": ("invalid", "spec.stopSignal"),
    "bad_tmpfs_size.yaml": ("invalid", "spec.mounts[0].tmpfs.sizeLimit"),
    "bad_user.yaml": ("invalid", "spec.user"),
    "binary_garbage.yaml": ("kubectl", "error converting YAML to JSON"),
    "deep_block.yaml": ("strict", "spec.k1"),
    "deep_brackets.yaml": ("invalid", "spec.command[0]"),
    "duplicate_env.yaml": ("invalid", "spec.env[1]"),
    "duplicate_key.yaml": ("parser-only", "kubectl's YAML reader keeps the last of duplicate "
                                          "keys; the server never sees the duplicate"),
    "duplicate_mount.yaml": ("parser-only", "/data and /data/ are different strings; only "
                                            "the parser cleans paths before comparing"),
    "empty_image.yaml": ("invalid", "spec.image"),
    "grace_negative.yaml": ("invalid", "spec.terminationGracePeriodSeconds"),
    "grace_too_large.yaml": ("invalid", "spec.terminationGracePeriodSeconds"),
    "hook_exec_empty.yaml": ("invalid", "spec.lifecycle.postStart.exec.command"),
    "hook_sleep_over_grace.yaml": ("parser-only", "a bound set by another field (sleep.seconds "
                                                  "<= terminationGracePeriodSeconds) is not "
                                                  "expressible in OpenAPI"),
    "hook_tcp_socket.yaml": ("invalid", "spec.lifecycle.preStop"),
    "host_path_relative.yaml": ("invalid", "spec.mounts[0].hostPath.path"),
    "liveness_success_threshold.yaml": ("invalid", "spec.livenessProbe.successThreshold"),
    "memory_too_small.yaml": ("parser-only", "a lower bound on a quantity string (1Ki < 4096 "
                                             "bytes) is not expressible in OpenAPI"),
    "missing_image.yaml": ("invalid", "spec.image"),
    "missing_spec.yaml": ("invalid", "spec"),
    "mount_both.yaml": ("invalid", "spec.mounts[0]"),
    "mount_dotdot.yaml": ("invalid", "spec.mounts[0].mountPath"),
    "mount_neither.yaml": ("invalid", "spec.mounts[0]"),
    "mount_relative.yaml": ("invalid", "spec.mounts[0].mountPath"),
    "name_dotdot.yaml": ("invalid", "metadata.name"),
    "name_empty.yaml": ("invalid", "metadata.name"),
    "name_too_long.yaml": ("invalid", "metadata.name"),
    "name_upper.yaml": ("invalid", "metadata.name"),
    "namespace_invalid.yaml": ("server", 'namespaces "kube.system" not found'),
    "negative_quantity.yaml": ("invalid", "spec.resources.limits.cpu"),
    "not_a_mapping.yaml": ("kubectl", "invalid object to validate"),
    "nul_bytes.yaml": ("kubectl", "control characters are not allowed"),
    "nul_escape.yaml": ("invalid", "metadata.name"),
    "one_bad_one_good.yaml": ("invalid", "metadata.name"),
    "pids_zero.yaml": ("invalid", "spec.resources.limits.pids"),
    "probe_header_name.yaml": ("invalid", "spec.readinessProbe.httpGet.httpHeaders[0].name"),
    "probe_named_port_missing.yaml": ("parser-only", "whether spec.ports has an entry of that "
                                                     "name is not expressible in OpenAPI"),
    "probe_period_negative.yaml": ("invalid", "spec.livenessProbe.periodSeconds"),
    "probe_port_name_invalid.yaml": ("invalid", "spec.livenessProbe.tcpSocket.port"),
    "probe_port_out_of_range.yaml": ("invalid", "spec.readinessProbe.httpGet.port"),
    "probe_two_handlers.yaml": ("invalid", "spec.livenessProbe"),
    "readiness_grace_period.yaml": ("invalid", "spec.readinessProbe"),
    "signal_out_of_range.yaml": ("invalid", "spec.stopSignal"),
    "syntax_error.yaml": ("kubectl", "error converting YAML to JSON"),
    "syntax_indentation.yaml": ("kubectl", "error converting YAML to JSON"),
    "unknown_field_metadata.yaml": ("strict", "metadata.lables"),
    "unknown_field_mount.yaml": ("strict", "spec.mounts[0].subPath"),
    "unknown_field_spec.yaml": ("strict", "spec.imagPullPolicy"),
    "unknown_field_top.yaml": ("strict", "specs"),
    "unsupported_tag.yaml": ("parser-only", "kubectl's YAML reader takes !custom busybox as "
                                            "the string busybox"),
    "working_dir_relative.yaml": ("invalid", "spec.workingDir"),
    "wrong_api_version.yaml": ("kubectl", 'no matches for kind "NodeContainer" in version '
                                          '"berth.dev/v1"'),
    "wrong_kind.yaml": ("kubectl", 'no matches for kind "Pod" in version "berth.dev/v1alpha1"'),
    "wrong_type_bool.yaml": ("invalid", "spec.hostNetwork"),
    "wrong_type_env_value.yaml": ("invalid", "spec.env[0].value"),
    "wrong_type_int.yaml": ("invalid", "spec.terminationGracePeriodSeconds"),
    "wrong_type_scalar.yaml": ("invalid", "spec.command"),
    "wrong_type_sequence.yaml": ("invalid", "spec.image"),
    "yes_is_boolean.yaml": ("invalid", "spec.nodeSelector[ssd]"),
    "dns_none_without_config.yaml": ("parser-only", "dnsConfig required by dnsPolicy None: a rule between fields"),
    "dns_policy_cluster_first.yaml": ("invalid", "spec.dnsPolicy"),
    "host_alias_bad_ip.yaml": ("invalid", "spec.hostAliases[0].ip"),
    "host_network_host_port.yaml": ("parser-only", "hostPort must equal containerPort with hostNetwork: a rule between fields"),
    "host_port_duplicate.yaml": ("parser-only", "two ports on one hostPort and overlapping hostIPs: a rule between list items"),
    "hostname_invalid.yaml": ("invalid", "spec.hostname"),
    "port_duplicate.yaml": ("invalid", "spec.ports[1]"),
    "port_name_invalid.yaml": ("invalid", "spec.ports[0].name"),
    "port_out_of_range.yaml": ("invalid", "spec.ports[0].containerPort"),
    "port_sctp.yaml": ("invalid", "spec.ports[0].protocol"),
}

# What a real server or a controller sets, not the author of a manifest.
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields",
                 "finalizers")


class TestdataTest(EmulatorTestCase):
    def test_every_bad_file_has_an_expectation(self):
        files = sorted(f for f in os.listdir(BAD) if f.endswith(".yaml"))
        self.assertEqual(files, sorted(BAD_EXPECTED))

    def test_good_files_are_accepted(self):
        for ns in ("edge", "team-b"):
            self.emu.kubectl("create", "namespace", ns)
        files = sorted(f for f in os.listdir(GOOD) if f.endswith((".yaml", ".json")))
        self.assertTrue(files)
        for name in files:
            with self.subTest(file=name):
                path = os.path.join(GOOD, name)
                text = self.emu.kubectl("create", "--dry-run=client", "-o", "json",
                                        "-f", path).stdout
                items, pos = [], 0
                decoder = json.JSONDecoder()
                while text[pos:].strip():
                    obj, end = decoder.raw_decode(text[pos:].lstrip())
                    pos = len(text) - len(text[pos:].lstrip()) + end
                    items.append(obj)
                self.assertTrue(items)
                for obj in items:
                    # What a real server sets itself, and status (dropped on create).
                    for field in SERVER_FIELDS:
                        obj["metadata"].pop(field, None)
                    obj.pop("status", None)
                    result = self.emu.kubectl("create", "--dry-run=server", "-o", "json",
                                              "-f", "-", input=json.dumps(obj))
                    stored = json.loads(result.stdout)
                    self.assertEqual(stored["spec"]["image"], obj["spec"]["image"])
                    ns = obj["metadata"].get("namespace", "default")
                    code, _ = self.emu.request("GET", NC + "/namespaces/%s/nodecontainers/%s"
                                               % (ns, obj["metadata"]["name"]))
                    self.assertEqual(code, 404, "dry run stored the object")
                    # And for real, then gone again.
                    self.emu.kubectl("create", "-f", "-", input=json.dumps(obj))
                    self.emu.kubectl("delete", "-f", "-", input=json.dumps(obj))

    def test_bad_files_are_refused(self):
        for name, (how, detail) in sorted(BAD_EXPECTED.items()):
            with self.subTest(file=name):
                path = os.path.join(BAD, name)
                result = self.emu.kubectl("create", "-f", path, check=False)
                listing = self.emu.kubectl_json("get", "nc", "-A")["items"]
                created = sorted(o["metadata"]["name"] for o in listing)
                for obj in listing:
                    self.emu.kubectl("delete", "nc", "-n", obj["metadata"]["namespace"],
                                     obj["metadata"]["name"])
                if how == "parser-only":
                    self.assertEqual(result.returncode, 0, result.stderr)
                    continue
                self.assertNotEqual(result.returncode, 0, "accepted: " + result.stdout)
                expected_created = ["fine"] if name == "one_bad_one_good.yaml" else []
                self.assertEqual(created, expected_created)
                if how == "invalid":
                    self.assertIn("is invalid", result.stderr)
                    self.assertRegex(result.stderr, r"(^|\s)%s: " % re.escape(detail))
                elif how == "strict":
                    self.assertIn('strict decoding error: unknown field "%s"' % detail,
                                  result.stderr)
                else:
                    self.assertIn(detail, result.stderr)
                if how in ("invalid", "strict", "server"):
                    self.assertIn("Error from server" if how != "invalid" else "invalid",
                                  result.stderr)




if __name__ == "__main__":
    if KUBECTL is None:
        raise SystemExit("kube_emulator_test: no kubectl; hack/setup installs build/tools/kubectl")
    print("kube_emulator_test: using", KUBECTL, file=sys.stderr)
    unittest.main(verbosity=2)
