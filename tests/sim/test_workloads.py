"""Workload side of the simulated cluster on a manual clock: Deployment -> ReplicaSet -> Pods,
scheduling and the kubelet stand-in (start-up, IPs, probes, graceful deletion), events, GC."""

from __future__ import annotations

import ipaddress

import pytest

from app.sim.cluster import SimCluster, SimConfig
from app.sim.controllers.common import READINESS_ANNOTATION, condition, is_ready
from app.sim.controllers.deployment import pod_template_hash
from app.sim.errors import ApiError
from app.sim.lesson import shipping_api
from app.timefmt import parse_rfc3339

NAME_ALPHABET = set("bcdfghjklmnpqrstvwxz2456789")


def deployment(name: str, replicas: int, *, image: str = "nginx:1.27", probe: bool = False) -> dict:
    container: dict = {"name": "app", "image": image, "ports": [{"containerPort": 80}]}
    if probe:
        container["readinessProbe"] = {
            "httpGet": {"path": "/", "port": 80},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


@pytest.fixture
def cluster() -> SimCluster:
    c = SimCluster()
    c.start()
    return c


def pods(c: SimCluster, app: str | None = None) -> list[dict]:
    return c.store.list("Pod", "default", {"app": app} if app else None)


def events(c: SimCluster, reason: str) -> list[dict]:
    return [e for e in c.store.list("Event") if e["reason"] == reason]


# ---- bootstrap --------------------------------------------------------------------------------
def test_start_creates_nodes_namespaces_and_kubernetes_service(cluster: SimCluster) -> None:
    nodes = sorted(cluster.store.list("Node"), key=lambda n: n["metadata"]["name"])
    assert [n["metadata"]["name"] for n in nodes] == ["node-1", "node-2", "node-3"]
    # Sized for 10,000 pods like KWOK's fake nodes: a /20 pod CIDR and 4093 pods each.
    assert [n["spec"]["podCIDR"] for n in nodes] == ["10.244.16.0/20", "10.244.32.0/20", "10.244.48.0/20"]
    assert [n["status"]["allocatable"]["pods"] for n in nodes] == ["4093"] * 3
    zones = [n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes]
    assert zones == ["zone-a", "zone-b", "zone-c"]
    assert {n["metadata"]["name"] for n in cluster.store.list("Namespace")} >= {"default", "kube-system"}
    svc = cluster.store.require("Service", "default", "kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"] == [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}]
    assert svc["spec"]["type"] == "ClusterIP"


# ---- deployment -> replicaset -> pods ------------------------------------------------------------
def test_deployment_creates_hashed_replicaset_and_pods(cluster: SimCluster) -> None:
    d = cluster.apply(shipping_api()[0])
    cluster.run_for(0)
    [rs] = cluster.store.list("ReplicaSet", "default")
    h = rs["metadata"]["labels"]["pod-template-hash"]
    assert len(h) == 10 and set(h) <= NAME_ALPHABET
    assert h == pod_template_hash(d["spec"]["template"])
    assert rs["metadata"]["name"] == f"shipping-api-{h}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "shipping-api", "pod-template-hash": h}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == h
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "5"
    ps = pods(cluster, "shipping-api")
    assert len(ps) == 4
    for p in ps:
        assert p["metadata"]["name"].startswith(f"shipping-api-{h}-")
        assert len(p["metadata"]["name"]) == len(f"shipping-api-{h}-") + 5
        node_labels = cluster.store.require("Node", "", p["spec"]["nodeName"])["metadata"]["labels"]
        topology = {k: v for k, v in node_labels.items() if k.startswith("topology.kubernetes.io/")}
        assert set(topology) == {"topology.kubernetes.io/zone", "topology.kubernetes.io/region"}
        # the template's labels, and the node's zone and region (copied when the pod was bound)
        assert p["metadata"]["labels"] == {"app": "shipping-api", "pod-template-hash": h, **topology}
        ref = p["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"]) == ("ReplicaSet", rs["metadata"]["name"], True)
    assert len(events(cluster, "SuccessfulCreate")) == 4
    assert events(cluster, "ScalingReplicaSet")[0]["message"] == (
        f"Scaled up replica set shipping-api-{h} from 0 to 4"
    )


