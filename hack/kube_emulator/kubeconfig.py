"""The kubeconfig written for --kubeconfig-out, and atomic file writes."""

import base64
import json
import os


def yaml_str(s):
    return json.dumps(s)


def write_kubeconfig(path, server_url, args):
    cluster = ["    server: %s" % yaml_str(server_url)]
    if args.tls_cert:
        with open(args.tls_cert, "rb") as f:
            cluster.append("    certificate-authority-data: %s"
                           % base64.b64encode(f.read()).decode())
    user = []
    if args.token:
        user.append("    token: %s" % yaml_str(args.token))
    if args.kubeconfig_client_cert and args.kubeconfig_client_key:
        for key, file in (("client-certificate-data", args.kubeconfig_client_cert),
                          ("client-key-data", args.kubeconfig_client_key)):
            with open(file, "rb") as f:
                user.append("    %s: %s" % (key, base64.b64encode(f.read()).decode()))
    text = "\n".join([
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: kube-emulator",
        "  cluster:"] + cluster + [
        "contexts:",
        "- name: kube-emulator",
        "  context:",
        "    cluster: kube-emulator",
        "    user: kube-emulator",
        "    namespace: default",
        "current-context: kube-emulator",
        "preferences: {}",
        "users:",
        "- name: kube-emulator",
        "  user:" + ("" if user else " {}")] + user) + "\n"
    write_atomically(path, text)


def write_atomically(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)
