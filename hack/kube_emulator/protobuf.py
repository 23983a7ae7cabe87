"""Protobuf: just enough to decode the Namespace that `kubectl create namespace`
sends (its typed client writes protobuf). Only ObjectMeta's name,
generateName, labels, annotations and finalizers are read."""


def pb_fields(data):
    """Yields (field number, wire type, value) of a protobuf message."""
    i = 0

    def varint():
        nonlocal i
        shift = result = 0
        while True:
            if i >= len(data):
                raise ValueError("truncated varint")
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
    while i < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            yield field, wire, varint()
        elif wire == 2:
            n = varint()
            if i + n > len(data):
                raise ValueError("truncated field")
            yield field, wire, data[i:i + n]
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wire)


def decode_protobuf_object(data):
    if not data.startswith(b"k8s\x00"):
        raise ValueError("no k8s protobuf envelope")
    api_version = kind = ""
    raw = b""
    for f, _, v in pb_fields(data[4:]):
        if f == 1:
            for tf, _, tv in pb_fields(v):
                if tf == 1:
                    api_version = tv.decode()
                elif tf == 2:
                    kind = tv.decode()
        elif f == 2:
            raw = v
    if kind != "Namespace":
        raise ValueError("protobuf is only decoded for Namespace, got %r" % kind)
    meta = {}
    for f, _, v in pb_fields(raw):
        if f != 1:
            continue
        for mf, _, mv in pb_fields(v):
            if mf in (1, 2):
                meta["name" if mf == 1 else "generateName"] = mv.decode()
            elif mf in (11, 12):
                entry = {kf: kv.decode() for kf, _, kv in pb_fields(mv)}
                meta.setdefault("labels" if mf == 11 else "annotations", {})[
                    entry.get(1, "")] = entry.get(2, "")
            elif mf == 14:
                meta.setdefault("finalizers", []).append(mv.decode())
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}
