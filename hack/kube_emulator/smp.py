"""Strategic merge patch (application/strategic-merge-patch+json) as
apimachinery's strategicpatch applies one on the server
(StrategicMergeMapPatchUsingLookupPatchMeta: MergeParallelList and
IgnoreUnmatchedNulls): maps merge recursively (null deletes), lists with the
"merge" strategy merge by their patch merge key (or as sets of scalars),
other lists are replaced; the directives $patch (replace, delete; in a list
element: delete, replace), $retainKeys, $deleteFromPrimitiveList/<field> and
$setElementOrder/<field> are honoured, and the merged list order follows
normalizeElementOrder and mergeSortedSlice.

The patch metadata (which lists merge, by which key) is PATCH_META, taken
from the patchStrategy/patchMergeKey tags of k8s.io/api's Go types for the
kinds the emulator serves. A field it does not list merges as a map or is
replaced as a list (the real server refuses a field its Go type lacks).
"""

import copy

from .errors import ApiError, bad_request

MARKER = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_PREFIX = "$deleteFromPrimitiveList/"
ORDER_PREFIX = "$setElementOrder/"


def L(key="", strategy="merge", item=None):
    """A list field's metadata: its merge key ("" for scalars), strategies,
    and the metadata of its elements."""
    return ("list", key, strategy.split(","), item or {})


def M(fields=None, strategy=""):
    """A struct or map field's metadata."""
    return ("map", fields or {}, strategy.split(",") if strategy else [])


OBJECT_META = {"finalizers": L(), "ownerReferences": L("uid")}
CONDITIONS = L("type")
CONTAINER = {"ports": L("containerPort"), "env": L("name"), "volumeMounts": L("mountPath"),
             "volumeDevices": L("devicePath")}
VOLUME = {}
POD_SPEC = {
    "volumes": L("name", "merge,retainKeys", VOLUME),
    "initContainers": L("name", item=CONTAINER), "containers": L("name", item=CONTAINER),
    "ephemeralContainers": L("name", item=CONTAINER),
    "imagePullSecrets": L("name"), "hostAliases": L("ip"),
    "topologySpreadConstraints": L("topologyKey"), "schedulingGates": L("name"),
    "resourceClaims": L("name", "merge,retainKeys")}
POD_TEMPLATE = {"metadata": M(OBJECT_META), "spec": M(POD_SPEC)}

PATCH_META = {
    ("", "Namespace"): {"metadata": M(OBJECT_META),
                        "status": M({"conditions": CONDITIONS})},
    ("", "Node"): {"metadata": M(OBJECT_META), "spec": M({"podCIDRs": L()}),
                   "status": M({"conditions": CONDITIONS, "addresses": L("type")})},
    ("", "Event"): {"metadata": M(OBJECT_META)},
    ("", "Secret"): {"metadata": M(OBJECT_META)},
    ("", "ConfigMap"): {"metadata": M(OBJECT_META)},
    ("", "ServiceAccount"): {"metadata": M(OBJECT_META), "secrets": L("name")},
    ("apps", "DaemonSet"): {"metadata": M(OBJECT_META),
                            "spec": M({"template": M(POD_TEMPLATE)}),
                            "status": M({"conditions": CONDITIONS})},
    ("apiextensions.k8s.io", "CustomResourceDefinition"): {
        "metadata": M(OBJECT_META), "status": M({"conditions": CONDITIONS})},
}
for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
    PATCH_META[("rbac.authorization.k8s.io", kind)] = {"metadata": M(OBJECT_META)}


def retain_strategy(strategies):
    """extractRetainKeysPatchStrategy: the strategy other than retainKeys."""
    others = [s for s in strategies if s and s != "retainKeys"]
    return others[0] if others else ""


def field_meta(schema, key):
    return schema.get(key) if isinstance(schema, dict) else None


def apply_strategic(original, patch, group, kind):
    """original (not changed) with the strategic merge patch applied."""
    if not isinstance(patch, dict):
        raise bad_request("the strategic merge patch must be a JSON object")
    schema = PATCH_META.get((group, kind), {"metadata": M(OBJECT_META)})
    merged = merge_map(copy.deepcopy(original), copy.deepcopy(patch), schema)
    return strip_directives(merged)


