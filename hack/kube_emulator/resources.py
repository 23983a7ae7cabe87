"""Resource types: what the server serves (group, version, plural, kind, scope,
subresources, schema, printer columns, selectable fields) and the built-in ones."""


class ResourceType:
    """One served resource of one group version."""

    def __init__(self, group, version, plural, singular, kind, namespaced,
                 short_names=(), categories=(), status=False, schema=None,
                 columns=None, selectable=(), builtin=True, field_labels=()):
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

    @property
    def key(self):
        return (self.group, self.plural)

    @property
    def api_version(self):
        return self.group + "/" + self.version if self.group else self.version

    def discovery(self):
        verbs = ["create", "delete", "deletecollection", "get", "list", "patch",
                 "update", "watch"]
        out = [{"name": self.plural, "singularName": self.singular,
                "namespaced": self.namespaced, "kind": self.kind, "verbs": verbs}]
        if self.short_names:
            out[0]["shortNames"] = self.short_names
        if self.categories:
            out[0]["categories"] = self.categories
        if self.status:
            out.append({"name": self.plural + "/status", "singularName": "",
                        "namespaced": self.namespaced, "kind": self.kind,
                        "verbs": ["get", "patch", "update"]})
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
                     short_names=["ns"], status=True, field_labels=["status.phase"],
                     columns=[{"name": "Status", "type": "string", "jsonPath": ".status.phase"}]),
        ResourceType("", "v1", "nodes", "node", "Node", False, short_names=["no"],
                     status=True, field_labels=["spec.unschedulable"]),
        ResourceType("", "v1", "events", "event", "Event", True, short_names=["ev"],
                     field_labels=["involvedObject.kind", "involvedObject.namespace",
                                   "involvedObject.name", "involvedObject.uid",
                                   "involvedObject.apiVersion",
                                   "involvedObject.resourceVersion",
                                   "involvedObject.fieldPath", "reason",
                                   "reportingComponent", "source", "type"],
                     columns=[{"name": "Type", "type": "string", "jsonPath": ".type"},
                              {"name": "Reason", "type": "string", "jsonPath": ".reason"},
                              {"name": "Message", "type": "string", "jsonPath": ".message"}]),
        ResourceType("", "v1", "secrets", "secret", "Secret", True),
        ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                     "customresourcedefinition", "CustomResourceDefinition", False,
                     short_names=["crd", "crds"], categories=["api-extensions"], status=True),
    ]

