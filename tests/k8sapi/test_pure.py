"""Pure pieces of the simulated API: selectors, patches, paging, validation, kubeconfig."""

from __future__ import annotations

import pytest
import yaml

from app.sim.api.kubeconfig import write_kubeconfig
from app.sim.api.names import MSG_PORT
from app.sim.api.paging import paginate
from app.sim.api.patch import apply_patch, json_patch, merge_patch, strategic_merge_patch
from app.sim.api.selectors import labels_match, parse_field_selector, parse_label_selector
from app.sim.api.validation import validate
from app.sim.errors import ApiError


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web,tier!=db", {"app": "web", "tier": "db"}, False),
        ("tier!=db", {}, True),
        ("app in (web, api)", {"app": "api"}, True),
        ("app notin (web,api)", {"app": "api"}, False),
        ("app notin (web)", {}, True),
        ("app", {"app": ""}, True),
        ("!app", {"app": "x"}, False),
        ("app,!canary", {"app": "x"}, True),
        ("", {"anything": "x"}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert labels_match(parse_label_selector(selector), labels) is expected


def test_bad_selectors_are_400() -> None:
    for text in ("app in ()", "a=b=c", "(x"):
        with pytest.raises(ApiError) as err:
            parse_label_selector(text)
        assert err.value.code == 400
    with pytest.raises(ApiError):
        parse_field_selector("Pod", "spec.unknown=1")
    event = {"involvedObject": {"kind": "Pod", "name": "p", "uid": "u"}, "metadata": {"namespace": "d"}}
    reqs = parse_field_selector("Event", "involvedObject.name=p,involvedObject.uid=u,metadata.namespace=d")
    assert all(r.matches(event) for r in reqs)
    assert not parse_field_selector("Event", "involvedObject.kind!=Pod")[0].matches(event)


def test_merge_and_json_patch() -> None:
    obj = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": [1, 2]}}
    assert merge_patch(obj, {"metadata": {"labels": {"a": None, "c": "3"}}, "spec": {"x": [3]}}) == {
        "metadata": {"labels": {"b": "2", "c": "3"}},
        "spec": {"x": [3]},
    }
    ops = [
        {"op": "replace", "path": "/spec/x/0", "value": 9},
        {"op": "add", "path": "/spec/x/-", "value": 4},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "copy", "from": "/metadata/labels/b", "path": "/metadata/labels/d~1e"},
        {"op": "test", "path": "/spec/x", "value": [9, 2, 4]},
    ]
    assert json_patch(obj, ops) == {"metadata": {"labels": {"b": "2", "d/e": "2"}}, "spec": {"x": [9, 2, 4]}}
    assert obj["spec"]["x"] == [1, 2]  # the input is untouched
    with pytest.raises(ApiError) as err:
        json_patch(obj, [{"op": "test", "path": "/spec/x", "value": []}])
    assert err.value.code == 422
    with pytest.raises(ApiError) as err:
        apply_patch(obj, "application/apply-patch+yaml", {}, "Pod")
    assert err.value.code == 415


def test_strategic_merge_patch_merges_lists_by_key() -> None:
    dep = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "image": "v1", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                        {"name": "side", "image": "s1"},
                    ]
                }
            }
        }
    }
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
                    "containers": [
                        {"name": "app", "image": "v2", "ports": [{"containerPort": 8080}]},
                        {"name": "side", "$patch": "delete"},
                        {"name": "new", "image": "n"},
                    ],
                }
            }
        }
    }
    out = strategic_merge_patch(dep, patch, "Deployment")
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app", "new"]
    assert containers[0]["image"] == "v2"
    assert [p["containerPort"] for p in containers[0]["ports"]] == [80, 8080]
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}, "Service")
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]
    es = {"ports": [{"port": 1}], "endpoints": [{"addresses": ["a"]}]}
    assert strategic_merge_patch(es, {"ports": [{"port": 2}]}, "EndpointSlice")["ports"] == [{"port": 2}]
    md = {"metadata": {"finalizers": ["a"], "annotations": {"x": "1"}}}
    out = strategic_merge_patch(
        md, {"metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]}}, "Pod"
    )
    assert out["metadata"]["finalizers"] == ["b"]


def test_paging_is_in_key_order_with_opaque_tokens() -> None:
    items = [{"metadata": {"namespace": ns, "name": n}} for ns, n in [("b", "x"), ("a", "z"), ("a", "y")]]
    first = paginate(items, 2, None, "7")
    assert [o["metadata"]["name"] for o in first.items] == ["y", "z"] and first.remaining == 1
    assert first.continue_token
    second = paginate(items, 2, first.continue_token, "7")
    assert [o["metadata"]["name"] for o in second.items] == ["x"] and second.continue_token is None
    with pytest.raises(ApiError) as err:
        paginate(items, 2, "not-a-token", "7")
    assert err.value.code == 400


def _causes(obj: dict) -> dict[str, str]:
    with pytest.raises(ApiError) as err:
        validate(obj)
    assert err.value.code == 422
    return {c["field"]: c["message"] for c in err.value.details["causes"]}


def test_validation_messages() -> None:
    pod = {
        "kind": "Pod",
        "metadata": {"name": "ok", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    validate(pod)
    bad = {**pod, "metadata": {"name": "a..b", "namespace": "default", "labels": {"k": "-bad-"}}}
    causes = _causes(bad)
    assert causes["metadata.name"].startswith('Invalid value: "a..b": a lowercase RFC 1123 subdomain')
    assert causes["metadata.labels"].startswith(
        'Invalid value: "-bad-": a valid label must be an empty string'
    )
    no_image = {
        "kind": "Pod",
        "metadata": {"name": "ok", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "ports": [{}]}]},
    }
    assert MSG_PORT == "must be between 1 and 65535, inclusive"
    assert _causes(no_image) == {
        "spec.containers[0].image": "Required value",
        "spec.containers[0].ports[0].containerPort": "Required value",
    }
    high = {**pod, "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 70000}]}]}}
    assert _causes(high) == {"spec.containers[0].ports[0].containerPort": "Invalid value: 70000: " + MSG_PORT}
    svc = {
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "default"},
        "spec": {"ports": [{"port": 80}, {"port": 81}]},
    }
    assert _causes(svc) == {"spec.ports[0].name": "Required value", "spec.ports[1].name": "Required value"}
    named = {
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": "Http_1"}]},
    }
    assert "spec.ports[0].targetPort" in _causes(named)
    ep = {
        "kind": "Endpoints",
        "metadata": {"name": "e", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "nope"}]}],
    }
    assert "subsets[0].addresses[0].ip" in _causes(ep)


def test_kubeconfig_puts_the_token_where_kubectl_sends_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_kubeconfig(tmp_path / "kc", "http://127.0.0.1:8000/k8s", "s3cret")
    cfg = yaml.safe_load(path.read_text())
    assert cfg["current-context"] == "slicescope-sim"
    assert cfg["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:8000/k8s/t/s3cret"
    assert cfg["users"][0]["user"] == {"token": "s3cret"}
    assert path.stat().st_mode & 0o777 == 0o600
    https = yaml.safe_load(write_kubeconfig(tmp_path / "kc2", "https://h/k8s", "t", context="c").read_text())
    assert (
        https["clusters"][0]["cluster"]["server"] == "https://h/k8s" and https["contexts"][0]["name"] == "c"
    )
