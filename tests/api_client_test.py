#!/usr/bin/python3
"""A Python client of berthd's local API, generated from the .proto at run
time with grpc_tools (Debian's python3-grpc-tools): lists, gets and watches
NodeContainers on a running berthd, adds and removes one through the
manifests directory to see the watch report it, and reads and follows a
container's logs. Run by
BerthctlReadTest.APythonClientListsGetsAndWatches (tests/berthctl_read_e2e_test.cc)
against a real berthd; prints "python client: OK" and exits 0 when all held.
"""
import argparse
import os
import queue
import sys
import threading
import time


def generate(proto_dir, out):
    from grpc_tools import protoc
    os.makedirs(out, exist_ok=True)
    # grpc_tools ships the well-known types (timestamp, duration).
    import grpc_tools
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = ["protoc", "-I" + proto_dir, "-I" + well_known, "--python_out=" + out,
            "--grpc_python_out=" + out, os.path.join(proto_dir, "berth/v1/berth.proto")]
    if protoc.main(args) != 0:
        sys.exit("protoc failed: %s" % " ".join(args))
    sys.path.insert(0, out)


def check(cond, what):
    if not cond:
        sys.exit("FAILED: " + what)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--proto-dir", required=True)
    p.add_argument("--socket", required=True)
    p.add_argument("--manifests", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    generate(a.proto_dir, a.out)
    import grpc
    from berth.v1 import berth_pb2, berth_pb2_grpc

    channel = grpc.insecure_channel("unix:" + a.socket)
    api = berth_pb2_grpc.BerthStub(channel)

    version = api.Version(berth_pb2.VersionRequest(), timeout=10)
    check(version.api_version == "berth.v1", "Version: %s" % version)

    listed = api.List(berth_pb2.ListRequest(
        filter=berth_pb2.ListFilter(label_selector="app=web")), timeout=10)
    names = [c.name for c in listed.items]
    check(names == ["web"], "List app=web: %s" % names)
    check(listed.items[0].status.phase == "Running", "web: %s" % listed.items[0].status)
    check(listed.revision > 0, "List revision %d" % listed.revision)

    web = api.Get(berth_pb2.GetRequest(ref=berth_pb2.ObjectRef(namespace="default", name="web")),
                  timeout=10)
    check("image: busybox" in web.spec_yaml, "Get spec_yaml: %r" % web.spec_yaml)
    check(web.source.kind == "file" and web.source.file.endswith("/web.yaml"),
          "Get source: %s" % web.source)
    check(any(e.reason == "Started" for e in web.events), "Get events: %s" % list(web.events))
    try:
        api.Get(berth_pb2.GetRequest(ref=berth_pb2.ObjectRef(name="nope")), timeout=10)
        check(False, "Get nope succeeded")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, "Get nope: %s" % e.code())
        check(e.details() == 'nodecontainers "nope" not found', "Get nope: %s" % e.details())

    # Watch from 0: the current state as ADDED, then changes.
    events = queue.Queue()
    call = api.Watch(berth_pb2.WatchRequest(since_revision=0))

    def pump():
        try:
            for e in call:
                events.put(e)
        except grpc.RpcError as e:
            events.put(e)

    threading.Thread(target=pump, daemon=True).start()

    def wait_for(pred, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                e = events.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                break
            if isinstance(e, grpc.RpcError):
                check(False, "watch ended while waiting for %s: %s" % (what, e))
            if pred(e):
                return e
        check(False, "no watch event: " + what)

    Type = berth_pb2.WatchEvent
    first = wait_for(lambda e: True, "the first")
    check(first.type == Type.ADDED and first.container.name == "web", "first: %s" % first)

    path = os.path.join(a.manifests, "py.yaml")
    with open(path + ".tmp", "w") as f:
        f.write("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: py\n"
                "spec:\n  image: busybox\n  command: [sh, -c, \"trap 'exit 0' TERM; "
                "while true; do sleep 0.1; done\"]\n  terminationGracePeriodSeconds: 5\n")
    os.rename(path + ".tmp", path)
    added = wait_for(lambda e: e.type == Type.ADDED and e.container.name == "py", "py ADDED")
    running = added
    if added.container.status.phase != "Running":
        running = wait_for(
            lambda e: e.container.name == "py" and e.container.status.phase == "Running",
            "py Running")
        check(running.revision > added.revision, "revisions grow")
    check(running.container.status.pid > 0, "py Running: %s" % running.container.status)
    os.unlink(path)
    wait_for(lambda e: e.container.name == "py" and e.container.status.phase == "Removing",
             "py Removing")
    deleted = wait_for(lambda e: e.type == Type.DELETED and e.container.name == "py", "py DELETED")
    call.cancel()

    # Resuming from a revision: the changes after it, again.
    again = api.Watch(berth_pb2.WatchRequest(since_revision=added.revision - 1), timeout=10)
    seen = []
    for e in again:
        seen.append(e)
        if e.revision == deleted.revision:
            break
    again.cancel()
    check(seen and seen[0].revision == added.revision and seen[0].type == Type.ADDED,
          "resumed watch: %s" % [(e.type, e.revision) for e in seen])
    # Logs: all of web's output so far (tail_lines -1: every line), then a
    # follow of the last line and the next ones, with their times.
    ref = berth_pb2.ObjectRef(namespace="default", name="web")
    lines = [l for chunk in api.Logs(berth_pb2.LogsRequest(ref=ref, tail_lines=-1), timeout=10)
             for l in chunk.lines]
    check(len(lines) >= 2 and all(l.content == b"tick" and l.stream == "stdout" for l in lines),
          "Logs: %s" % lines[:5])
    none = [l for chunk in api.Logs(berth_pb2.LogsRequest(ref=ref), timeout=10)
            for l in chunk.lines]
    check(none == [], "Logs without tail_lines: %s" % none[:5])
    follow = api.Logs(berth_pb2.LogsRequest(ref=ref, follow=True, tail_lines=1, timestamps=True),
                      timeout=30)
    followed = []
    for chunk in follow:
        followed.extend(chunk.lines)
        if len(followed) >= 3:
            break
    follow.cancel()
    check(len(followed) >= 3 and all(l.content == b"tick" and l.time.seconds > 0 for l in followed),
          "Logs follow: %s" % followed[:5])
    times = [(l.time.seconds, l.time.nanos) for l in followed]
    check(times == sorted(times), "Logs follow order: %s" % times)
    print("python client: OK")


if __name__ == "__main__":
    main()
