"""The built-in kinds' schemas, as the API server's OpenAPI document
defines them, read from the models of the Kubernetes Python client
(Debian's python3-kubernetes, installed by hack/setup).

Why these models: the Python client is generated from the API server's own
OpenAPI document (python3-kubernetes 22.6: release 1.22), and each model keeps
what that document said of its type: the JSON name and type of every field
(`attribute_map`, `openapi_types`), the field's description (the property's
docstring) and whether it is required (the setter refuses None). Reading them
gives the real field schemas of every type a served kind reaches (PodSpec,
Container, ObjectMeta, LabelSelector, PolicyRule, JSONSchemaProps...)
without a copy of the upstream document in the tree and without a download.

The models are read as source (ast), never imported: the package need not be
importable by the interpreter running the emulator, and importing it would
pull in the whole client.

What the models lost, and so the schemas lack (hack/kube-emulator.md lists
it): fields added after 1.22, the types' own descriptions, integer formats,
the named string types (Quantity, Time) and IntOrString (an `object` in the
models: served here as a schema without a type, which accepts anything),
defaults, enums and the x-kubernetes-list-* extensions. The patch strategies
and merge keys come from smp.PATCH_META, the table the server's strategic
merge patch uses, so both read the same facts.
"""

import ast
import copy
import importlib.util
import os
import re
import threading

from . import smp

DEBIAN_MODELS = "/usr/lib/python3/dist-packages/kubernetes/client/models"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
# apimachinery's meta/v1 types: the models do not say which package a type
# comes from, and these are reached from every group.
META_TYPES = {"ObjectMeta", "ListMeta", "LabelSelector", "LabelSelectorRequirement",
              "OwnerReference", "ManagedFieldsEntry", "Status", "StatusDetails",
              "StatusCause", "DeleteOptions", "Preconditions", "Condition", "WatchEvent",
              "APIResource", "APIResourceList", "APIGroup", "APIGroupList", "APIVersions",
              "GroupVersionForDiscovery", "ServerAddressByClientCIDR"}
PRIMITIVES = {"str": {"type": "string"}, "int": {"type": "integer"},
              "bool": {"type": "boolean"}, "float": {"type": "number", "format": "double"},
              "datetime": {"type": "string", "format": "date-time"},
              "date": {"type": "string", "format": "date"}, "object": {}}


class ModelsMissing(Exception):
    pass


def models_dir():
    """Where the client's models are: the importable package's, else
    Debian's (the emulator may run under another interpreter)."""
    try:
        spec = importlib.util.find_spec("kubernetes")
    except (ImportError, ValueError):
        spec = None
    if spec and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            d = os.path.join(base, "client", "models")
            if os.path.isdir(d):
                return d
    if os.path.isdir(DEBIAN_MODELS):
        return DEBIAN_MODELS
    raise ModelsMissing("the built-in types' OpenAPI schemas are read from the Kubernetes "
                        "Python client's models, not found in %s: install Debian's "
                        "python3-kubernetes (hack/setup does)" % DEBIAN_MODELS)


def go_package(group):
    """The Go package prefix of a group's types in the OpenAPI names."""
    if group == "":
        return "io.k8s.api.core."
    if group == "apiextensions.k8s.io":
        return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions."
    return "io.k8s.api.%s." % group.split(".")[0]


def class_prefix(group):
    """The Python client's prefix for a group's colliding type names:
    CoreV1Event, ApiextensionsV1ServiceReference, RbacAuthorizationV1..."""
    if group == "":
        return "Core"
    return "".join(p.capitalize() for p in group.replace(".k8s.io", "").split("."))


def api_module(group, version):
    """The client's API module of a group version: apps_v1_api.py."""
    g = "core" if group == "" else group.replace(".k8s.io", "").replace(".", "_")
    return "%s_%s_api.py" % (g, version)


def parse_type(t):
    """'list[V1Container]' -> ("list", "V1Container"), 'dict(str, str)' ->
    ("dict", "str"), else ("", t)."""
    m = re.fullmatch(r"list\[(.*)\]", t)
    if m:
        return "list", m.group(1)
    m = re.fullmatch(r"dict\(str, (.*)\)", t)
    if m:
        return "dict", m.group(1)
    return "", t


