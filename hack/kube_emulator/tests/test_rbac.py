"""RBAC as the apiserver's authorizer does it, and ServiceAccount tokens."""

import unittest

from kube_emulator.rbac import authorize, forbidden, request_attributes, rule_allows
from kube_emulator.resources import RBAC
from kube_emulator.store import Store
from kube_emulator.tokens import TokenIssuer, authenticate_token, service_account_user


def attrs(method, path, **params):
    return request_attributes(method, path, params)


class RequestAttributesTest(unittest.TestCase):
    def test_resource_requests(self):
        a = attrs("GET", "/apis/berth.dev/v1alpha1/nodecontainers")
        self.assertEqual((a.verb, a.group, a.resource, a.namespace, a.name),
                         ("list", "berth.dev", "nodecontainers", "", ""))
        a = attrs("GET", "/apis/berth.dev/v1alpha1/nodecontainers", watch="true")
        self.assertEqual(a.verb, "watch")
        a = attrs("GET", "/apis/berth.dev/v1alpha1/watch/namespaces/ns/nodecontainers/x")
        self.assertEqual((a.verb, a.namespace, a.name), ("watch", "ns", "x"))
        a = attrs("PUT", "/apis/berth.dev/v1alpha1/namespaces/ns/nodecontainers/x/status")
        self.assertEqual((a.verb, a.resource, a.subresource, a.name),
                         ("update", "nodecontainers", "status", "x"))
        a = attrs("DELETE", "/api/v1/namespaces/ns/secrets")
        self.assertEqual((a.verb, a.group, a.namespace), ("deletecollection", "", "ns"))
        a = attrs("GET", "/api/v1/nodes", fieldSelector="metadata.name=node-a")
        self.assertEqual((a.verb, a.name), ("list", "node-a"))
        a = attrs("GET", "/api/v1/namespaces/ns")
        self.assertEqual((a.resource, a.namespace, a.name), ("namespaces", "ns", "ns"))
        a = attrs("PUT", "/api/v1/namespaces/ns/finalize")
        self.assertEqual((a.resource, a.name, a.subresource), ("namespaces", "ns", "finalize"))
        a = attrs("POST", "/api/v1/namespaces/ns/serviceaccounts/sa/token")
        self.assertEqual((a.verb, a.resource, a.subresource), ("create", "serviceaccounts",
                                                               "token"))

    def test_non_resource_requests(self):
        for path in ("/api", "/api/v1", "/apis/apps", "/apis/apps/v1", "/version",
                     "/openapi/v3"):
            a = attrs("GET", path)
            self.assertFalse(a.resource_request, path)
            self.assertEqual(a.verb, "get")


class RulesTest(unittest.TestCase):
    def test_rule_allows(self):
        a = attrs("PUT", "/apis/berth.dev/v1alpha1/namespaces/ns/nodecontainers/x/status")
        self.assertTrue(rule_allows(a, {"apiGroups": ["berth.dev"],
                                        "resources": ["nodecontainers/status"],
                                        "verbs": ["update"]}))
        self.assertTrue(rule_allows(a, {"apiGroups": ["*"], "resources": ["*/status"],
                                        "verbs": ["*"]}))
        self.assertFalse(rule_allows(a, {"apiGroups": ["berth.dev"],
                                         "resources": ["nodecontainers"], "verbs": ["update"]}))
        self.assertFalse(rule_allows(a, {"apiGroups": ["berth.dev"],
                                         "resources": ["nodecontainers/status"],
                                         "verbs": ["update"], "resourceNames": ["y"]}))
        self.assertTrue(rule_allows(attrs("GET", "/healthz/etcd"),
                                    {"nonResourceURLs": ["/healthz/*"], "verbs": ["get"]}))
        self.assertFalse(rule_allows(attrs("GET", "/healthz/etcd"),
                                     {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}))

    def test_bindings_and_the_forbidden_message(self):
        store = Store(100)
        user = service_account_user("berth-system", "berth")
        a = attrs("GET", "/apis/berth.dev/v1alpha1/nodecontainers")
        allowed, reason = authorize(store, user, a)
        self.assertEqual((allowed, reason), (False, ""))
        self.assertEqual(forbidden(user, a).message,
                         'nodecontainers.berth.dev is forbidden: User "system:serviceaccount:'
                         'berth-system:berth" cannot list resource "nodecontainers" in API '
                         'group "berth.dev" at the cluster scope')
        self.assertTrue(authorize(store, user, attrs("GET", "/apis"))[0])
        crb = store.find(RBAC, "v1", "clusterrolebindings")
        store.create(crb, None, {"metadata": {"name": "b"}, "roleRef": {
            "apiGroup": RBAC, "kind": "ClusterRole", "name": "r"}, "subjects": [
            {"kind": "ServiceAccount", "name": "berth", "namespace": "berth-system"}]}, {})
        allowed, reason = authorize(store, user, a)
        self.assertEqual((allowed, reason),
                         (False, 'RBAC: clusterrole.rbac.authorization.k8s.io "r" not found'))
        store.create(store.find(RBAC, "v1", "clusterroles"), None, {
            "metadata": {"name": "r"}, "rules": [{"apiGroups": ["berth.dev"],
                                                  "resources": ["nodecontainers"],
                                                  "verbs": ["list"]}]}, {})
        self.assertTrue(authorize(store, user, a)[0])
        self.assertFalse(authorize(store, service_account_user("other", "berth"), a)[0])


class TokensTest(unittest.TestCase):
    def test_issue_and_authenticate(self):
        now = [1000.0]
        issuer = TokenIssuer(key=b"k" * 32, clock=lambda: now[0])
        store = Store(100)
        sa = store.create(store.find("", "v1", "serviceaccounts"), "default",
                          {"metadata": {"name": "sa"}}, {})
        token, expiry = issuer.issue("default", "sa", sa["metadata"]["uid"],
                                     ["https://kubernetes.default.svc.cluster.local"], 600)
        self.assertEqual(expiry, 1600)
        user = authenticate_token(issuer, store, token)
        self.assertEqual(user.name, "system:serviceaccount:default:sa")
        self.assertEqual(user.groups, ["system:serviceaccounts", "system:serviceaccounts:default",
                                       "system:authenticated"])
        self.assertIsNone(authenticate_token(TokenIssuer(key=b"x" * 32), store, token))
        self.assertIsNone(authenticate_token(issuer, store, token[:-2] + "xx"))
        other, _ = issuer.issue("default", "sa", sa["metadata"]["uid"], ["other"], 600)
        self.assertIsNone(authenticate_token(issuer, store, other))
        now[0] = 1600.0
        self.assertIsNone(authenticate_token(issuer, store, token))


if __name__ == "__main__":
    unittest.main()
