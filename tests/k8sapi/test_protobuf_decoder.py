"""The protobuf decoder on bodies captured from kubectl v1.37.1 (-v=10), each compared with the
JSON kubectl prints for the same command (--dry-run=client -o json), and on hand-built bytes for
what Go's encoding decides: pointers, omitempty, inline structs, maps, packed lists, unknown fields,
int-or-string, times, and malformed input."""

from __future__ import annotations

import pytest

from app.kinds import KINDS as SERVED
from app.sim.api import decoding, schema
from app.sim.api.proto.body import DecodeFailure, decode_object
from app.sim.api.proto.generate import INLINE, OMITEMPTY, POINTER, parse_go_structs, parse_proto
from app.sim.api.proto.known import go_duration
from app.sim.api.proto.messages import message_json, spec
from app.sim.api.proto.schema_data import KINDS, MESSAGES

# kubectl create deployment cap --image=nginx:1.27 --replicas=0 --port=8080 -n demo
DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c2010a230a0363617012001a0464656d6f2200"
    "2a003200380042005a0a0a036170701203636170128c010800120c0a0a0a0361707012036361701a720a1c0a001200"
    "1a0022002a003200380042005a0a0a036170701203636170125212340a056e67696e78120a6e67696e783a312e3237"
    "2a00320b0a00100018903f22002a0042006a007200800100880100900100a201001a00320042004a00520058006000"
    "68008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200"
)
DEPLOYMENT_JSON = {
    "kind": "Deployment",
    "apiVersion": "apps/v1",
    "metadata": {"name": "cap", "namespace": "demo", "labels": {"app": "cap"}},
    "spec": {
        "replicas": 0,
        "selector": {"matchLabels": {"app": "cap"}},
        "template": {
            "metadata": {"labels": {"app": "cap"}},
            "spec": {
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx:1.27",
                        "ports": [{"containerPort": 8080}],
                        "resources": {},
                    }
                ]
            },
        },
        "strategy": {},
    },
    "status": {},
}
# kubectl create service clusterip cap --tcp=80:8080 --tcp=443:https -n demo
SERVICE = bytes.fromhex(
    "6b3873000a0d0a0276311207536572766963651291010a230a0363617012001a0464656d6f22002a00320038004200"
    "5a0a0a03617070120363617012660a1b0a0738302d38303830120354435018502207080010903f1a0028000a220a09"
    "3434332d6874747073120354435018bb03220b080110001a0568747470732800120a0a0361707012036361701a0022"
    "09436c757374657249503a00420052005a00600068001a020a001a002200"
)
SERVICE_JSON = {
    "kind": "Service",
    "apiVersion": "v1",
    "metadata": {"name": "cap", "namespace": "demo", "labels": {"app": "cap"}},
    "spec": {
        "ports": [
            {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
            {"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https"},
        ],
        "selector": {"app": "cap"},
        "type": "ClusterIP",
    },
    "status": {"loadBalancer": {}},
}
# kubectl create service nodeport capnp --tcp=80:8080 --node-port=30080 -n demo
NODEPORT = bytes.fromhex(
    "6b3873000a0d0a02763112075365727669636512740a270a056361706e7012001a0464656d6f22002a003200380042"
    "005a0c0a0361707012056361706e7012450a1d0a0738302d38303830120354435018502207080010903f1a002880eb"
    "01120c0a0361707012056361706e701a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200"
)
NODEPORT_JSON = {
    "kind": "Service",
    "apiVersion": "v1",
    "metadata": {"name": "capnp", "namespace": "demo", "labels": {"app": "capnp"}},
    "spec": {
        "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}],
        "selector": {"app": "capnp"},
        "type": "NodePort",
    },
    "status": {"loadBalancer": {}},
}
# kubectl create namespace cap
NAMESPACE = bytes.fromhex(
    "6b3873000a0f0a02763112094e616d657370616365121b0a130a0363617012001a0022002a00320038004200120"
    "01a020a001a002200"
)
NAMESPACE_JSON = {
    "kind": "Namespace",
    "apiVersion": "v1",
    "metadata": {"name": "cap"},
    "spec": {},
    "status": {},
}
# kubectl debug node/node-2 --image=busybox -n demo (no --dry-run for this one)
DEBUG_POD = bytes.fromhex(
    "6b3873000a090a0276311203506f641286020a590a1a6e6f64652d64656275676765722d6e6f64652d322d386d7770"
    "7012001a0022002a003200380042005a2d0a1c6170702e6b756265726e657465732e696f2f6d616e616765642d6279"
    "120d6b75626563746c2d64656275671293010a120a09686f73742d726f6f7412050a030a012f12450a086465627567"
    "676572120762757379626f782a0042004a180a09686f73742d726f6f7410001a052f686f7374220032006a00720080"
    "0100880100900100a2010446696c651a054e65766572320042004a0052066e6f64652d32580160016801820100"
    "8a01009a0100b2010e0a0012064578697374731a002200c201001a130a001a0022002a0032004a005a007200880100"
    "1a002200"
)
# kubectl drain NODE --force --grace-period=7, then without --grace-period
DELETE_GRACE_7 = bytes.fromhex("6b3873000a130a027631120d44656c6574654f7074696f6e73120208071a002200")
DELETE_DEFAULT = bytes.fromhex("6b3873000a130a027631120d44656c6574654f7074696f6e7312001a002200")


# ---- a few bytes of protobuf, by hand ----------------------------------------------------------
def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def vi(number: int, value: int) -> bytes:
    """A varint field."""
    return varint(number << 3) + varint(value)


def ld(number: int, value: bytes | str) -> bytes:
    """A length-delimited field."""
    raw = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + ld(1, ld(1, api_version) + ld(2, kind)) + ld(2, raw)


def entry(key: str, value: bytes | str) -> bytes:
    return ld(1, key) + ld(2, value)


# ---- bodies captured from kubectl -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (DEPLOYMENT, DEPLOYMENT_JSON),
        (SERVICE, SERVICE_JSON),
        (NODEPORT, NODEPORT_JSON),
        (NAMESPACE, NAMESPACE_JSON),
    ],
    ids=["deployment", "service", "nodeport", "namespace"],
)
def test_kubectl_bodies_decode_to_the_json_kubectl_prints(body: bytes, expected: dict[str, object]) -> None:
    assert decode_object(body, "v1", "Unused") == expected


