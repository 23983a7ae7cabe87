"""The server-side Tables of built-in types: the columns and cells of
kubernetes pkg/printers/internalversion/printers.go (generated Wide, as the
apiserver's TableConvertor does; kubectl hides priority-1 columns unless
-o wide), and rest.NewDefaultTableConvertor's Name and Created At for the
types that have no printer (CustomResourceDefinitions)."""

import datetime

from .timestamps import human_duration, parse_rfc3339

CREATION = ("CreationTimestamp is a timestamp representing the server time when this "
            "object was created.")


def col(name, type_="string", priority=0, fmt="", description=""):
    return {"name": name, "type": type_, "format": fmt, "priority": priority,
            "description": description}


NAME = col("Name", fmt="name", description="Name must be unique within a namespace.")
AGE = col("Age", description=CREATION)


def since(ts, now):
    """translateTimestampSince: an age, "<unknown>" for none."""
    t = parse_rfc3339(ts) if isinstance(ts, str) else None
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


def age(obj, now):
    return since(obj["metadata"].get("creationTimestamp"), now)


def node_roles(labels):
    roles = set()
    for k, v in (labels or {}).items():
        if k.startswith("node-role.kubernetes.io/") and k[len("node-role.kubernetes.io/"):]:
            roles.add(k[len("node-role.kubernetes.io/"):])
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return sorted(roles)


def node_address(obj, kind):
    for a in (obj.get("status") or {}).get("addresses") or []:
        if a.get("type") == kind:
            return a.get("address", "")
    return "<none>"


