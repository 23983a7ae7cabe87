"""meta.k8s.io/v1 Tables (`kubectl get` output): columns from a built-in
type's printer (printers.py) or a CRD's printer columns, rows of cells,
PartialObjectMetadata or the object itself."""

import datetime
import json

from .printers import printer
from .schema import is_int
from .selector import get_path
from .timestamps import human_duration, parse_rfc3339


def cell_for(column, obj, now):
    value = get_path(obj, column["jsonPath"].lstrip("."))
    if value is None:
        return None
    if column.get("type") == "date":
        ts = parse_rfc3339(value) if isinstance(value, str) else None
        return human_duration((now - ts).total_seconds()) if ts else "<invalid>"
    if column.get("type") == "integer" and is_int(value):
        return value
    if column.get("type") == "boolean" and isinstance(value, bool):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value if isinstance(value, (int, float, bool)) else str(value)


def table_columns(rtype):
    cols = [{"name": "Name", "type": "string", "format": "name", "priority": 0,
             "description": "Name must be unique within a namespace."}]
    custom = rtype.columns
    for c in custom:
        cols.append({"name": c["name"], "type": c.get("type", "string"),
                     "format": c.get("format", ""), "description": c.get("description", ""),
                     "priority": c.get("priority", 0)})
    if not any(c.get("type") == "date" for c in custom) and (rtype.builtin or not custom):
        cols.append({"name": "Age", "type": "string", "format": "", "priority": 0,
                     "description": "CreationTimestamp is a timestamp representing the "
                                    "server time when this object was created."})
    return cols


def table_row(rtype, obj, include, now):
    cells = [obj["metadata"].get("name")]
    for c in rtype.columns:
        cells.append(cell_for(c, obj, now))
    if not any(c.get("type") == "date" for c in rtype.columns) and (
            rtype.builtin or not rtype.columns):
        cells.append(cell_for({"jsonPath": ".metadata.creationTimestamp", "type": "date"},
                              obj, now))
    row = {"cells": cells}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj["metadata"]}
    return row


def row_object(obj, include):
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"]}


def make_table(rtype, objs, rv, include, with_columns=True):
    """A Table of objs: a built-in type's printer (printers.py), else the
    CRD's printer columns."""
    now = datetime.datetime.now(datetime.timezone.utc)
    builtin = printer(rtype)
    if builtin is not None:
        columns, row_of = builtin
        rows = []
        for o in objs:
            row = {"cells": row_of(o, now)}
            if include != "None":
                row["object"] = row_object(o, include)
            rows.append(row)
    else:
        columns = table_columns(rtype)
        rows = [table_row(rtype, o, include, now) for o in objs]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
            "columnDefinitions": columns if with_columns else [], "rows": rows}