def docstring_text(doc):
    """The description in a generated property docstring: the lines between
    the "Gets the ..." line and ":return:"."""
    lines = []
    for line in doc.split("\n")[1:]:
        line = line.strip()
        if line.startswith(":return:") or line.startswith(":param"):
            break
        lines.append(line.replace("# noqa: E501", "").strip())
    return " ".join(x for x in lines if x)


class Model:
    """One generated model class: fields (JSON name -> Python type),
    descriptions and required fields, in the class's order."""

    def __init__(self, name, path):
        self.name = name
        with open(path, encoding="utf-8") as f:
            source = f.read()
        tree = ast.parse(source, path)
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
        types, attrs, docs, required = {}, {}, {}, set()
        for node in cls.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = getattr(node.targets[0], "id", "")
                if target == "openapi_types":
                    types = ast.literal_eval(node.value)
                elif target == "attribute_map":
                    attrs = ast.literal_eval(node.value)
            elif isinstance(node, ast.FunctionDef) and node.name in types:
                decorators = [ast.unparse(d) for d in node.decorator_list]
                if "property" in decorators:
                    docs[node.name] = docstring_text(ast.get_docstring(node, clean=False) or "")
                elif node.name + ".setter" in decorators:
                    text = ast.get_source_segment(source, node) or ""
                    if "must not be `None`" in text:
                        required.add(node.name)
        self.fields = [(attrs[a], t, docs.get(a, ""), a in required) for a, t in types.items()]

    def references(self):
        for _, t, _, _ in self.fields:
            while True:
                kind, t = parse_type(t)
                if not kind:
                    break
            if t not in PRIMITIVES:
                yield t

    def field_type(self, json_name):
        return next((t for n, t, _, _ in self.fields if n == json_name), None)