def print_node(obj, now):
    status = obj.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    shown = []
    if "Ready" in conditions:
        shown.append("Ready" if conditions["Ready"].get("status") == "True" else "NotReady")
    if not shown:
        shown.append("Unknown")
    if (obj.get("spec") or {}).get("unschedulable"):
        shown.append("SchedulingDisabled")
    info = status.get("nodeInfo") or {}
    return [obj["metadata"]["name"], ",".join(shown),
            ",".join(node_roles(obj["metadata"].get("labels"))) or "<none>", age(obj, now),
            info.get("kubeletVersion", ""), node_address(obj, "InternalIP"),
            node_address(obj, "ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def print_event(obj, now):
    first = since(obj.get("firstTimestamp"), now)
    if not obj.get("firstTimestamp"):
        first = since(obj.get("eventTime"), now)
    last = since(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 0
    series = obj.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
        count = series.get("count", 0)
    elif count == 0:
        count = 1
    involved = obj.get("involvedObject") or {}
    target = (involved.get("kind") or "").lower()
    if involved.get("name"):
        target += "/" + involved["name"]
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    return [last, obj.get("type", ""), obj.get("reason", ""), target,
            involved.get("fieldPath", ""), component + (", " + instance if instance else ""),
            (obj.get("message") or "").strip(), first, count, obj["metadata"]["name"]]


def format_labels(labels):
    return ",".join("%s=%s" % kv for kv in sorted((labels or {}).items())) or "<none>"


def format_selector(selector):
    if not selector:
        return "<none>"
    parts = ["%s=%s" % kv for kv in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        op, values = e.get("operator", ""), ",".join(e.get("values") or [])
        if op == "In":
            parts.append("%s in (%s)" % (e.get("key"), values))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (e.get("key"), values))
        elif op == "Exists":
            parts.append(e.get("key"))
        elif op == "DoesNotExist":
            parts.append("!" + e.get("key"))
    return ",".join(parts) or "<none>"


def print_daemonset(obj, now):
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    return [obj["metadata"]["name"], status.get("desiredNumberScheduled", 0),
            status.get("currentNumberScheduled", 0), status.get("numberReady", 0),
            status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            format_labels(pod.get("nodeSelector")), age(obj, now),
            ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers),
            format_selector(spec.get("selector"))]


def print_binding(obj, now):
    ref = obj.get("roleRef") or {}
    subjects = obj.get("subjects") or []

    def names(kind):
        return ", ".join(("%s/%s" % (s.get("namespace", ""), s.get("name")))
                         if kind == "ServiceAccount" else s.get("name", "")
                         for s in subjects if s.get("kind") == kind)
    return [obj["metadata"]["name"], "%s/%s" % (ref.get("kind", ""), ref.get("name", "")),
            age(obj, now), names("User"), names("Group"), names("ServiceAccount")]


def created_at(obj, _now):
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp")]


PRINTERS = {
    ("", "Namespace"): ([NAME, col("Status", description="The status of the namespace"), AGE],
                        lambda o, now: [o["metadata"]["name"],
                                        (o.get("status") or {}).get("phase", ""),
                                        age(o, now)]),
    ("", "Node"): ([NAME, col("Status", description="The status of the node"),
                    col("Roles", description="The roles of the node"), AGE,
                    col("Version", description="Kubelet Version reported by the node."),
                    col("Internal-IP", priority=1, description="List of addresses reachable "
                        "to the node. Queried from cloud provider, if available."),
                    col("External-IP", priority=1, description="List of addresses reachable "
                        "to the node. Queried from cloud provider, if available."),
                    col("OS-Image", priority=1, description="OS Image reported by the node "
                        "from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
                    col("Kernel-Version", priority=1, description="Kernel Version reported "
                        "by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
                    col("Container-Runtime", priority=1, description="ContainerRuntime "
                        "Version reported by the node through runtime remote API (e.g. "
                        "containerd://1.4.2).")], print_node),
    ("", "Event"): ([col("Last Seen", description="The time at which the most recent "
                         "occurrence of this event was recorded."),
                     col("Type", description="Type of this event (Normal, Warning), new "
                         "types could be added in the future"),
                     col("Reason", description="This should be a short, machine "
                         "understandable string that gives the reason for the transition "
                         "into the object's current status."),
                     col("Object", description="The object that this event is about."),
                     col("Subobject", priority=1, description="If referring to a piece of "
                         "an object instead of an entire object, this string should contain "
                         "a valid JSON/Go field access statement."),
                     col("Source", priority=1, description="The component reporting this "
                         "event. Should be a short machine understandable string."),
                     col("Message", description="A human-readable description of the status "
                         "of this operation."),
                     col("First Seen", priority=1, description="The time at which the event "
                         "was first recorded. (Time of server receipt is in TypeMeta.)"),
                     col("Count", priority=1, description="The number of times this event "
                         "has occurred."),
                     col("Name", priority=1, fmt="name", description="Name must be unique "
                         "within a namespace.")], print_event),
    ("", "Secret"): ([NAME, col("Type", description="Used to facilitate programmatic handling "
                                "of secret data."),
                      col("Data", description="Data contains the secret data."), AGE],
                     lambda o, now: [o["metadata"]["name"], o.get("type", ""),
                                     len(o.get("data") or {}), age(o, now)]),
    ("", "ConfigMap"): ([NAME, col("Data", description="Data contains the configuration "
                                   "data."), AGE],
                        lambda o, now: [o["metadata"]["name"],
                                        len(o.get("data") or {}) +
                                        len(o.get("binaryData") or {}), age(o, now)]),
    ("", "ServiceAccount"): ([NAME, col("Secrets", description="Secrets is a list of the "
                                        "secrets in the same namespace that pods running "
                                        "using this ServiceAccount are allowed to use."),
                              AGE],
                             lambda o, now: [o["metadata"]["name"], len(o.get("secrets") or []),
                                             age(o, now)]),
    ("apps", "DaemonSet"): ([NAME, col("Desired", "integer"), col("Current", "integer"),
                             col("Ready", "integer"), col("Up-to-date", "integer"),
                             col("Available", "integer"), col("Node Selector"), AGE,
                             col("Containers", priority=1), col("Images", priority=1),
                             col("Selector", priority=1)], print_daemonset),
}
# ClusterRoles and Roles have no printer: their registries use
# rest.NewDefaultTableConvertor (Name, Created At), as printer() falls back to.
ROLE_REF = {
    "RoleBinding": "RoleRef can reference a Role in the current namespace or a ClusterRole "
                   "in the global namespace. If the RoleRef cannot be resolved, the "
                   "Authorizer must return an error.",
    "ClusterRoleBinding": "RoleRef can only reference a ClusterRole in the global namespace. "
                          "If the RoleRef cannot be resolved, the Authorizer must return an "
                          "error.",
}
for _kind, _noun in (("ClusterRoleBinding", "clusterRoleBinding"),
                     ("RoleBinding", "roleBinding")):
    PRINTERS[("rbac.authorization.k8s.io", _kind)] = (
        [NAME, col("Role", description=ROLE_REF[_kind]), AGE,
         col("Users", priority=1, description="Users in the " + _noun),
         col("Groups", priority=1, description="Groups in the " + _noun),
         col("ServiceAccounts", priority=1, description="ServiceAccounts in the " + _noun)],
        print_binding)
PRINTERS[("apiextensions.k8s.io", "CustomResourceDefinition")] = (
    [NAME, col("Created At", "date", description=CREATION)], created_at)


def printer(rtype):
    """(columns, row function) for a built-in type; None for custom resources."""
    if not rtype.builtin:
        return None
    return PRINTERS.get((rtype.group, rtype.kind),
                        ([NAME, col("Created At", "date", description=CREATION)],
                         created_at))


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)
