"""Resource types: what the server serves (group, version, plural, kind, scope,
subresources, schema, printer columns, selectable fields) and the built-in ones."""

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update",
             "watch"]
RBAC = "rbac.authorization.k8s.io"


class ResourceType:
    """One served resource of one group version."""

    def __init__(self, group, version, plural, singular, kind, namespaced,
                 short_names=(), categories=(), status=False, schema=None,
                 columns=None, selectable=(), builtin=True, field_labels=(), verbs=None,
                 generation=False, subresources=(), returns_deleted=False):
        self.group = group
        self.version = version
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.list_kind = kind + "List"
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.status = status
        self.schema = schema            # structural openAPIV3Schema (CRDs only)
        self.columns = columns or []    # additionalPrinterColumns
        self.selectable = list(selectable)  # jsonPaths without the leading "."
        self.builtin = builtin
        self.field_labels = list(field_labels)
        self.verbs = list(verbs or ALL_VERBS)
        # Whether metadata.generation is kept (1 on create, +1 per change
        # outside metadata and status): custom resources and the built-in
        # types whose strategy does so.
        self.generation = generation or not builtin
        # Other subresources: [(name, kind, group, version, verbs)].
        self.subresources = list(subresources)
        # ReturnDeletedObject of the type's registry: a DELETE that removes
        # the object answers with it; otherwise with a Status naming it.
        self.returns_deleted = returns_deleted

    @property
    def key(self):
        return (self.group, self.plural)

    @property
    def api_version(self):
        return self.group + "/" + self.version if self.group else self.version

    def discovery(self):
        out = [{"name": self.plural, "singularName": self.singular,
                "namespaced": self.namespaced, "kind": self.kind, "verbs": self.verbs}]
        if self.short_names:
            out[0]["shortNames"] = self.short_names
        if self.categories:
            out[0]["categories"] = self.categories
        if self.status:
            out.append({"name": self.plural + "/status", "singularName": "",
                        "namespaced": self.namespaced, "kind": self.kind,
                        "verbs": ["get", "patch", "update"]})
        for (name, kind, group, version, verbs) in self.subresources:
            out.append({"name": self.plural + "/" + name, "singularName": "",
                        "namespaced": self.namespaced, "group": group, "version": version,
                        "kind": kind, "verbs": list(verbs)})
        return out

    def served(self, obj):
        """obj as this version serves it: only its apiVersion differs (no conversion)."""
        if obj.get("apiVersion") == self.api_version:
            return obj
        obj = dict(obj)
        obj["apiVersion"] = self.api_version
        return obj


def builtin_types():
    return [
        ResourceType("", "v1", "namespaces", "namespace", "Namespace", False,
                     short_names=["ns"], verbs=[v for v in ALL_VERBS if v != "deletecollection"],
                     returns_deleted=True, status=True, field_labels=["status.phase"]),
        ResourceType("", "v1", "nodes", "node", "Node", False, short_names=["no"],
                     status=True, field_labels=["spec.unschedulable"]),
        ResourceType("", "v1", "events", "event", "Event", True, short_names=["ev"],
                     field_labels=["involvedObject.kind", "involvedObject.namespace",
                                   "involvedObject.name", "involvedObject.uid",
                                   "involvedObject.apiVersion",
                                   "involvedObject.resourceVersion",
                                   "involvedObject.fieldPath", "reason",
                                   "reportingComponent", "source", "type"]),
        ResourceType("", "v1", "secrets", "secret", "Secret", True, field_labels=["type"]),
        ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", True,
                     short_names=["cm"]),
        ResourceType("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True,
                     short_names=["sa"], returns_deleted=True,
                     subresources=[("token", "TokenRequest", "authentication.k8s.io", "v1",
                                    ["create"])]),
        ResourceType("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True,
                     short_names=["ds"], categories=["all"], status=True, generation=True),
        ResourceType(RBAC, "v1", "clusterroles", "clusterrole", "ClusterRole", False),
        ResourceType(RBAC, "v1", "clusterrolebindings", "clusterrolebinding",
                     "ClusterRoleBinding", False),
        ResourceType(RBAC, "v1", "roles", "role", "Role", True),
        ResourceType(RBAC, "v1", "rolebindings", "rolebinding", "RoleBinding", True),
        ResourceType("authorization.k8s.io", "v1", "selfsubjectaccessreviews",
                     "selfsubjectaccessreview", "SelfSubjectAccessReview", False,
                     verbs=["create"]),
        ResourceType("authorization.k8s.io", "v1", "subjectaccessreviews",
                     "subjectaccessreview", "SubjectAccessReview", False, verbs=["create"]),
        ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                     "customresourcedefinition", "CustomResourceDefinition", False,
                     short_names=["crd", "crds"], categories=["api-extensions"], status=True,
                     generation=True, returns_deleted=True),
    ]