def test_debug_pod_inline_volume_source_and_explicit_booleans() -> None:
    assert decode_object(DEBUG_POD, "v1", "Pod") == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": "node-debugger-node-2-8mwpp",
            "labels": {"app.kubernetes.io/managed-by": "kubectl-debug"},
        },
        "spec": {
            # Volume inlines its VolumeSource; stdin/tty false and the empty strings are omitempty
            "volumes": [{"name": "host-root", "hostPath": {"path": "/"}}],
            "containers": [
                {
                    "name": "debugger",
                    "image": "busybox",
                    "resources": {},
                    "volumeMounts": [{"name": "host-root", "mountPath": "/host"}],
                    "terminationMessagePolicy": "File",
                }
            ],
            "restartPolicy": "Never",
            "nodeName": "node-2",
            "hostNetwork": True,
            "hostPID": True,
            "hostIPC": True,
            "tolerations": [{"operator": "Exists"}],
        },
        "status": {},
    }


def test_delete_options_from_drain() -> None:
    assert decode_object(DELETE_GRACE_7, "v1", "DeleteOptions") == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "gracePeriodSeconds": 7,
    }
    # gracePeriodSeconds is a pointer: absent is unset, not 0 (which would mean "now")
    assert decode_object(DELETE_DEFAULT, "v1", "DeleteOptions") == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
    }


# ---- what Go's encoding decides ----------------------------------------------------------------
def test_pointer_fields_keep_explicit_zeros_and_stay_absent_when_unset() -> None:
    absent = message_json("apps.v1.DeploymentSpec", b"")
    assert "replicas" not in absent and "paused" not in absent and "minReadySeconds" not in absent
    # non-pointer structs are always written (omitempty has no effect on them)
    assert absent == {"template": {"metadata": {}, "spec": {}}, "strategy": {}}
    zero = message_json("apps.v1.DeploymentSpec", vi(1, 0) + vi(7, 0) + vi(5, 0))
    assert zero["replicas"] == 0  # *int32 present: kept, so defaulting leaves it at 0
    assert "paused" not in zero and "minReadySeconds" not in zero  # plain omitempty zeros
    pod_spec = message_json("core.v1.PodSpec", vi(30, 0))  # enableServiceLinks *bool = false
    assert pod_spec["enableServiceLinks"] is False


def test_non_omitempty_zero_values_are_written() -> None:
    assert message_json("core.v1.ContainerPort", b"") == {"containerPort": 0}
    assert message_json("core.v1.ServicePort", b"") == {"port": 0, "targetPort": 0}
    assert message_json("core.v1.Container", b"") == {"name": "", "resources": {}}