def strip_directives(value):
    """What the typed decode of the result keeps: no $-keys, no nulls in maps."""
    if isinstance(value, dict):
        return {k: strip_directives(v) for k, v in value.items()
                if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [strip_directives(v) for v in value]
    return value


def merge_map(original, patch, schema):
    if MARKER in patch:
        directive = patch[MARKER]
        if directive == "replace":
            del patch[MARKER]
            return patch
        if directive == "delete":
            return {}
        raise bad_request("Unknown patch type: %s in map: %s" % (directive, patch))
    if original is None:
        original = {}
    apply_retain_keys(original, patch)
    merge_parallel_lists(original, patch, schema)
    for k in list(patch):
        patch_v = patch[k]
        is_delete_list = False
        if k.startswith(DELETE_PREFIX):
            k = k[len(DELETE_PREFIX):]
            if original.get(k) is None:
                continue
            if not isinstance(original[k], list):
                raise bad_request("invalid type for %s: expected a list" % k)
            is_delete_list = True
        elif k.startswith(ORDER_PREFIX):
            continue
        if patch_v is None:
            original.pop(k, None)
            continue
        if k not in original:
            if not is_delete_list:
                original[k] = discard_nulls(patch_v)
            continue
        if type(original[k]) is not type(patch_v) or not isinstance(patch_v, (dict, list)):
            if not is_delete_list:
                original[k] = discard_nulls(patch_v)
            continue
        meta = field_meta(schema, k)
        if isinstance(patch_v, dict):
            sub = meta[1] if meta and meta[0] == "map" else {}
            if meta and "replace" in meta[2]:
                original[k] = patch_v
            else:
                original[k] = merge_map(original[k], patch_v, sub)
        else:
            key, strategy, item = ("", "", {})
            if meta and meta[0] == "list":
                key, strategy, item = meta[1], retain_strategy(meta[2]), meta[3]
            original[k] = merge_slice_handler(original[k], patch_v, item, strategy, key,
                                              is_delete_list)
    return original


def discard_nulls(value):
    """discardNullValuesFromPatch: nulls in a map value taken whole."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    return value


def apply_retain_keys(original, patch):
    if RETAIN_KEYS not in patch:
        return
    keys = patch.pop(RETAIN_KEYS)
    if not isinstance(keys, list):
        raise bad_request("invalid type for $retainKeys: expected a list")
    for k, v in patch.items():
        if v is None or k.startswith(DELETE_PREFIX) or k.startswith(ORDER_PREFIX):
            continue
        if k not in keys:
            raise bad_request("doesn't satisfy retainKeys: patch contains a field not in "
                              "$retainKeys")
    for k in list(original):
        if k not in keys:
            del original[k]


def merge_parallel_lists(original, patch, schema):
    """mergePatchIntoOriginal: each $setElementOrder/<field> with its list."""
    for directive in [k for k in patch if k.startswith(ORDER_PREFIX)]:
        order = patch.pop(directive)
        k = directive[len(ORDER_PREFIX):]
        if not isinstance(order, list):
            raise bad_request("invalid type for %s: expected a list" % directive)
        meta = field_meta(schema, k)
        key, strategy, item = ("", "", {})
        if meta and meta[0] == "list":
            key, strategy, item = meta[1], retain_strategy(meta[2]), meta[3]
        orig_v = original.get(k)
        patch_v = patch.get(k)
        if orig_v is not None and not isinstance(orig_v, list):
            raise bad_request("invalid type for %s: expected a list" % k)
        if patch_v is not None and not isinstance(patch_v, list):
            raise bad_request("invalid type for %s: expected a list" % k)
        check_order_list(patch_v or [], order, key)
        if orig_v is not None and patch_v is not None:
            merged = merge_slice_handler(orig_v, patch_v, item, strategy, key, False)
        elif orig_v is not None:
            merged = orig_v
        elif patch_v is not None:
            merged = patch_v
        else:
            continue
        in_patch, server_only = partition(merged, order, key)
        original[k] = normalize_element_order(in_patch, server_only, order, orig_v or [], key)
        patch.pop(k, None)


def check_order_list(patch_list, order, key):
    """validatePatchWithSetOrderList: the patch list's items (without
    directives) appear in the order list, in its order."""
    items = [p for p in patch_list if not (isinstance(p, dict) and MARKER in p)]
    positions = []
    for p in items:
        i = index_of(order, p, key)
        if i < 0:
            raise bad_request("The order in patch list:\n%s\n doesn't match "
                              "$setElementOrder list:\n%s\n" % (patch_list, order))
        positions.append(i)
    if positions != sorted(positions):
        raise bad_request("The order in patch list:\n%s\n doesn't match $setElementOrder "
                          "list:\n%s\n" % (patch_list, order))


def merge_slice_handler(original, patch, item_schema, strategy, key, is_delete_list):
    if strategy == "merge":
        return merge_slice(original, patch, item_schema, key, is_delete_list)
    return patch


def merge_slice(original, patch, item_schema, key, is_delete_list):
    if not original and not patch:
        return original
    maps = any(isinstance(v, dict) for v in original + patch)
    if not maps:
        if is_delete_list:
            return [v for v in original if v not in patch]
        merged = []
        for v in original + patch:
            if v not in merged:
                merged.append(v)
    else:
        if not key:
            raise bad_request("cannot merge lists without merge key")
        original, patch = merge_special_elements(original, patch, key)
        merged = list(original)
        for v in patch:
            if not isinstance(v, dict) or key not in v:
                raise ApiError(422, "Invalid", "map: %s does not contain declared merge key: %s"
                               % (v, key))
            i = find_by_key(merged, key, v[key])
            if i >= 0:
                merged[i] = merge_map(merged[i], v, item_schema)
            else:
                merged.append(v)
    in_patch, server_only = partition(merged, patch, key)
    return normalize_element_order(in_patch, server_only, patch, original, key)


def merge_special_elements(original, patch, key):
    """mergeSliceWithSpecialElements: $patch delete/replace elements."""
    rest, replace = [], False
    for v in patch:
        if not isinstance(v, dict):
            raise bad_request("invalid list element %r: expected a map" % (v,))
        directive = v.get(MARKER)
        if directive is None:
            rest.append(v)
        elif directive == "delete":
            if key not in v:
                raise ApiError(422, "Invalid", "map: %s does not contain declared merge key: "
                               "%s" % (v, key))
            original = [o for o in original if not (isinstance(o, dict) and
                                                    o.get(key) == v[key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise bad_request("merging lists cannot yet be specified in the patch")
        else:
            raise bad_request("Unknown patch type: %s in map: %s" % (directive, v))
    if replace:
        return rest, []
    return original, rest


def find_by_key(items, key, value):
    for i, o in enumerate(items):
        if isinstance(o, dict) and o.get(key) == value:
            return i
    return -1


def index_of(items, v, key):
    """index(): by merge key for maps, by value for scalars; -1 if absent."""
    for i, o in enumerate(items):
        if key and isinstance(v, dict) and isinstance(o, dict):
            if key in v and o.get(key) == v[key]:
                return i
        elif not key and o == v:
            return i
    return -1


def partition(merged, present, key):
    """partitionMapsByPresentInList / partitionPrimitivesByPresentInList."""
    in_patch, server_only = [], []
    for v in merged:
        (in_patch if index_of(present, v, key) >= 0 else server_only).append(v)
    return in_patch, server_only


def normalize_slice_order(to_sort, order, key):
    to_delete = []
    if any(isinstance(v, dict) for v in to_sort):
        keep = []
        for v in to_sort:
            (to_delete if isinstance(v, dict) and MARKER in v else keep).append(v)
        to_sort = keep
    # sort.SliceStable by the position in `order`. Every element is in
    # `order` where this is called (patch items by the patch or its
    # $setElementOrder, server-only ones by the live list), so the less
    # function is a consistent order and a stable sort by position is Go's.
    return sorted(to_sort, key=lambda v: index_of(order, v, key)) + to_delete


def normalize_element_order(in_patch, server_only, patch_order, server_order, key):
    in_patch = normalize_slice_order(in_patch, patch_order, key)
    server_only = normalize_slice_order(server_only, server_order, key)
    return merge_sorted_slice(server_only, in_patch, server_order, key)


def merge_sorted_slice(left, right, server_order, key):
    out, i, j = [], 0, 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = index_of(server_order, left[i], key), index_of(server_order, right[j], key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out
