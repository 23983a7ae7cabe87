"""Authorization as the API server's RBAC authorizer does it: a request's
attributes (the RequestInfoFactory's verb, API group, resource, subresource,
name, namespace or non-resource path), the rules of the (Cluster)Roles bound
to the user by (Cluster)RoleBindings, and the Forbidden Status a denied
request gets. Also the bootstrap policy every cluster starts with
(cluster-admin for system:masters, discovery and public info for everyone).

Members of system:masters are always allowed (the apiserver's privileged
group authorizer runs before RBAC).
"""

import json

from .errors import ApiError, query_bool
from .resources import RBAC

MASTERS = "system:masters"


class Attributes:
    """What the authorizer sees of one request."""

    def __init__(self, verb, path, resource_request=False, group="", version="",
                 resource="", subresource="", namespace="", name=""):
        self.verb, self.path = verb, path
        self.resource_request = resource_request
        self.group, self.version = group, version
        self.resource, self.subresource = resource, subresource
        self.namespace, self.name = namespace, name


def request_attributes(method, path, params):
    """The RequestInfoFactory's reading of a request (apiserver
    endpoints/request/requestinfo.go)."""
    parts = [p for p in path.strip("/").split("/") if p]
    nonresource = Attributes(method.lower(), path)
    if not parts or parts[0] not in ("api", "apis"):
        return nonresource
    if parts[0] == "apis":
        if len(parts) < 3:
            return nonresource
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        if len(parts) < 2:
            return nonresource
        group, version, rest = "", parts[1], parts[2:]
    if not rest:
        return nonresource
    verb = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
            "PATCH": "patch", "DELETE": "delete"}.get(method, "")
    if rest[0] == "watch":
        verb, rest = "watch", rest[1:]
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    a = Attributes(verb, path, True, group, version, rest[0] if rest else "", "",
                   namespace, rest[1] if len(rest) > 1 else "")
    if len(rest) > 2:
        a.subresource = rest[2]
    if not a.name and a.verb == "get":
        a.verb = "watch" if query_bool(params, "watch") else "list"
    if not a.name and a.verb == "delete":
        a.verb = "deletecollection"
    if not a.name and a.verb in ("list", "watch"):
        name = exact_name(params.get("fieldSelector", ""))
        if name:
            a.name = name
    return a


def exact_name(field_selector):
    """The name a field selector requires exactly (metadata.name=X), if any
    and a valid path segment."""
    for term in field_selector.split(","):
        if "!=" in term:
            continue
        key, sep, value = term.partition("==") if "==" in term else term.partition("=")
        if sep and key.strip() == "metadata.name":
            value = value.strip()
            if value and value not in (".", "..") and "/" not in value and "%" not in value:
                return value
    return ""


def rule_allows(a, rule):
    """RBAC's RuleAllows."""
    verbs = rule.get("verbs") or []
    if "*" not in verbs and a.verb not in verbs:
        return False
    if not a.resource_request:
        for url in rule.get("nonResourceURLs") or []:
            if url == "*" or url == a.path or (url.endswith("*") and
                                               a.path.startswith(url[:-1])):
                return True
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and a.group not in groups:
        return False
    combined = a.resource + ("/" + a.subresource if a.subresource else "")
    matched = False
    for r in rule.get("resources") or []:
        if r == "*" or r == combined or (a.subresource and r == "*/" + a.subresource):
            matched = True
            break
    if not matched:
        return False
    names = rule.get("resourceNames") or []
    return not names or a.name in names


def applies_to(subject, user, binding_namespace):
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == user.name
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return user.name == "system:serviceaccount:%s:%s" % (ns, subject.get("name"))
    return False


def quote(text):
    return json.dumps(text)


def describe_subject(subject, binding_namespace):
    if subject.get("kind") == "ServiceAccount":
        return 'ServiceAccount "%s/%s"' % (subject.get("name"),
                                           subject.get("namespace") or binding_namespace)
    return "%s %s" % (subject.get("kind"), quote(subject.get("name")))