def test_int_or_string_quantity_and_maps() -> None:
    port = message_json("core.v1.ServicePort", vi(3, 80) + ld(4, vi(1, 1) + ld(3, "http")))
    assert port["targetPort"] == "http"
    port = message_json("core.v1.ServicePort", vi(3, 80) + ld(4, vi(2, 8080)))
    assert port["targetPort"] == 8080
    limits = ld(1, entry("memory", ld(1, "64Mi"))) + ld(1, entry("cpu", ld(1, "250m")))
    assert message_json("core.v1.ResourceRequirements", limits) == {
        "limits": {"cpu": "250m", "memory": "64Mi"}
    }
    # a key given twice keeps its last value; map keys come out sorted as Go writes them
    labels = ld(11, entry("b", "1")) + ld(11, entry("a", "2")) + ld(11, entry("b", "3"))
    md = message_json("meta.v1.ObjectMeta", labels)
    assert md["labels"] == {"a": "2", "b": "3"} and list(md["labels"]) == ["a", "b"]
    # an entry without a value is Go's zero value
    assert message_json("meta.v1.ObjectMeta", ld(12, ld(1, "k")))["annotations"] == {"k": ""}
    binary = message_json("core.v1.ConfigMap", ld(3, entry("blob", b"\x00\xff")))
    assert binary["binaryData"] == {"blob": "AP8="}


def test_packed_and_unpacked_repeated_integers_and_negative_numbers() -> None:
    unpacked = vi(4, 1000) + vi(4, 2000)
    packed = ld(4, varint(1000) + varint(2000))
    for raw in (unpacked, packed):
        assert message_json("core.v1.PodSecurityContext", raw)["supplementalGroups"] == [1000, 2000]
    # a negative int32 is sign-extended to ten bytes on the wire
    assert message_json("core.v1.ContainerPort", vi(3, -1)) == {"containerPort": -1}
    assert len(varint(-1)) == 10


def test_times_are_rfc3339_in_utc_and_empty_is_unset() -> None:
    md = message_json("meta.v1.ObjectMeta", ld(8, vi(1, 1_700_000_000) + vi(2, 5)) + ld(9, b""))
    assert md["creationTimestamp"] == "2023-11-14T22:13:20Z"  # nanoseconds dropped, as the server does
    assert "deletionTimestamp" not in md  # *Time present but zero: JSON null, dropped
    event = message_json("core.v1.Event", ld(10, vi(1, 1_700_000_000) + vi(2, 123_456_789)))
    assert event["eventTime"] == "2023-11-14T22:13:20.123456Z"
    assert [go_duration(n) for n in (0, 1_500, 2_000_000, 90 * 10**9, 3_723_004_000_000)] == [
        "0s",
        "1.5µs",
        "2ms",
        "1m30s",
        "1h2m3.004s",
    ]


def test_unknown_fields_are_skipped_whatever_their_wire_type() -> None:
    group = varint(99 << 3 | 3) + vi(1, 5) + varint(99 << 3 | 4)
    extra = (
        vi(98, 1) + ld(97, b"\x01\x02") + varint(96 << 3 | 5) + b"abcd" + varint(95 << 3 | 1) + b"12345678"
    )
    raw = extra + ld(1, ld(1, "web") + group) + group
    assert message_json("core.v1.Service", raw) == {
        "metadata": {"name": "web"},
        "spec": {},
        "status": {"loadBalancer": {}},
    }


def test_invalid_utf8_becomes_the_replacement_character() -> None:
    assert message_json("meta.v1.ObjectMeta", ld(1, b"we\xffb"))["name"] == "we\ufffdb"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{}", "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"),
        (b"k8s\x00", "empty body"),
        (DEPLOYMENT[:40], "unexpected EOF"),
        (b"k8s\x00" + varint(1 << 3 | 2) + b"\xff" * 11, "proto: integer overflow"),
        (b"k8s\x00\x0c", "proto: Unknown: wiretype end group for non-group"),
        (b"k8s\x00\x00", "proto: Unknown: illegal tag 0 (wire type 0)"),
        (b"k8s\x00" + vi(1, 3), "proto: wrong wireType = 0 for field TypeMeta"),
    ],
)
def test_malformed_envelopes(body: bytes, message: str) -> None:
    with pytest.raises(DecodeFailure) as err:
        decode_object(body, "apps/v1", "Deployment")
    assert (str(err.value), err.value.kind) == (message, None)  # the envelope itself is unreadable


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (envelope("apps/v1", "Deployment", ld(2, vi(1, 3))[:-1]), "Deployment", "unexpected EOF"),
        (
            envelope("apps/v1", "Deployment", ld(2, ld(1, b"x"))),
            "Deployment",
            "proto: wrong wireType = 2 for field Replicas",
        ),
        (
            envelope("apps/v1", "Deployment", vi(1, 1)),
            "Deployment",
            "proto: wrong wireType = 0 for field ObjectMeta",
        ),
        (
            envelope("apps/v1", "Foo", b""),
            "Foo",
            'no kind "Foo" is registered for version "apps/v1" in scheme "pkg/api/legacyscheme/scheme.go:30"',
        ),
        (
            envelope("v1", "Pod", ld(1, ld(8, vi(1, 10**15)))),
            "Pod",
            "proto: Time: time out of range: 1000000000000000 seconds",
        ),
    ],
)
def test_malformed_objects_name_the_kind_they_claimed(body: bytes, kind: str, message: str) -> None:
    with pytest.raises(DecodeFailure) as err:
        decode_object(body, "apps/v1", "Deployment")
    assert (str(err.value), err.value.kind) == (message, kind)


