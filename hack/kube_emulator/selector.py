"""Label and field selectors: parsing (400 on what a real server refuses) and
matching objects, plus the dotted-path lookup they and printer columns use."""

import json
import re

from .errors import bad_request


def get_path(obj, path):
    """Value at a dotted path ("spec.nodeName", "a.b[0].c"); None if absent."""
    cur = obj
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            idx = int(part[1:-1])
            if not isinstance(cur, list) or idx >= len(cur):
                return None
            cur = cur[idx]
        else:
            if not isinstance(cur, dict) or part not in cur:
                return None
            cur = cur[part]
    return cur


def field_string(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def split_unescaped(text, sep):
    parts, cur, i = [], "", 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur += c + text[i + 1]
            i += 2
            continue
        if c == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    return parts


def unescape_field_value(text):
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(text, rtype):
    """[(path, op, value)], op "=" or "!="."""
    terms = []
    if not text:
        return terms
    allowed = {"metadata.name", "metadata.namespace"} | set(rtype.selectable) | set(
        rtype.field_labels)
    for term in split_unescaped(text, ","):
        if not term:
            continue
        m = re.match(r"^([^=!]+)(==|!=|=)(.*)$", term)
        if not m:
            raise bad_request('invalid selector: "%s"; can\'t understand "%s"' % (text, term))
        path, op, value = m.group(1).strip(), m.group(2), unescape_field_value(m.group(3))
        if path not in allowed:
            raise bad_request('field label not supported: %s' % path)
        terms.append((path, "!=" if op == "!=" else "=", value))
    return terms


def field_value(obj, path):
    if path == "source":
        return field_string(get_path(obj, "source.component"))
    return field_string(get_path(obj, path))


def field_matches(obj, terms):
    for path, op, value in terms:
        actual = field_value(obj, path)
        if (actual == value) != (op == "="):
            return False
    return True


LABEL_TERM = re.compile(
    r"^\s*(?:(!)\s*([^\s!=<>(),]+)|([^\s!=<>(),]+)\s*(?:(==|=|!=|<|>)\s*([^\s(),]*)|"
    r"\s+(in|notin)\s*\(([^)]*)\))?)\s*$")


def parse_label_selector(text):
    """[(key, op, values)], op in exists, !exists, =, !=, in, notin, <, >."""
    terms = []
    if not text or not text.strip():
        return terms
    # Split on commas outside parentheses.
    parts, depth, cur = [], 0, ""
    for c in text:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    parts.append(cur)
    for part in parts:
        m = LABEL_TERM.match(part)
        if not m or (m.group(3) is None and m.group(2) is None):
            raise bad_request("unable to parse requirement: invalid label selector: %r" % text)
        if m.group(1):
            terms.append((m.group(2), "!exists", []))
        elif m.group(4):
            op = {"==": "=", "=": "=", "!=": "!=", "<": "<", ">": ">"}[m.group(4)]
            terms.append((m.group(3), op, [m.group(5)]))
        elif m.group(6):
            values = [v.strip() for v in m.group(7).split(",") if v.strip() or True]
            terms.append((m.group(3), m.group(6), values))
        else:
            terms.append((m.group(3), "exists", []))
    return terms


def labels_match(obj, terms):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for key, op, values in terms:
        has = key in labels
        val = labels.get(key)
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
        if op == "=" and val != values[0]:
            return False
        if op == "!=" and has and val == values[0]:
            return False
        if op == "in" and val not in values:
            return False
        if op == "notin" and has and val in values:
            return False
        if op in ("<", ">"):
            try:
                a, b = int(val), int(values[0])
            except (TypeError, ValueError):
                return False
            if (op == "<" and not a < b) or (op == ">" and not a > b):
                return False
    return True


class Selector:
    def __init__(self, rtype, namespace, label_text, field_text):
        self.namespace = namespace
        self.labels = parse_label_selector(label_text)
        self.fields = parse_field_selector(field_text, rtype)

    def matches(self, obj):
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        return labels_match(obj, self.labels) and field_matches(obj, self.fields)

