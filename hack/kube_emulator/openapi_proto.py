"""The /openapi/v2 document in protobuf: gnostic's openapi.v2.Document
(github.com/google/gnostic-models openapiv2/OpenAPIv2.proto), what
kube-openapi serves for `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
(ToProtoBinary) and what client-go's discovery OpenAPISchema() decodes.

Only the parts of the proto the emulator's Swagger documents use are in the
tables below (field numbers from OpenAPIv2.proto); a key they lack raises
ValueError rather than being dropped. Vendor extensions (x-*) are NamedAny
whose Any carries the value as YAML text (JSON is YAML), as gnostic writes
them and kube-openapi's proto parser reads them back.
"""

import json
import struct


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_bytes(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_varint(number, n):
    return varint(number << 3) + varint(n & 0xFFFFFFFFFFFFFFFF)


def field_double(number, x):
    return varint(number << 3 | 1) + struct.pack("<d", float(x))


def named_any(name, value):
    yaml = json.dumps(value, sort_keys=True)
    return field_bytes(1, name.encode()) + field_bytes(2, field_bytes(2, yaml.encode()))


# message -> {json key: (field number, kind)}; kind: "string", "bool",
# "int64", "double", "strings" (repeated string), "any", "anys" (repeated
# Any), or a message name; "[Msg]" is a repeated message.
SCHEMA_FIELDS = {
    "$ref": (1, "string"), "format": (2, "string"), "title": (3, "string"),
    "description": (4, "string"), "default": (5, "any"), "multipleOf": (6, "double"),
    "maximum": (7, "double"), "exclusiveMaximum": (8, "bool"), "minimum": (9, "double"),
    "exclusiveMinimum": (10, "bool"), "maxLength": (11, "int64"), "minLength": (12, "int64"),
    "pattern": (13, "string"), "maxItems": (14, "int64"), "minItems": (15, "int64"),
    "uniqueItems": (16, "bool"), "maxProperties": (17, "int64"),
    "minProperties": (18, "int64"), "required": (19, "strings"), "enum": (20, "anys"),
    "additionalProperties": (21, "AdditionalPropertiesItem"), "type": (22, "TypeItem"),
    "items": (23, "ItemsItem"), "allOf": (24, "[Schema]"), "properties": (25, "Properties"),
    "discriminator": (26, "string"), "readOnly": (27, "bool"), "example": (30, "any"),
}
PRIMITIVE_PARAM_FIELDS = {  # QueryParameterSubSchema and PathParameterSubSchema
    "query": {"required": (1, "bool"), "in": (2, "string"), "description": (3, "string"),
              "name": (4, "string"), "type": (6, "string"), "format": (7, "string"),
              "uniqueItems": (20, "bool")},
    "path": {"required": (1, "bool"), "in": (2, "string"), "description": (3, "string"),
             "name": (4, "string"), "type": (5, "string"), "format": (6, "string"),
             "uniqueItems": (19, "bool")},
}
MESSAGES = {
    "Document": ({"swagger": (1, "string"), "info": (2, "Info"), "host": (3, "string"),
                  "basePath": (4, "string"), "schemes": (5, "strings"),
                  "consumes": (6, "strings"), "produces": (7, "strings"),
                  "paths": (8, "Paths"), "definitions": (9, "Definitions"),
                  "security": (12, "[SecurityRequirement]"),
                  "securityDefinitions": (13, "SecurityDefinitions")}, 16),
    "Info": ({"title": (1, "string"), "version": (2, "string"),
              "description": (3, "string")}, 7),
    "Schema": (SCHEMA_FIELDS, 31),
    "Operation": ({"tags": (1, "strings"), "summary": (2, "string"),
                   "description": (3, "string"), "operationId": (5, "string"),
                   "produces": (6, "strings"), "consumes": (7, "strings"),
                   "parameters": (8, "[ParametersItem]"), "responses": (9, "Responses"),
                   "schemes": (10, "strings"), "deprecated": (11, "bool")}, 13),
    "PathItem": ({"$ref": (1, "string"), "get": (2, "Operation"), "put": (3, "Operation"),
                  "post": (4, "Operation"), "delete": (5, "Operation"),
                  "options": (6, "Operation"), "head": (7, "Operation"),
                  "patch": (8, "Operation"), "parameters": (9, "[ParametersItem]")}, 10),
    "BodyParameter": ({"description": (1, "string"), "name": (2, "string"),
                       "in": (3, "string"), "required": (4, "bool"),
                       "schema": (5, "Schema")}, 6),
    "Response": ({"description": (1, "string"), "schema": (2, "SchemaItem")}, 5),
    "ApiKeySecurity": ({"type": (1, "string"), "name": (2, "string"), "in": (3, "string"),
                        "description": (4, "string")}, 5),
}


def encode_message(name, value, where):
    """A message of MESSAGES (or one of the special forms) from its JSON form."""
    special = SPECIAL.get(name)
    if special:
        return special(value, where)
    fields, vendor = MESSAGES[name]
    out = bytearray()
    for key, v in value.items():
        if key.startswith("x-"):
            out += field_bytes(vendor, named_any(key, v))
            continue
        if key not in fields:
            raise ValueError("%s: %s has no field %r in the OpenAPI v2 protobuf tables"
                             % (where, name, key))
        number, kind = fields[key]
        out += encode_field(number, kind, v, "%s.%s" % (where, key))
    return bytes(out)


def encode_field(number, kind, v, where):
    if kind == "string":
        return field_bytes(number, str(v).encode())
    if kind == "bool":
        return field_varint(number, 1) if v else b""
    if kind == "int64":
        return field_varint(number, int(v))
    if kind == "double":
        return field_double(number, v)
    if kind == "strings":
        return b"".join(field_bytes(number, str(s).encode()) for s in v)
    if kind == "any":
        return field_bytes(number, field_bytes(2, json.dumps(v, sort_keys=True).encode()))
    if kind == "anys":
        return b"".join(encode_field(number, "any", x, where) for x in v)
    if kind.startswith("["):
        return b"".join(field_bytes(number, encode_message(kind[1:-1], x, "%s[%d]" % (where, i)))
                        for i, x in enumerate(v))
    return field_bytes(number, encode_message(kind, v, where))


def named(message):
    """A map in JSON as repeated Named<message> {name = 1; value = 2} at field 1."""
    def encode(value, where):
        return b"".join(field_bytes(1, field_bytes(1, k.encode()) + field_bytes(
            2, encode_message(message, v, "%s[%s]" % (where, k)))) for k, v in value.items())
    return encode


def paths(value, where):
    out = bytearray()
    for k, v in value.items():
        if k.startswith("x-"):
            out += field_bytes(1, named_any(k, v))
        else:
            out += field_bytes(2, field_bytes(1, k.encode()) + field_bytes(
                2, encode_message("PathItem", v, "%s[%s]" % (where, k))))
    return bytes(out)


def parameters_item(value, where):
    """ParametersItem {Parameter parameter = 1} of a body or a non-body
    parameter (NonBodyParameter: query = 3, path = 4)."""
    if value.get("in") == "body":
        parameter = field_bytes(1, encode_message("BodyParameter", value, where))
    else:
        fields = PRIMITIVE_PARAM_FIELDS.get(value.get("in"))
        if fields is None:
            raise ValueError("%s: parameter in %r is not in the OpenAPI v2 protobuf tables"
                             % (where, value.get("in")))
        sub = bytearray()
        for key, v in value.items():
            if key not in fields:
                raise ValueError("%s: parameter has no field %r" % (where, key))
            sub += encode_field(fields[key][0], fields[key][1], v, where + "." + key)
        number = 3 if value["in"] == "query" else 4
        parameter = field_bytes(2, field_bytes(number, bytes(sub)))
    return field_bytes(1, parameter)


def responses(value, where):
    """Responses {repeated NamedResponseValue response_code = 1}; a
    ResponseValue holds its Response at field 1."""
    out = bytearray()
    for code, v in value.items():
        rv = field_bytes(1, encode_message("Response", v, "%s[%s]" % (where, code)))
        out += field_bytes(1, field_bytes(1, code.encode()) + field_bytes(2, rv))
    return bytes(out)


def additional_properties(value, where):
    if isinstance(value, bool):
        return field_varint(2, 1 if value else 0)
    return field_bytes(1, encode_message("Schema", value, where))


def type_item(value, where):
    values = value if isinstance(value, list) else [value]
    return b"".join(field_bytes(1, v.encode()) for v in values)


def items_item(value, where):
    values = value if isinstance(value, list) else [value]
    return b"".join(field_bytes(1, encode_message("Schema", v, where)) for v in values)


def security_requirement(value, where):
    """SecurityRequirement {repeated NamedStringArray additional_properties = 1}."""
    return b"".join(field_bytes(1, field_bytes(1, k.encode()) + field_bytes(
        2, b"".join(field_bytes(1, s.encode()) for s in v))) for k, v in value.items())


def security_definitions(value, where):
    """SecurityDefinitions: NamedSecurityDefinitionsItem, an apiKey one
    (SecurityDefinitionsItem field 2: ApiKeySecurity)."""
    out = bytearray()
    for k, v in value.items():
        if v.get("type") != "apiKey":
            raise ValueError("%s[%s]: only apiKey security definitions are encoded" % (where, k))
        item = field_bytes(2, encode_message("ApiKeySecurity", v, where))
        out += field_bytes(1, field_bytes(1, k.encode()) + field_bytes(2, item))
    return bytes(out)


SPECIAL = {
    "Definitions": named("Schema"), "Properties": named("Schema"), "Paths": paths,
    "ParametersItem": parameters_item, "Responses": responses,
    "SchemaItem": lambda v, w: field_bytes(1, encode_message("Schema", v, w)),
    "AdditionalPropertiesItem": additional_properties, "TypeItem": type_item,
    "ItemsItem": items_item, "SecurityRequirement": security_requirement,
    "SecurityDefinitions": security_definitions,
}


def encode_document(doc):
    """The protobuf bytes of a Swagger 2.0 document (a dict)."""
    return encode_message("Document", doc, "openapi/v2")