def test_a_missing_kind_or_version_is_the_requests() -> None:
    body = b"k8s\x00" + ld(2, ld(1, ld(1, "web")))
    assert decode_object(body, "apps/v1", "Deployment")["metadata"] == {"name": "web"}
    assert decode_object(body, "apps/v1", "Deployment")["kind"] == "Deployment"
    # DeleteOptions is registered in every served group version
    assert decode_object(envelope("apps/v1", "DeleteOptions", b""), "v1", "X")["kind"] == "DeleteOptions"


# ---- the generated table ---------------------------------------------------------------------------
def test_every_served_kind_and_the_request_option_kinds_are_in_the_table() -> None:
    for info in SERVED.values():
        assert f"{info.api_version}/{info.kind}" in KINDS
    assert {"autoscaling/v1/Scale", "meta.k8s.io/v1/DeleteOptions"} <= set(KINDS)
    for rows in MESSAGES.values():
        for _, _, type_, value, _, _ in rows:
            for ref in (type_, value):
                assert ref in ("", "map", "string", "bool", "int32", "int64", "bytes") or ref in MESSAGES


def _every_field(name: str, depth: int = 0) -> dict[str, object]:
    """A JSON object with every field the protobuf message can carry (one of each list and map)."""
    samples: dict[str, object] = {"string": "x", "bool": True, "int32": 1, "int64": 1, "bytes": "eA=="}
    special: dict[str, object] = {
        "meta.v1.Time": "2026-01-01T00:00:00Z",
        "meta.v1.MicroTime": "2026-01-01T00:00:00.000000Z",
        "meta.v1.Duration": "1s",
        "meta.v1.FieldsV1": {},
        "resource.Quantity": "1",
        "intstr.IntOrString": 1,
        "runtime.RawExtension": {},
    }

    def value(type_: str) -> object:
        if type_ in samples:
            return samples[type_]
        return special[type_] if type_ in special else _every_field(type_, depth + 1)

    out: dict[str, object] = {}
    for f in spec(name).fields:
        item = {"k": value(f.map_value)} if f.type == "map" else value(f.type)
        if f.flags & 1:
            item = [item]
        if f.flags & INLINE:
            assert isinstance(item, dict)
            out.update(item)
        else:
            out[f.json_name] = item
    return out


def test_the_served_schemas_know_every_field_protobuf_can_carry() -> None:
    """Protobuf is never strict-decoded by the API server: a field it carries must not become an
    `unknown field` here under fieldValidation=Strict."""
    schema.type_defs()
    for info in SERVED.values():
        decoded = decoding.decode(_every_field(KINDS[f"{info.api_version}/{info.kind}"]), info.kind)
        assert (info.kind, decoded.strict, decoded.mismatch) == (info.kind, [], None)


def test_generator_reads_proto_messages_and_go_struct_tags() -> None:
    proto = """syntax = "proto2";
package k8s.io.api.demo.v1;
message Thing {
  // a comment
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  repeated Part parts = 2;
  map<string, string> labels = 3;
  optional int32 count = 4;
}
"""
    (thing,) = parse_proto(proto)
    assert [(f.name, f.number, f.type, f.repeated, f.map_value) for f in thing.fields] == [
        ("metadata", 1, "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", False, None),
        ("parts", 2, "k8s.io.api.demo.v1.Part", True, None),
        ("labels", 3, "map", False, "string"),
        ("count", 4, "int32", False, None),
    ]
    go = """type Thing struct {
\tmetav1.TypeMeta `json:",inline"`
\t// +optional
\tmetav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
\tSource `json:",inline" protobuf:"bytes,2,opt,name=source"`
\tCount *int32 `json:"count,omitempty" protobuf:"varint,4,opt,name=count"`
\tNoTag string
}
"""
    fields = parse_go_structs(go)["Thing"]
    assert "" in fields  # TypeMeta: a kind
    assert (fields["metadata"].json_name, fields["metadata"].flags) == ("metadata", OMITEMPTY)
    assert (fields["source"].json_name, fields["source"].flags) == ("", INLINE)
    assert fields["count"].flags == POINTER | OMITEMPTY
