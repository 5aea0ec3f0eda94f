"""Bodies generated from the botocore model against every operation: a full
body with every member set, wrong types for every member, and garbage. The
daemon must answer each with a 2xx or a 4xx naming a model exception (never
a 5xx, never a dropped connection) and stay up."""

import json
import random

from api_helpers import call, model

M = model()
S = M["shapes"]
EXCEPTIONS = {n for n, s in S.items() if s.get("exception")} | {
    "SerializationException", "UnknownOperationException", "InvalidOperationException",
    "InvalidZonalDeploymentConfigurationException", "InvalidTargetFilterNameException"}


def sample(shape_name, depth=0):
    s = S[shape_name]
    t = s["type"]
    if t == "structure":
        if depth > 6:
            return {}
        return {k: sample(m["shape"], depth + 1) for k, m in s["members"].items()}
    if t == "list":
        return [sample(s["member"]["shape"], depth + 1)]
    if t == "map":
        return {sample(s["key"]["shape"], depth + 1): sample(s["value"]["shape"], depth + 1)}
    if t == "string":
        if "enum" in s:
            return s["enum"][0]
        return "x" * max(1, s.get("min", 1))
    if t in ("integer", "long"):
        return 1
    if t == "double":
        return 0.5
    if t == "boolean":
        return True
    if t == "timestamp":
        return 1700000000
    raise AssertionError(t)


WRONG = {"structure": [1, 2], "list": "x", "map": [], "string": 123, "integer": "1", "long": {"a": 1},
         "double": "half", "boolean": "yes", "timestamp": "yesterday"}


def check(r, what):
    assert r.status < 500, (what, r.status, r.body)
    if r.status >= 400:
        assert r.error_type in EXCEPTIONS, (what, r.body)


def test_full_bodies(daemon):
    for op, spec in M["operations"].items():
        body = sample(spec["input"]["shape"]) if "input" in spec else {}
        check(call(daemon, daemon.admin, op, body), (op, "full"))


def test_wrong_types_everywhere(daemon):
    for op, spec in M["operations"].items():
        if "input" not in spec:
            continue
        shape = S[spec["input"]["shape"]]
        base = sample(spec["input"]["shape"])
        for member, m in shape["members"].items():
            body = dict(base)
            body[member] = WRONG[S[m["shape"]]["type"]]
            r = call(daemon, daemon.admin, op, body)
            assert r.status == 400, (op, member, r.body)
            assert r.error_type == "SerializationException", (op, member, r.body)


def test_garbage(daemon):
    rnd = random.Random(4)
    atoms = [None, True, 0, -1, 2 ** 62, 1.5, "", "x" * 300, "\u00e9\u4e2d", [], {}, [[[]]], {"a": {"b": {}}}]
    ops = sorted(M["operations"])
    for _ in range(300):
        op = rnd.choice(ops)
        spec = M["operations"][op]
        members = list(S[spec["input"]["shape"]]["members"]) if "input" in spec else []
        body = {k: rnd.choice(atoms) for k in rnd.sample(members, min(len(members), rnd.randint(0, 4)))}
        if rnd.random() < 0.2:
            body["unknownMember"] = rnd.choice(atoms)
        check(call(daemon, daemon.admin, op, body), (op, body))
    # nesting bombs and odd encodings
    for raw in [b"[" * 5000 + b"]" * 5000, b'{"applicationName": "' + b"\\u0000" + b'"}', b"\x00\x01", b"{}" * 10]:
        check(call(daemon, daemon.admin, "CreateApplication", raw), raw[:20])
    assert call(daemon, daemon.admin, "ListApplications", {}).status == 200
    assert json.loads(call(daemon, daemon.admin, "ListApplications", {}).body) is not None
