"""Discovery documents: /version; the legacy /api, /apis, /apis/<group> and
the APIResourceList of a group version; and the aggregated
APIGroupDiscoveryList (apidiscovery.k8s.io/v2, v2beta1) of /api and /apis. Built from the store's types; the
caller holds store.lock where it reads them."""

VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-kube-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.4", "compiler": "gc", "platform": "linux/amd64"}


def api_versions(address):
    """/api: the core group's versions and where to reach the server."""
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": address}]}


def api_group(group, versions):
    """/apis/<group>: an APIGroup; the first version is the preferred one."""
    gvs = [{"groupVersion": group + "/" + v, "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(store):
    """/apis: every named group in registration order."""
    groups = [api_group(g, vs) for g, vs in store.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group, version, types):
    """/api/v1 or /apis/<group>/<version>: the APIResourceList of types."""
    resources = [r for t in types for r in t.discovery()]
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": group + "/" + version if group else "v1",
            "resources": resources}


AGGREGATED = "apidiscovery.k8s.io"


def aggregated_version(accept):
    """The apidiscovery.k8s.io version (v2 or v2beta1) of the first media
    range in accept that asks for an APIGroupDiscoveryList; None when the
    client takes the legacy documents first."""
    for media_range in accept.split(","):
        parts = [p.strip() for p in media_range.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if parts[0] not in ("application/json", "*/*"):
            continue
        if params.get("g") == AGGREGATED and params.get("as") == "APIGroupDiscoveryList" and \
                params.get("v") in ("v2", "v2beta1"):
            return params["v"]
        if "g" not in params and "as" not in params:
            return None  # plain JSON comes first
    return None


def aggregated_content_type(version):
    return "application/json;g=%s;v=%s;as=APIGroupDiscoveryList" % (AGGREGATED, version)


def resource_discovery(t):
    """One APIResourceDiscovery of a type, with its subresources."""
    kind = {"group": t.group, "version": t.version, "kind": t.kind}
    out = {"resource": t.plural, "responseKind": kind,
           "scope": "Namespaced" if t.namespaced else "Cluster",
           "singularResource": t.singular, "verbs": list(t.verbs)}
    if t.short_names:
        out["shortNames"] = list(t.short_names)
    if t.categories:
        out["categories"] = list(t.categories)
    subs = []
    if t.status:
        subs.append({"subresource": "status", "responseKind": kind,
                     "verbs": ["get", "patch", "update"]})
    for (name, sub_kind, group, version, verbs) in t.subresources:
        subs.append({"subresource": name, "responseKind": {
            "group": group, "version": version, "kind": sub_kind}, "verbs": list(verbs)})
    if subs:
        out["subresources"] = subs
    return out


def aggregated_list(store, core, version):
    """The APIGroupDiscoveryList of /api (core) or /apis: every group, its
    versions (the preferred first) and their resources. The caller holds
    store.lock."""
    items = []
    for group, versions in store.groups().items():
        if (group == "") != core:
            continue
        entry = {"metadata": {"creationTimestamp": None}, "versions": []}
        if group:
            entry["metadata"]["name"] = group
        for v in versions:
            resources = sorted((resource_discovery(t) for t in store.resources(group, v)),
                               key=lambda r: r["resource"])
            entry["versions"].append({"version": v, "resources": resources,
                                      "freshness": "Current"})
        items.append(entry)
    return {"kind": "APIGroupDiscoveryList", "apiVersion": AGGREGATED + "/" + version,
            "metadata": {}, "items": items}
