"""The store: every object in memory, the one global resourceVersion counter,
the registered types (built-in and from CRDs), and the write verbs with their
semantics (create, update, patch, delete; finalizers, generation, status
subresource, dryRun). Every commit feeds the watch history and open watchers.

One RLock guards everything; public methods take it, _commit expects it held.
"""

import collections
import copy
import json
import random
import threading
import uuid

from . import builtins, crd
from .decode import check_type_meta, decode, prepare
from .errors import ApiError, bad_request, conflict, invalid, not_found, qualified
from .patch import apply_merge, apply_patch
from .rbac import bootstrap_policy
from .resources import RBAC, builtin_types
from .timestamps import now_rfc3339
from .watch import CLOSE, Event, History, Watcher

PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")


class Store:
    def __init__(self, history_size):
        self.lock = threading.RLock()
        self.rv = 1
        self.history = History(history_size)
        self.types = {}        # (group, version, plural) -> ResourceType
        self.objects = {}      # (group, plural) -> {(namespace, name): object}
        self.watchers = set()
        for t in builtin_types():
            self.types[(t.group, t.version, t.plural)] = t
            self.objects.setdefault(t.key, {})
        ns = self.find("", "v1", "namespaces")
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(ns, None, {"metadata": {"name": name}}, {})
        for kind, obj in bootstrap_policy():
            self.create(self.type_for_kind(RBAC, kind), None, obj, {})

    # -- types --

    def find(self, group, version, plural):
        return self.types.get((group, version, plural))

    def groups(self):
        """{group: [versions]} in registration order; "" is the core group."""
        out = collections.OrderedDict()
        for (g, v, _) in self.types:
            out.setdefault(g, [])
            if v not in out[g]:
                out[g].append(v)
        return out

    def resources(self, group, version):
        return [t for (g, v, _), t in self.types.items() if g == group and v == version]

    def type_for_kind(self, group, kind):
        for (g, _, _), t in self.types.items():
            if g == group and t.kind == kind:
                return t
        return None

    # -- commits (lock held) --

    def _commit(self, rtype, etype, old, new):
        self.rv += 1
        new["metadata"]["resourceVersion"] = str(self.rv)
        store = self.objects.setdefault(rtype.key, {})
        key = (new["metadata"].get("namespace", ""), new["metadata"]["name"])
        if etype == "DELETED":
            store.pop(key, None)
        else:
            store[key] = new
        ev = Event(self.rv, rtype.key, etype, old, new)
        self.history.append(ev)
        for w in list(self.watchers):
            if w.rtype.key == rtype.key:
                w.offer(ev)
        if rtype.key == CRDS:
            self._sync_crd(old, new if etype != "DELETED" else None)
        if rtype.key == ("", "namespaces") and etype == "DELETED":
            for (g, p), objs in list(self.objects.items()):
                for (ns, name), obj in list(objs.items()):
                    if ns == new["metadata"]["name"]:
                        t = self._any_type(g, p)
                        if t:
                            gone_obj = copy.deepcopy(obj)
                            self._commit(t, "DELETED", obj, gone_obj)
        return new

    def _any_type(self, group, plural):
        for (g, _, p), t in self.types.items():
            if g == group and p == plural:
                return t
        return None

    def _sync_crd(self, old, new):
        """Registers or removes the resources a CRD defines."""
        if old is not None:
            group, plural = crd.crd_key(old)
            if new is None:
                t = self._any_type(group, plural)
                if t is not None:
                    for obj in list(self.objects.get(t.key, {}).values()):
                        self._commit(t, "DELETED", obj, copy.deepcopy(obj))
                self.objects.pop((group, plural), None)
            for key in [k for k in self.types if k[0] == group and k[2] == plural]:
                del self.types[key]
        if new is None:
            return
        for t in crd.crd_types(new):
            self.types[(t.group, t.version, t.plural)] = t
            self.objects.setdefault(t.key, {})

    # -- reads --

    def get(self, rtype, ns, name):
        with self.lock:
            obj = self.objects.get(rtype.key, {}).get((ns or "", name))
            if obj is None:
                raise not_found(rtype, name)
            return obj

    def _in_key_order(self, rtype):
        """A type's objects in the order of their storage keys
        (.../<namespace>/<name> or .../<name>), as etcd and the watch cache
        list them: "a-b/x" before "a/x"."""
        objs = self.objects.get(rtype.key, {})
        return [objs[k] for k in sorted(objs, key=lambda k: "%s/%s" % k if k[0] else k[1])]

    def list(self, rtype, selector, rv_param=None, rv_match=None):
        with self.lock:
            if rv_param and rv_match == "Exact" and rv_param != "0":
                self.history.check_rv(rv_param)
            items = [o for o in self._in_key_order(rtype) if selector.matches(o)]
            return items, str(self.rv)

    # -- writes --

    def _check_namespace(self, rtype, ns):
        if rtype.namespaced and (ns or "") not in [
                n for (_, n) in self.objects.get(("", "namespaces"), {})]:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                           {"name": ns, "kind": "namespaces"})

    def create(self, rtype, ns, body, params, warnings=None):
        warnings = [] if warnings is None else warnings
        obj = copy.deepcopy(body)
        check_type_meta(rtype, obj)
        decode(rtype, obj, params, warnings)
        meta = obj["metadata"]
        if rtype.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion"):
            raise ApiError(500, "InternalError", "Internal error occurred: resourceVersion "
                           "should not be set on objects to be created")
        with self.lock:
            self._check_namespace(rtype, ns)
            if not meta.get("name") and meta.get("generateName"):
                for _ in range(8):
                    name = meta["generateName"] + "".join(
                        random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
                    if (ns or "", name) not in self.objects.get(rtype.key, {}):
                        break
                meta["name"] = name
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields",
                      "selfLink"):
                meta.pop(f, None)
            if rtype.generation:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            if rtype.status and rtype.kind not in ("Node",):
                obj.pop("status", None)
            if rtype.kind == "Namespace":
                obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
                obj["status"] = {"phase": "Active"}
            builtins.on_create(rtype, obj)
            prepare(rtype, obj, params, warnings)
            if rtype.kind == "CustomResourceDefinition" and rtype.builtin:
                crd.crd_status(obj)
            if (ns or "", meta["name"]) in self.objects.get(rtype.key, {}):
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists'
                               % (qualified(rtype), meta["name"]),
                               {"name": meta["name"], "group": rtype.group,
                                "kind": rtype.plural})
            if params.get("dryRun"):
                return obj
            return self._commit(rtype, "ADDED", None, obj)

    def update(self, rtype, ns, name, body, params, subresource=None, warnings=None,
               patched=False):
        warnings = [] if warnings is None else warnings
        with self.lock:
            old = self.get(rtype, ns, name)
            obj = copy.deepcopy(body)
            check_type_meta(rtype, obj)
            decode(rtype, obj, params, warnings)
            meta = obj["metadata"]
            if meta.get("name") and meta["name"] != name:
                raise bad_request("the name of the object (%s) does not match the name on "
                                  "the URL (%s)" % (meta["name"], name))
            if rtype.namespaced and meta.get("namespace") and meta["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            rv = meta.get("resourceVersion")
            if not rv and not rtype.builtin and not patched:
                raise invalid(rtype, name, [("FieldValueInvalid", "metadata.resourceVersion",
                                             "Invalid value: 0x0: must be specified for an "
                                             "update")])
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise conflict(rtype, name)
            old_meta = old["metadata"]
            if subresource == "status":
                new = copy.deepcopy(old)
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
            else:
                new = obj
                if rtype.status:
                    if "status" in old:
                        new["status"] = copy.deepcopy(old["status"])
                    else:
                        new.pop("status", None)
            nm = new["metadata"]
            nm["name"] = name
            if rtype.namespaced:
                nm["namespace"] = ns
            else:
                nm.pop("namespace", None)
            for f in ("uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation"):
                if f in old_meta:
                    nm[f] = old_meta[f]
                else:
                    nm.pop(f, None)
            nm.pop("managedFields", None)
            nm["resourceVersion"] = old_meta["resourceVersion"]
            builtins.on_update(rtype, old, new)
            prepare(rtype, new, params, warnings)
            if old_meta.get("deletionTimestamp"):
                added = set(nm.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
                if added:
                    raise invalid(rtype, name, [(
                        "FieldValueForbidden", "metadata.finalizers",
                        "Forbidden: no new finalizers can be added if the object is being "
                        "deleted, found new finalizers %s" % json.dumps(sorted(added)))])
            if "generation" in old_meta:
                strip = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status")}
                if strip(old) != strip(new):
                    nm["generation"] = old_meta["generation"] + 1
            if rtype.kind == "CustomResourceDefinition" and rtype.builtin and subresource is None:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                    new["status"]["acceptedNames"] = new["spec"]["names"]
                else:
                    crd.crd_status(new)
            if new == old:
                return old
            if params.get("dryRun"):
                return new
            if nm.get("deletionTimestamp") and not nm.get("finalizers"):
                # As the registry's deleteWithoutFinalizers: the stored object
                # is deleted as it was (the DELETED event carries it, its
                # finalizers still listed); the answer is the updated object.
                self._commit(rtype, "DELETED", old, copy.deepcopy(old))
                return new
            return self._commit(rtype, "MODIFIED", old, new)

    def patch(self, rtype, ns, name, content_type, patch, params, subresource=None,
              warnings=None):
        with self.lock:
            if content_type == "application/apply-patch+yaml":
                if not params.get("fieldManager"):
                    raise bad_request("PATCH, application/apply-patch+yaml requires "
                                      "fieldManager to be set")
                if not isinstance(patch, dict):
                    raise bad_request("the applied configuration must be an object")
                try:
                    old = self.get(rtype, ns, name)
                except ApiError as e:
                    if e.code != 404 or subresource:
                        raise
                    body = copy.deepcopy(patch)
                    body.setdefault("metadata", {})["name"] = name
                    return self.create(rtype, ns, body, params, warnings), True
                new = apply_merge(old, patch)
            else:
                old = self.get(rtype, ns, name)
                new = apply_patch(old, content_type, patch, rtype)
            if not isinstance(new, dict):
                raise bad_request("the patched object must be a JSON object")
            return self.update(rtype, ns, name, new, params, subresource, warnings,
                               patched=True), False

    def delete(self, rtype, ns, name, options, params):
        with self.lock:
            old = self.get(rtype, ns, name)
            pre = (options or {}).get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
                raise ApiError(409, "Conflict",
                               'Operation cannot be fulfilled on %s "%s": Precondition failed: '
                               "UID in precondition: %s, UID in object meta: %s"
                               % (qualified(rtype), name, pre["uid"], old["metadata"]["uid"]),
                               {"name": name, "group": rtype.group, "kind": rtype.plural})
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"][
                    "resourceVersion"]:
                raise conflict(rtype, name)
            if rtype.kind == "Namespace" and name in PROTECTED_NAMESPACES:
                raise ApiError(403, "Forbidden", 'namespaces "%s" is forbidden: this namespace '
                               "may not be deleted" % name,
                               {"name": name, "kind": "namespaces"})
            dry = params.get("dryRun") or (options or {}).get("dryRun")
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return old, False
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                # markAsDeleting: a kept generation counts the deletion.
                if new["metadata"].get("generation", 0) > 0:
                    new["metadata"]["generation"] += 1
                if dry:
                    return new, False
                return self._commit(rtype, "MODIFIED", old, new), False
            if dry:
                return old, True
            return self._commit(rtype, "DELETED", old, copy.deepcopy(old)), True

    # -- watches --

    def watch(self, rtype, selector, rv_param, send_initial):
        """Registers a watcher; initial events are queued before later ones."""
        with self.lock:
            w = Watcher(rtype, selector)
            if send_initial or rv_param in (None, "", "0"):
                for obj in self._in_key_order(rtype):
                    if selector.matches(obj):
                        w.q.put(("ADDED", obj))
                if send_initial:
                    w.q.put(("BOOKMARK", self.bookmark(rtype, initial_end=True)))
            else:
                try:
                    rv = self.history.check_rv(rv_param)
                except ApiError as e:
                    if e.code != 410:
                        raise
                    w.q.put(("ERROR", e.status()))
                    w.q.put(CLOSE)
                    return w
                for ev in self.history.since(rv, rtype.key):
                    w.offer(ev)
            self.watchers.add(w)
            return w

    def bookmark(self, rtype, initial_end=False):
        meta = {"resourceVersion": str(self.rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta}

    def unwatch(self, w):
        with self.lock:
            self.watchers.discard(w)

    def drop_watches(self):
        with self.lock:
            for w in list(self.watchers):
                w.q.put(CLOSE)
            self.watchers.clear()

    def compact(self):
        with self.lock:
            self.rv += 1
            self.history.compact(self.rv)
            return self.rv