def authorize(store, user, a):
    """(allowed, reason): RBAC's decision for user on a, with the reason its
    visitor gives ("RBAC: allowed by ClusterRoleBinding ..." or the errors
    met). The caller holds store.lock."""
    if MASTERS in user.groups:
        return True, ""
    errors = []

    def role_rules(ref, namespace):
        kind, name = ref.get("kind"), ref.get("name")
        if kind == "ClusterRole":
            role = store.objects.get((RBAC, "clusterroles"), {}).get(("", name))
            if role is None:
                errors.append('clusterrole.rbac.authorization.k8s.io "%s" not found' % name)
                return []
        elif kind == "Role":
            role = store.objects.get((RBAC, "roles"), {}).get((namespace, name))
            if role is None:
                errors.append('role.rbac.authorization.k8s.io "%s" not found' % name)
                return []
        else:
            return []
        return role.get("rules") or []

    for (_, name), b in sorted(store.objects.get((RBAC, "clusterrolebindings"), {}).items()):
        for s in b.get("subjects") or []:
            if applies_to(s, user, "") and any(
                    rule_allows(a, r) for r in role_rules(b.get("roleRef") or {}, "")):
                return True, "RBAC: allowed by ClusterRoleBinding %s of %s %s to %s" % (
                    quote(name), b["roleRef"].get("kind"), quote(b["roleRef"].get("name")),
                    describe_subject(s, ""))
    if a.namespace:
        for (ns, name), b in sorted(store.objects.get((RBAC, "rolebindings"), {}).items()):
            if ns != a.namespace:
                continue
            for s in b.get("subjects") or []:
                if applies_to(s, user, ns) and any(
                        rule_allows(a, r) for r in role_rules(b.get("roleRef") or {}, ns)):
                    return True, "RBAC: allowed by RoleBinding %s of %s %s to %s" % (
                        quote(name + "/" + ns), b["roleRef"].get("kind"),
                        quote(b["roleRef"].get("name")), describe_subject(s, ns))
    reason = "RBAC: " + (errors[0] if len(errors) == 1 else
                         "[" + ", ".join(errors) + "]") if errors else ""
    return False, reason


def forbidden(user, a, reason=""):
    """The 403 the apiserver answers (responsewriters.Forbidden)."""
    if not a.resource_request:
        msg = 'User "%s" cannot %s path "%s"' % (user.name, a.verb, a.path)
    else:
        resource = a.resource + ("/" + a.subresource if a.subresource else "")
        msg = 'User "%s" cannot %s resource "%s" in API group "%s"' % (
            user.name, a.verb, resource, a.group)
        msg += (' in the namespace "%s"' % a.namespace) if a.namespace else \
            " at the cluster scope"
    if reason:
        msg += ": " + reason
    if not a.resource_request or not a.resource:
        return ApiError(403, "Forbidden", "forbidden: " + msg)
    qualified = a.resource + ("." + a.group if a.group else "")
    if a.name:
        text = '%s "%s" is forbidden: %s' % (qualified, a.name, msg)
    else:
        text = "%s is forbidden: %s" % (qualified, msg)
    details = {"group": a.group, "kind": a.resource}
    if a.name:
        details["name"] = a.name
    return ApiError(403, "Forbidden", text, details)


BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
BOOTSTRAP_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
PUBLIC_INFO = ["/healthz", "/livez", "/readyz", "/version", "/version/"]


def bootstrap_policy():
    """The ClusterRoles and ClusterRoleBindings (kind, object) a cluster starts
    with, as bootstrappolicy/policy.go has them, for the parts the emulator
    serves."""
    def meta(name):
        return {"name": name, "labels": dict(BOOTSTRAP_LABELS),
                "annotations": dict(BOOTSTRAP_ANNOTATIONS)}

    def role(name, rules):
        return ("ClusterRole", {"apiVersion": RBAC + "/v1", "kind": "ClusterRole",
                                "metadata": meta(name), "rules": rules})

    def binding(name, role_name, groups):
        return ("ClusterRoleBinding", {
            "apiVersion": RBAC + "/v1", "kind": "ClusterRoleBinding", "metadata": meta(name),
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role_name},
            "subjects": [{"apiGroup": RBAC, "kind": "Group", "name": g} for g in groups]})

    return [
        role("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                               {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        role("system:discovery", [{"nonResourceURLs": [
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
            "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        role("system:public-info-viewer", [{"nonResourceURLs": PUBLIC_INFO,
                                            "verbs": ["get"]}]),
        role("system:basic-user", [
            {"apiGroups": ["authorization.k8s.io"],
             "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
             "verbs": ["create"]},
            {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
             "verbs": ["create"]}]),
        binding("cluster-admin", "cluster-admin", [MASTERS]),
        binding("system:discovery", "system:discovery", ["system:authenticated"]),
        binding("system:public-info-viewer", "system:public-info-viewer",
                ["system:authenticated", "system:unauthenticated"]),
        binding("system:basic-user", "system:basic-user", ["system:authenticated"]),
    ]
