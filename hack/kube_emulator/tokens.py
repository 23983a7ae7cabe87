"""ServiceAccount tokens: what `POST .../serviceaccounts/NAME/token`
(TokenRequest, `kubectl create token`) issues, and the authentication of a
bearer token as its ServiceAccount.

The tokens are JWTs with the claims a real API server's bound tokens carry
(iss, sub "system:serviceaccount:NS:NAME", aud, exp, iat, nbf and the
kubernetes.io claim naming the namespace and the account's name and uid),
signed with HS256 by a key made at start (a real server signs with RS256 or
ES256 and publishes its keys). A token authenticates while it has not
expired, names the API audience and its ServiceAccount still exists with the
same uid, as the apiserver's bound-token validator checks.
"""

import base64
import hashlib
import hmac
import json
import os
import time

from .errors import bad_request, invalid
from .resources import ResourceType
from .timestamps import now_rfc3339

ISSUER = "https://kubernetes.default.svc.cluster.local"
AUDIENCE = ISSUER
DEFAULT_SECONDS = 3600
MIN_SECONDS = 600


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class User:
    """An authenticated request's user: name and groups."""

    def __init__(self, name, groups):
        self.name = name
        self.groups = list(groups)

    def __repr__(self):
        return "User(%r, %r)" % (self.name, self.groups)


ADMIN = User("kube-emulator-admin", ["system:masters", "system:authenticated"])
ANONYMOUS = User("system:anonymous", ["system:unauthenticated"])


def service_account_user(namespace, name):
    return User("system:serviceaccount:%s:%s" % (namespace, name),
                ["system:serviceaccounts", "system:serviceaccounts:" + namespace,
                 "system:authenticated"])


class TokenIssuer:
    def __init__(self, key=None, clock=time.time):
        self.key = key or os.urandom(32)
        self.clock = clock

    def _sign(self, signing_input):
        return b64url(hmac.new(self.key, signing_input.encode(), hashlib.sha256).digest())

    def issue(self, namespace, name, uid, audiences, seconds):
        """A token for ServiceAccount namespace/name (uid) and its expiry (a Unix time)."""
        now = int(self.clock())
        claims = {"aud": list(audiences), "exp": now + seconds, "iat": now, "iss": ISSUER,
                  "nbf": now, "sub": "system:serviceaccount:%s:%s" % (namespace, name),
                  "kubernetes.io": {"namespace": namespace,
                                    "serviceaccount": {"name": name, "uid": uid}}}
        header = b64url(json.dumps({"alg": "HS256", "kid": "kube-emulator"}).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = header + "." + payload
        return signing_input + "." + self._sign(signing_input), now + seconds

    def claims(self, token):
        """The claims of a token this issuer signed that is valid now; None
        for anything else (not a JWT, another signature, expired, not yet
        valid, not for the API audience)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        if not hmac.compare_digest(self._sign(parts[0] + "." + parts[1]), parts[2]):
            return None
        try:
            claims = json.loads(b64url_decode(parts[1]))
        except ValueError:
            return None
        now = self.clock()
        if not isinstance(claims, dict) or claims.get("iss") != ISSUER:
            return None
        if not now < claims.get("exp", 0) or claims.get("nbf", 0) > now + 60:
            return None
        if AUDIENCE not in (claims.get("aud") or []):
            return None
        return claims


def authenticate_token(issuer, store, token):
    """The User of a valid ServiceAccount token whose account still exists
    with the uid it was issued for; None otherwise."""
    claims = issuer.claims(token)
    if claims is None:
        return None
    k = claims.get("kubernetes.io") or {}
    ns, sa = k.get("namespace", ""), (k.get("serviceaccount") or {})
    with store.lock:
        obj = store.objects.get(("", "serviceaccounts"), {}).get((ns, sa.get("name", "")))
        if obj is None or obj["metadata"].get("uid") != sa.get("uid"):
            return None
    return service_account_user(ns, sa["name"])


def token_request(issuer, store, ns, name, body):
    """Serves POST .../serviceaccounts/NAME/token: the TokenRequest answered,
    with its status.token. 404 when the ServiceAccount does not exist, 422
    for an expiration outside [10 minutes, 2^32 seconds]."""
    sa_type = store.find("", "v1", "serviceaccounts")
    if not isinstance(body, dict):
        raise bad_request("the body of the request must be a TokenRequest")
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if (kind and kind != "TokenRequest") or (
            api_version and api_version != "authentication.k8s.io/v1"):
        raise bad_request("%s %s is not a TokenRequest" % (api_version, kind))
    sa = store.get(sa_type, ns, name)
    spec = dict(body.get("spec") or {})
    seconds = spec.get("expirationSeconds")
    seconds = DEFAULT_SECONDS if seconds is None else seconds
    if not isinstance(seconds, int):
        raise bad_request("spec.expirationSeconds must be an integer")
    token_type = ResourceType("authentication.k8s.io", "v1", "token", "", "TokenRequest", True)
    if seconds < MIN_SECONDS:
        raise invalid(token_type, name, [("FieldValueInvalid", "spec.expirationSeconds",
                                          "Invalid value: %d: may not specify a duration "
                                          "less than 10 minutes" % seconds)])
    if seconds > 1 << 32:
        raise invalid(token_type, name, [("FieldValueInvalid", "spec.expirationSeconds",
                                          "Invalid value: %d: may not specify a duration "
                                          "larger than 2^32 seconds" % seconds)])
    audiences = spec.get("audiences") or [AUDIENCE]
    token, expiry = issuer.issue(ns, name, sa["metadata"]["uid"], audiences, seconds)
    spec.update({"audiences": audiences, "expirationSeconds": seconds})
    spec.setdefault("boundObjectRef", None)
    return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": now_rfc3339()},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry))}}
