"""Label and field selectors: parsing, refusals and matching."""

import unittest

from kube_emulator.errors import ApiError
from kube_emulator.resources import ResourceType, builtin_types
from kube_emulator.selector import (Selector, get_path, labels_match, parse_field_selector,
                                    parse_label_selector)

EVENTS = [t for t in builtin_types() if t.plural == "events"][0]
NC = ResourceType("berth.dev", "v1alpha1", "nodecontainers", "nodecontainer", "NodeContainer",
                  True, selectable=["spec.nodeName"], builtin=False)


def obj(name, labels=None, namespace="default", **rest):
    out = {"metadata": {"name": name, "namespace": namespace}}
    if labels is not None:
        out["metadata"]["labels"] = labels
    out.update(rest)
    return out


class LabelSelectorTest(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(parse_label_selector(""), [])
        self.assertEqual(parse_label_selector("  "), [])
        self.assertEqual(parse_label_selector("a=b,c==d,e!=f"),
                         [("a", "=", ["b"]), ("c", "=", ["d"]), ("e", "!=", ["f"])])
        self.assertEqual(parse_label_selector("x in (1, 2),y notin (3),z,!w"),
                         [("x", "in", ["1", "2"]), ("y", "notin", ["3"]), ("z", "exists", []),
                          ("w", "!exists", [])])
        self.assertEqual(parse_label_selector("n<5,m>2"), [("n", "<", ["5"]), ("m", ">", ["2"])])

    def test_refused(self):
        for text in ("a==(b", "=b", "a b"):
            with self.assertRaises(ApiError) as cm:
                parse_label_selector(text)
            self.assertEqual(cm.exception.code, 400, text)
            self.assertIn("unable to parse requirement", cm.exception.message)

    def test_match(self):
        o = obj("a", {"app": "web", "tier": "1", "n": "4"})
        for text, want in (("app=web", True), ("app!=web", False), ("app!=db", True),
                           ("other!=x", True), ("app in (db,web)", True),
                           ("app notin (web)", False), ("other notin (web)", True),
                           ("app", True), ("!app", False), ("!other", True),
                           ("n<5", True), ("n>4", False), ("app<5", False),
                           ("app=web,tier=2", False)):
            self.assertEqual(labels_match(o, parse_label_selector(text)), want, text)
        self.assertFalse(labels_match(obj("b"), parse_label_selector("app")))


class FieldSelectorTest(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(parse_field_selector("", NC), [])
        self.assertEqual(parse_field_selector("metadata.name=a,spec.nodeName!=n1", NC),
                         [("metadata.name", "=", "a"), ("spec.nodeName", "!=", "n1")])
        self.assertEqual(parse_field_selector(r"metadata.name==a\,b", NC),
                         [("metadata.name", "=", "a,b")])

    def test_refused(self):
        with self.assertRaises(ApiError) as cm:
            parse_field_selector("spec.image=x", NC)
        self.assertEqual((cm.exception.code, cm.exception.message),
                         (400, "field label not supported: spec.image"))
        with self.assertRaises(ApiError) as cm:
            parse_field_selector("metadata.name", NC)
        self.assertIn("invalid selector", cm.exception.message)

    def test_builtin_field_labels(self):
        ev = obj("e", involvedObject={"kind": "NodeContainer", "name": "x"}, reason="Started",
                 source={"component": "berthd"})
        sel = Selector(EVENTS, "default", "",
                       "involvedObject.kind=NodeContainer,reason=Started,source=berthd")
        self.assertTrue(sel.matches(ev))
        self.assertFalse(Selector(EVENTS, "other", "", "").matches(ev))
        self.assertFalse(Selector(EVENTS, None, "", "type=Warning").matches(ev))
        # An absent field selects as the empty string.
        self.assertTrue(Selector(EVENTS, None, "", "type=").matches(ev))
        self.assertFalse(Selector(EVENTS, None, "", "").matches(None))

    def test_get_path(self):
        o = {"a": {"b": [{"c": 1}, {"c": 2}]}}
        self.assertEqual(get_path(o, "a.b[1].c"), 2)
        self.assertIsNone(get_path(o, "a.b[2].c"))
        self.assertIsNone(get_path(o, "a.x"))
        self.assertEqual(get_path(o, "a.b"), [{"c": 1}, {"c": 2}])


if __name__ == "__main__":
    unittest.main()
