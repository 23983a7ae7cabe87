"""Impersonation (the Impersonate-User and Impersonate-Group headers, as the
apiserver's impersonation filter checks them) and the authorization.k8s.io/v1
access reviews: SelfSubjectAccessReview (what `kubectl auth can-i` creates)
and SubjectAccessReview, answered by the same RBAC decision requests get."""

import copy

from .errors import bad_request
from .rbac import Attributes, authorize, forbidden
from .tokens import User, service_account_user

AUTHORIZATION = "authorization.k8s.io"
SA_PREFIX = "system:serviceaccount:"


def with_authenticated(name, groups):
    """The impersonation filter's rule: a non-anonymous user is in
    system:authenticated unless the groups say (un)authenticated already."""
    groups = list(groups)
    if name != "system:anonymous" and not {"system:authenticated",
                                           "system:unauthenticated"} & set(groups):
        groups.append("system:authenticated")
    return groups


def impersonate(store, user, headers):
    """The user a request acts as: user itself without Impersonate-*
    headers; else the impersonated one, once user may `impersonate` it and
    each group (403 otherwise). The caller holds store.lock."""
    name = headers.get("Impersonate-User", "")
    groups = headers.get_all("Impersonate-Group") or []
    if not name:
        if groups:
            raise bad_request("requested %s without impersonating a user" % groups)
        return user
    checks = []
    if name.startswith(SA_PREFIX) and name.count(":") == 3:
        ns, sa = name[len(SA_PREFIX):].split(":")
        checks.append(Attributes("impersonate", "", True, "", "v1", "serviceaccounts", "", ns,
                                 sa))
        if not groups:
            groups = service_account_user(ns, sa).groups[:-1]
    else:
        checks.append(Attributes("impersonate", "", True, "", "v1", "users", "", "", name))
    for g in groups:
        checks.append(Attributes("impersonate", "", True, "", "v1", "groups", "", "", g))
    for a in checks:
        allowed, reason = authorize(store, user, a)
        if not allowed:
            raise forbidden(user, a, reason)
    return User(name, with_authenticated(name, groups))


def review_attributes(spec):
    """The Attributes a review's spec asks about."""
    if not isinstance(spec, dict):
        raise bad_request("spec must be an object")
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(res) == bool(non):
        raise bad_request("exactly one of nonResourceAttributes or resourceAttributes must be "
                          "specified")
    if non:
        return Attributes(non.get("verb", ""), non.get("path", ""))
    return Attributes(res.get("verb", ""), "", True, res.get("group", ""),
                      res.get("version", ""), res.get("resource", ""),
                      res.get("subresource", ""), res.get("namespace", ""), res.get("name", ""))


def access_review(store, user, kind, body):
    """Answers a SelfSubjectAccessReview for user, or a SubjectAccessReview
    for the spec's user and groups: the body with its status."""
    if not isinstance(body, dict):
        raise bad_request("the body of the request must be a %s" % kind)
    out = copy.deepcopy(body)
    out["kind"], out["apiVersion"] = kind, AUTHORIZATION + "/v1"
    out.setdefault("metadata", {})["creationTimestamp"] = None
    spec = out.get("spec") or {}
    attributes = review_attributes(spec)
    if kind == "SubjectAccessReview":
        if not spec.get("user") and not spec.get("groups"):
            raise bad_request("at least one of user or group must be specified")
        subject = User(spec.get("user", ""), spec.get("groups") or [])
    else:
        subject = user
    with store.lock:
        allowed, reason = authorize(store, subject, attributes)
    out["status"] = {"allowed": allowed}
    if reason:
        out["status"]["reason"] = reason
    return out
