"""Discovery documents, legacy form: /version, /api, /apis, /apis/<group> and
the APIResourceList of a group version. Built from the store's types; the
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