def test_pods_get_defaults_like_the_api_server(cluster: SimCluster) -> None:
    cluster.apply(shipping_api()[0])
    cluster.run_for(0)
    pod = pods(cluster, "shipping-api")[0]
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["serviceAccountName"] == "default"
    c = spec["containers"][0]
    assert c["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["readinessProbe"] == {
        "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
        "initialDelaySeconds": 5,
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }


def test_pod_lifecycle_schedule_start_probe(cluster: SimCluster) -> None:
    cluster.apply(shipping_api()[0])
    cluster.run_for(0)
    ps = pods(cluster, "shipping-api")
    # Scheduled round-robin, not yet running: no IP.
    assert sorted(p["spec"]["nodeName"] for p in ps) == ["node-1", "node-1", "node-2", "node-3"]
    for p in ps:
        assert p["status"]["phase"] == "Pending"
        assert "podIP" not in p["status"]
        waiting = p["status"]["containerStatuses"][0]["state"]["waiting"]
        assert waiting["reason"] == "ContainerCreating"
    assert len(events(cluster, "Scheduled")) == 4
    assert events(cluster, "Scheduled")[0]["source"]["component"] == "default-scheduler"
    cluster.run_for(2)
    ps = pods(cluster, "shipping-api")
    for p in ps:
        st = p["status"]
        assert st["phase"] == "Running"
        node = cluster.store.require("Node", "", p["spec"]["nodeName"])
        assert ipaddress.ip_address(st["podIP"]) in ipaddress.ip_network(node["spec"]["podCIDR"])
        assert st["podIPs"] == [{"ip": st["podIP"]}]
        assert st["hostIP"] == node["status"]["addresses"][0]["address"]
        assert [c["type"] for c in st["conditions"]] == [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ]
        assert all(c["lastTransitionTime"] for c in st["conditions"])
        cs = st["containerStatuses"][0]
        assert cs["started"] is True and cs["restartCount"] == 0 and "startedAt" in cs["state"]["running"]
        # Probe has initialDelaySeconds 5: not ready yet.
        assert not is_ready(p) and cs["ready"] is False
        assert condition(p, "Ready")["message"] == "containers with unready status: [shipping]"
    assert len({p["status"]["podIP"] for p in ps}) == 4
    cluster.run_for(4.9)
    assert not any(is_ready(p) for p in pods(cluster, "shipping-api"))
    cluster.run_for(0.2)
    assert all(is_ready(p) for p in pods(cluster, "shipping-api"))
    d = cluster.store.require("Deployment", "default", "shipping-api")
    assert (
        d["status"]["readyReplicas"],
        d["status"]["availableReplicas"],
        d["status"]["updatedReplicas"],
    ) == (
        4,
        4,
        4,
    )
    assert [c["type"] for c in d["status"]["conditions"]] == ["Available", "Progressing"]
    assert d["status"]["conditions"][1]["reason"] == "NewReplicaSetAvailable"


def test_no_probe_means_ready_when_running(cluster: SimCluster) -> None:
    cluster.apply(deployment("plain", 2))
    cluster.run_for(1.9)
    assert not any(is_ready(p) for p in pods(cluster, "plain"))
    cluster.run_for(0.1)
    assert all(is_ready(p) for p in pods(cluster, "plain"))