class Catalog:
    """The models directory: classes by name (read on first use), the group
    each belongs to, and the definitions built from them."""

    def __init__(self, directory=None):
        self.dir = directory or models_dir()
        self.paths = {}
        class_re = re.compile(r"^class (\w+)\(object\):", re.M)
        for entry in sorted(os.listdir(self.dir)):
            if not entry.endswith(".py") or entry == "__init__.py":
                continue
            with open(os.path.join(self.dir, entry), encoding="utf-8") as f:
                m = class_re.search(f.read())
            if m:
                self.paths[m.group(1)] = os.path.join(self.dir, entry)
        if not self.paths:
            raise ModelsMissing("no model classes in %s" % self.dir)
        self.models = {}
        self.groups = {}   # class name -> (group, version) of its Go package
        self.cache = {}    # tuple of kinds -> (definitions, names)
        self.lock = threading.Lock()

    def model(self, name):
        m = self.models.get(name)
        if m is None:
            if name not in self.paths:
                raise KeyError("no model %s in %s" % (name, self.dir))
            m = self.models[name] = Model(name, self.paths[name])
        return m

    def kind_class(self, group, version, kind):
        """The client's class of a kind: V1DaemonSet, or CoreV1Event where
        the name collides across groups."""
        v = version[0].upper() + version[1:]
        for name in (class_prefix(group) + v + kind, v + kind):
            if name in self.paths:
                return name
        return None

    def assign_groups(self, group_versions):
        """Which Go package each class reachable from the kinds of these group
        versions belongs to: meta/v1 by META_TYPES, a class with a group prefix
        by its prefix, any other by the first group version (core first) whose
        kinds reach it: the models' API modules list each group's kinds."""
        api_dir = os.path.join(os.path.dirname(self.dir), "api")
        ordered = [("", "v1")] + sorted(set(group_versions) - {("", "v1")})
        for group, version in ordered:
            path = os.path.join(api_dir, api_module(group, version))
            roots = []
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    roots = sorted(set(re.findall(r"response_type='(\w+)'", f.read())))
            queue = [r for r in roots if r in self.paths]
            while queue:
                name = queue.pop()
                if name in self.groups:
                    continue
                self.groups[name] = (group, version)
                queue.extend(r for r in self.model(name).references()
                             if r in self.paths and r not in self.groups)

    def definition_name(self, name):
        """io.k8s.api.apps.v1.DaemonSet for V1DaemonSet."""
        m = re.fullmatch(r"((?:[A-Z][a-z]+)*?)(V\d+(?:(?:alpha|beta)\d+)?)([A-Z]\w*)", name)
        if not m:
            raise KeyError("unexpected model name %s" % name)
        version, short = m.group(2).lower(), m.group(3)
        if not m.group(1) and short in META_TYPES and version == "v1":
            return META + short
        prefix = m.group(1)
        default = "" if prefix in ("", "Core") else \
            ".".join(re.findall(r"[A-Z][a-z]+", prefix)).lower() + ".k8s.io"
        group, _ = self.groups.get(name, (default, version))
        return go_package(group) + version + "." + short

    def schema_of(self, t, refs):
        kind, inner = parse_type(t)
        if kind == "list":
            return {"type": "array", "items": self.schema_of(inner, refs)}
        if kind == "dict":
            return {"type": "object", "additionalProperties": self.schema_of(inner, refs)}
        if t in PRIMITIVES:
            return dict(PRIMITIVES[t])
        refs.append(t)
        return {"$ref": "#/definitions/" + self.definition_name(t)}

    def definition(self, name, refs):
        m = self.model(name)
        props, required = {}, []
        for json_name, t, doc, req in m.fields:
            s = self.schema_of(t, refs)
            if doc:
                s["description"] = doc
            props[json_name] = s
            if req:
                required.append(json_name)
        d = {"type": "object", "properties": dict(sorted(props.items()))}
        if required:
            d["required"] = sorted(required)
        return d

    def definitions(self, kinds):
        """Swagger 2.0 definitions of kinds [(group, version, kind)] and every
        type they reach, keyed by their OpenAPI names; with each kind's
        x-kubernetes-group-version-kind and the patch extensions of
        smp.PATCH_META. Kinds the models lack are left out; returns
        (definitions, {(group, version, kind): definition name})."""
        with self.lock:
            key = tuple(kinds)
            if key in self.cache:
                return copy.deepcopy(self.cache[key])
            self.assign_groups({(g, v) for g, v, _ in kinds})
            defs, names, classes = {}, {}, {}
            todo = []
            for g, v, k in kinds:
                c = self.kind_class(g, v, k)
                if c:
                    names[(g, v, k)] = self.definition_name(c)
                    todo.append(c)
                    lc = self.kind_class(g, v, k + "List")
                    if lc:
                        names[(g, v, k + "List")] = self.definition_name(lc)
                        todo.append(lc)
            while todo:
                c = todo.pop()
                n = self.definition_name(c)
                if n in defs:
                    continue
                refs = []
                defs[n] = self.definition(c, refs)
                classes[n] = c
                todo.extend(refs)
            for (g, v, k), n in names.items():
                defs[n]["x-kubernetes-group-version-kind"] = [
                    {"group": g, "kind": k, "version": v}]
                meta = smp.PATCH_META.get((g, k))
                if meta:
                    self.annotate(defs, classes, n, meta)
            self.cache[key] = (defs, names)
            return copy.deepcopy((defs, names))

    def annotate(self, defs, classes, name, meta):
        """Put the strategic merge patch metadata of PATCH_META on the fields
        of definition name (and the types below it); fields the models lack
        are skipped."""
        props = defs[name]["properties"]
        for field, m in meta.items():
            prop = props.get(field)
            if prop is None:
                continue
            t = self.model(classes[name]).field_type(field)
            kind, inner = parse_type(t)
            if m[0] == "list":
                _, key, strategies, item = m
                strategy = ",".join(s for s in strategies if s)
                if strategy:
                    prop["x-kubernetes-patch-strategy"] = strategy
                if key:
                    prop["x-kubernetes-patch-merge-key"] = key
                if item and kind == "list" and inner in self.paths:
                    self.annotate(defs, classes, self.definition_name(inner), item)
            else:
                _, fields, strategies = m
                if strategies:
                    prop["x-kubernetes-patch-strategy"] = ",".join(strategies)
                if fields and not kind and t in self.paths:
                    self.annotate(defs, classes, self.definition_name(t), fields)


_CATALOG = None
_CATALOG_LOCK = threading.Lock()


def catalog():
    """The process's Catalog, built on first use."""
    global _CATALOG
    with _CATALOG_LOCK:
        if _CATALOG is None:
            _CATALOG = Catalog()
        return _CATALOG