def test_failing_probe_turns_not_ready_after_threshold_and_back(cluster: SimCluster) -> None:
    cluster.apply(shipping_api()[0])
    cluster.run_for(10)
    pod = pods(cluster, "shipping-api")[0]
    name = pod["metadata"]["name"]
    started = parse_rfc3339(pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"])
    out = cluster.set_probe("default", name, False)
    assert out["metadata"]["annotations"][READINESS_ANNOTATION] == "fail"
    # Probes run at start+5, +15, +25, ...; three consecutive failures are needed.
    first_fail = started + 15
    cluster.run_for(first_fail + 20 - cluster.clock.now() - 0.01)
    p = cluster.store.require("Pod", "default", name)
    assert is_ready(p)
    unhealthy = events(cluster, "Unhealthy")
    assert unhealthy[0]["type"] == "Warning"
    assert unhealthy[0]["message"] == "Readiness probe failed: HTTP probe failed with statuscode: 503"
    assert unhealthy[0]["count"] == 2
    cluster.run_for(0.02)
    p = cluster.store.require("Pod", "default", name)
    assert not is_ready(p)
    ready = condition(p, "Ready")
    assert ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [shipping]"
    assert p["status"]["phase"] == "Running"
    assert events(cluster, "Unhealthy")[0]["count"] == 3
    d = cluster.store.require("Deployment", "default", "shipping-api")
    assert d["status"]["readyReplicas"] == 3
    # Back to passing: ready at the next probe (successThreshold 1).
    cluster.set_probe("default", name, True)
    cluster.run_for(10)
    p = cluster.store.require("Pod", "default", name)
    assert is_ready(p) and READINESS_ANNOTATION not in (p["metadata"].get("annotations") or {})
    assert cluster.store.require("Deployment", "default", "shipping-api")["status"]["readyReplicas"] == 4


def test_annotation_written_directly_flips_probe(cluster: SimCluster) -> None:
    """kubectl annotate works the same as set_probe: the switch lives in the object."""
    cluster.apply(deployment("plain", 1, probe=True))
    cluster.run_for(10)
    name = pods(cluster, "plain")[0]["metadata"]["name"]
    cluster.store.mutate(
        "Pod",
        "default",
        name,
        lambda p: p["metadata"].setdefault("annotations", {}).update({READINESS_ANNOTATION: "fail"}),
    )
    cluster.run_for(40)
    assert not is_ready(cluster.store.require("Pod", "default", name))


def test_scale_up_and_down(cluster: SimCluster) -> None:
    cluster.apply(deployment("web", 3))
    cluster.run_for(5)
    cluster.scale("default", "web", 6)
    cluster.run_for(5)
    assert len(pods(cluster, "web")) == 6
    assert all(is_ready(p) for p in pods(cluster, "web"))
    rs = cluster.store.list("ReplicaSet", "default")[0]
    assert rs["spec"]["replicas"] == 6 and rs["status"]["readyReplicas"] == 6
    cluster.scale("default", "web", 2)
    cluster.run_for(0)
    terminating = [p for p in pods(cluster, "web") if p["metadata"].get("deletionTimestamp")]
    assert len(terminating) == 4
    assert len(events(cluster, "SuccessfulDelete")) == 4
    rs = cluster.store.require("ReplicaSet", "default", rs["metadata"]["name"])
    assert rs["status"]["replicas"] == 2 and rs["status"]["terminatingReplicas"] == 4
    cluster.run_for(30)
    assert len(pods(cluster, "web")) == 2
    d = cluster.store.require("Deployment", "default", "web")
    assert d["status"]["replicas"] == 2 and d["status"]["readyReplicas"] == 2


def test_scale_down_prefers_not_ready_and_newest(cluster: SimCluster) -> None:
    cluster.apply(deployment("web", 3, probe=True))
    cluster.run_for(20)
    cluster.scale("default", "web", 5)
    cluster.run_for(3)  # two new pods running but not ready yet
    new = {p["metadata"]["name"] for p in pods(cluster, "web") if not is_ready(p)}
    assert len(new) == 2
    cluster.scale("default", "web", 3)
    cluster.run_for(0)
    gone = {p["metadata"]["name"] for p in pods(cluster, "web") if p["metadata"].get("deletionTimestamp")}
    assert gone == new


def test_graceful_delete_keeps_pod_terminating_then_replaces_and_removes(cluster: SimCluster) -> None:
    cluster.apply(deployment("web", 2))
    cluster.run_for(5)
    victim = pods(cluster, "web")[0]
    name, ip = victim["metadata"]["name"], victim["status"]["podIP"]
    out = cluster.delete_pod("default", name)
    assert out["metadata"]["deletionGracePeriodSeconds"] == 30
    assert parse_rfc3339(out["metadata"]["deletionTimestamp"]) == cluster.clock.now() + 30
    cluster.run_for(0)
    p = cluster.store.require("Pod", "default", name)
    assert is_ready(p) and p["status"]["phase"] == "Running"  # Ready left as it was
    killing = events(cluster, "Killing")
    assert killing[0]["message"] == "Stopping container app"
    assert killing[0]["involvedObject"]["name"] == name
    assert len(pods(cluster, "web")) == 3  # a replacement at once
    cluster.run_for(29.9)
    assert cluster.store.get("Pod", "default", name) is not None
    cluster.run_for(0.2)
    assert cluster.store.get("Pod", "default", name) is None
    assert len(pods(cluster, "web")) == 2
    # The freed IP is not in use any more; no two live pods share an IP.
    ips = [p["status"].get("podIP") for p in pods(cluster, "web")]
    assert ip not in ips and len(set(ips)) == len(ips)


def test_delete_with_zero_grace_is_immediate(cluster: SimCluster) -> None:
    cluster.apply(deployment("web", 1))
    cluster.run_for(5)
    name = pods(cluster, "web")[0]["metadata"]["name"]
    cluster.delete_pod("default", name, grace_seconds=0)
    assert cluster.store.get("Pod", "default", name) is None


def test_relabelled_pod_is_released_and_replaced(cluster: SimCluster) -> None:
    cluster.apply(shipping_api()[0])
    cluster.run_for(10)
    name = pods(cluster, "shipping-api")[0]["metadata"]["name"]
    seen: list[tuple[str, str, int]] = []
    cluster.store.subscribe(
        lambda ev: (
            ev.kind == "Pod"
            and seen.append(
                (ev.type, ev.obj["metadata"]["name"], len(ev.obj["metadata"].get("ownerReferences") or []))
            )
        )
    )
    cluster.set_pod_labels("default", name, {"app": "debug"})
    cluster.run_for(0)
    mine = [e for e in seen if e[1] == name]
    assert mine[:2] == [("MODIFIED", name, 1), ("MODIFIED", name, 0)]
    added = [e for e in seen if e[0] == "ADDED"]
    assert len(added) == 1
    orphan = cluster.store.require("Pod", "default", name)
    assert "ownerReferences" not in orphan["metadata"]
    assert orphan["metadata"]["labels"]["app"] == "debug"
    cluster.run_for(10)
    assert len(pods(cluster)) == 5
    assert len(pods(cluster, "shipping-api")) == 4 and all(is_ready(p) for p in pods(cluster, "shipping-api"))
    assert is_ready(cluster.store.require("Pod", "default", name))  # the orphan keeps running
    # Putting the label back: the orphan is adopted and one pod is removed.
    cluster.set_pod_labels("default", name, {"app": "shipping-api"})
    cluster.run_for(0)
    adopted = cluster.store.require("Pod", "default", name)
    assert adopted["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    active = [p for p in pods(cluster, "shipping-api") if not p["metadata"].get("deletionTimestamp")]
    assert len(active) == 4


def test_label_removed_with_none(cluster: SimCluster) -> None:
    cluster.apply(deployment("web", 1))
    cluster.run_for(0)
    name = pods(cluster, "web")[0]["metadata"]["name"]
    out = cluster.set_pod_labels("default", name, {"pod-template-hash": None, "tier": "x"})
    labels = {k: v for k, v in out["metadata"]["labels"].items() if not k.startswith("topology.")}
    assert labels == {"app": "web", "tier": "x"}


def test_rolling_update_respects_surge_and_unavailable(cluster: SimCluster) -> None:
    cluster.apply(deployment("web", 4, probe=True))
    cluster.run_for(30)
    [old] = cluster.store.list("ReplicaSet", "default")
    max_total = 0
    min_available = 4
    changed = deployment("web", 4, image="nginx:1.28", probe=True)
    cluster.apply(changed)
    for _ in range(120):
        cluster.run_for(1)
        active = [p for p in pods(cluster, "web") if not p["metadata"].get("deletionTimestamp")]
        max_total = max(max_total, len(active))
        min_available = min(min_available, sum(1 for p in active if is_ready(p)))
    rss = cluster.store.list("ReplicaSet", "default")
    assert len(rss) == 2
    new = next(rs for rs in rss if rs["metadata"]["name"] != old["metadata"]["name"])
    assert new["spec"]["replicas"] == 4
    assert cluster.store.require("ReplicaSet", "default", old["metadata"]["name"])["spec"]["replicas"] == 0
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert max_total <= 5  # maxSurge 25% of 4 = 1
    assert min_available >= 3  # maxUnavailable 25% of 4 = 1
    images = {p["spec"]["containers"][0]["image"] for p in pods(cluster, "web")}
    assert images == {"nginx:1.28"}
    d = cluster.store.require("Deployment", "default", "web")
    assert d["status"]["updatedReplicas"] == 4 and d["status"]["availableReplicas"] == 4
    assert d["metadata"]["generation"] == 2 and d["status"]["observedGeneration"] == 2
    assert d["status"]["conditions"][-1]["reason"] == "NewReplicaSetAvailable"


def test_deployment_ready_counts_like_kubectl(cluster: SimCluster) -> None:
    cluster.apply(shipping_api()[0])
    cluster.run_for(10)
    name = pods(cluster, "shipping-api")[0]["metadata"]["name"]
    cluster.set_probe("default", name, False)
    cluster.run_for(40)
    d = cluster.store.require("Deployment", "default", "shipping-api")
    # kubectl get deploy: READY 3/4, UP-TO-DATE 4, AVAILABLE 3
    assert (d["status"]["readyReplicas"], d["spec"]["replicas"]) == (3, 4)
    assert d["status"]["updatedReplicas"] == 4 and d["status"]["availableReplicas"] == 3
    assert d["status"]["unavailableReplicas"] == 1
    rs = cluster.store.list("ReplicaSet", "default")[0]
    assert rs["status"]["readyReplicas"] == 3 and rs["status"]["fullyLabeledReplicas"] == 4


def test_deleting_deployment_cascades(cluster: SimCluster) -> None:
    cluster.apply(deployment("web", 3))
    cluster.run_for(5)
    cluster.delete("Deployment", "default", "web")
    cluster.run_for(0)
    assert cluster.store.list("ReplicaSet", "default") == []
    assert all(p["metadata"].get("deletionTimestamp") for p in pods(cluster, "web"))
    cluster.run_for(31)
    assert pods(cluster, "web") == []


def test_orphan_pod_is_adopted(cluster: SimCluster) -> None:
    cluster.apply(deployment("web", 2))
    cluster.run_for(5)
    [rs] = cluster.store.list("ReplicaSet", "default")
    h = rs["metadata"]["labels"]["pod-template-hash"]
    cluster.apply(
        {
            "kind": "Pod",
            "metadata": {"name": "stray", "labels": {"app": "web", "pod-template-hash": h}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
        }
    )
    cluster.run_for(0)
    stray = cluster.store.get("Pod", "default", "stray")
    active = [p for p in pods(cluster, "web") if not p["metadata"].get("deletionTimestamp")]
    assert len(active) == 2
    # Adopted (3 pods for 2 replicas), then, being unscheduled, the first to go, at once.
    assert stray is None
    assert "Deleted pod: stray" in [e["message"] for e in events(cluster, "SuccessfulDelete")]


def test_unschedulable_when_nodes_are_full() -> None:
    c = SimCluster(config=SimConfig(nodes=1, pod_cidr_prefix=28))  # 13 pod IPs
    c.start()
    c.apply(deployment("web", 15))
    c.run_for(5)
    ps = pods(c, "web")
    running = [p for p in ps if p["status"].get("phase") == "Running"]
    pending = [p for p in ps if not p["spec"].get("nodeName")]
    assert len(running) == 13 and len(pending) == 2
    assert condition(pending[0], "PodScheduled")["reason"] == "Unschedulable"
    c.scale("default", "web", 13)
    c.run_for(0)
    assert all(p["spec"].get("nodeName") for p in pods(c, "web"))


def test_ip_never_reused_while_in_use() -> None:
    c = SimCluster(config=SimConfig(nodes=1, pod_cidr_prefix=28))
    c.start()
    c.apply(deployment("web", 13))
    c.run_for(5)
    for p in pods(c, "web")[:3]:
        c.delete_pod("default", p["metadata"]["name"])
    c.run_for(5)  # replacements wait for IPs while the terminating pods hold theirs
    live = [p["status"]["podIP"] for p in pods(c, "web") if p["status"].get("podIP")]
    assert len(live) == len(set(live))
    c.run_for(60)
    ps = pods(c, "web")
    assert len(ps) == 13 and all(is_ready(p) for p in ps)
    assert len({p["status"]["podIP"] for p in ps}) == 13


# ---- defaulting and validation -------------------------------------------------------------------
def test_service_defaults_and_cluster_ip_allocation(cluster: SimCluster) -> None:
    svc = cluster.apply(shipping_api()[1])
    spec = svc["spec"]
    assert spec["ports"] == [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]
    assert spec["sessionAffinity"] == "None" and spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack" and spec["internalTrafficPolicy"] == "Cluster"
    ip = ipaddress.ip_address(spec["clusterIP"])
    assert ip in ipaddress.ip_network("10.96.0.0/12") and spec["clusterIPs"] == [spec["clusterIP"]]
    assert not spec["clusterIP"].endswith((".0", ".1"))
    headless = cluster.apply(
        {"kind": "Service", "metadata": {"name": "h"}, "spec": {"clusterIP": "None", "ports": [{"port": 5}]}}
    )
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["ports"][0]["targetPort"] == 5
    ext = cluster.apply(
        {
            "kind": "Service",
            "metadata": {"name": "x"},
            "spec": {"type": "ExternalName", "externalName": "a.b"},
        }
    )
    assert "clusterIP" not in ext["spec"]
    # Re-applying keeps the allocated IP; asking for one in use fails.
    again = cluster.apply(shipping_api()[1])
    assert again["spec"]["clusterIP"] == spec["clusterIP"]
    with pytest.raises(ApiError) as err:
        cluster.apply(
            {"kind": "Service", "metadata": {"name": "dup"}, "spec": {"clusterIP": spec["clusterIP"]}}
        )
    assert err.value.code == 422


def test_many_services_get_distinct_ips(cluster: SimCluster) -> None:
    ips = set()
    for i in range(200):
        svc = cluster.apply(
            {"kind": "Service", "metadata": {"name": f"s{i}"}, "spec": {"ports": [{"port": 80}]}}
        )
        ips.add(svc["spec"]["clusterIP"])
    assert len(ips) == 200 and "10.96.0.1" not in ips


def test_deployment_needs_selector_matching_template(cluster: SimCluster) -> None:
    bad = deployment("web", 1)
    del bad["spec"]["selector"]
    with pytest.raises(ApiError) as err:
        cluster.apply(bad)
    assert err.value.code == 422 and "spec.selector" in err.value.message
    mismatch = deployment("web", 1)
    mismatch["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(ApiError):
        cluster.apply(mismatch)


def test_deployment_defaults(cluster: SimCluster) -> None:
    d = cluster.apply(deployment("web", 1))
    assert d["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert d["spec"]["revisionHistoryLimit"] == 10 and d["spec"]["progressDeadlineSeconds"] == 600
    assert "kubectl.kubernetes.io/last-applied-configuration" in d["metadata"]["annotations"]


def test_apply_keeps_scaled_replicas_when_manifest_omits_them(cluster: SimCluster) -> None:
    manifest = deployment("web", 2)
    del manifest["spec"]["replicas"]
    cluster.apply(manifest)
    cluster.scale("default", "web", 5)
    out = cluster.apply(manifest)
    assert out["spec"]["replicas"] == 5


# ---- events --------------------------------------------------------------------------------------
def test_events_are_bounded_and_aggregated() -> None:
    c = SimCluster(config=SimConfig(max_events=20))
    c.start()
    c.apply(deployment("web", 15))
    c.run_for(5)
    evs = c.store.list("Event")
    assert len(evs) == 20
    ev = evs[0]
    assert {
        "involvedObject",
        "reason",
        "message",
        "type",
        "source",
        "count",
        "firstTimestamp",
        "lastTimestamp",
    } <= set(ev)
    assert ev["reportingComponent"] == ev["source"]["component"]


def test_per_pod_timers_cancelled_when_pods_go(cluster: SimCluster) -> None:
    cluster.apply(deployment("web", 20, probe=True))
    cluster.run_for(0)
    cluster.delete("Deployment", "default", "web")
    cluster.run_for(0)
    cluster.run_for(60)
    assert pods(cluster, "web") == []
    assert cluster.clock.next_deadline() is None or all(
        t.cancelled for t in cluster.clock._heap if t.when > cluster.clock.now()
    )
