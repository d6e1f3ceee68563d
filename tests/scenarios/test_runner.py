"""Every shipped scenario stepped start to end on a manual SimClock with each step's expectations
checked against the store; back/restart/goto replay to the same state; runtime errors name the step."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.kinds import KINDS
from app.scenarios import ScenarioError, builtin_scenarios, load_scenario
from app.scenarios.runner import ScenarioRunner
from app.sim.store import StoreEvent

SCENARIOS = builtin_scenarios()

# Steps whose expectation is true to Kubernetes but fails because of a simulator bug:
# (scenario name, step title) -> reason naming the bug. Empty when the simulator gets them all right.
SIM_BUGS: dict[tuple[str, str], str] = {}


def dump(runner: ScenarioRunner) -> dict[str, dict[str, dict]]:
    store = runner.cluster.store
    return {
        kind: {f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": o for o in store.list(kind)}
        for kind in KINDS
    }


def failures(runner: ScenarioRunner) -> list[str]:
    return [f"{r.text}: {'; '.join(r.problems)}" for r in runner.check() if not r.ok]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_shipped_scenario_holds_at_every_step(name: str) -> None:
    scenario = SCENARIOS[name]
    runner = ScenarioRunner(scenario)
    assert runner.position == 0 and runner.check() == []
    problems = []
    while not runner.at_end:
        step = runner.next()
        assert step is not None
        bad = failures(runner)
        if not bad:
            continue
        reason = SIM_BUGS.get((name, step.title))
        if reason:
            problems.append(("xfail", f"step {runner.position} {step.title!r}: {bad} [{reason}]"))
        else:
            problems.append(("fail", f"step {runner.position} {step.title!r}: {bad}"))
    assert runner.position == len(scenario.steps) and runner.next() is None
    hard = [p for kind, p in problems if kind == "fail"]
    assert not hard, "\n".join(hard)
    if problems:
        pytest.xfail("; ".join(p for _, p in problems))


def test_back_and_restart_give_the_state_of_a_fresh_run() -> None:
    scenario = SCENARIOS["endpoints-basics"]
    fresh = {}
    for n in (0, 2, 3):
        r = ScenarioRunner(scenario)
        r.goto(n)
        fresh[n] = dump(r)
    assert fresh[2] != fresh[3], "the relabel step must change the cluster"

    resets = []
    runner = ScenarioRunner(scenario, on_reset=resets.append)
    runner.goto(4)
    old_cluster = runner.cluster
    assert runner.back() is scenario.steps[2] and runner.position == 3
    assert runner.cluster is not old_cluster and resets == [runner.cluster]
    assert dump(runner) == fresh[3]
    assert runner.remembered["orphan"], "replay must re-learn which pod was relabelled"
    runner.back()
    assert runner.position == 2 and dump(runner) == fresh[2]
    runner.next()
    assert dump(runner) == fresh[3]
    runner.restart()
    assert runner.position == 0 and runner.current_step is None and dump(runner) == fresh[0]
    assert len(resets) == 3
    with pytest.raises(ValueError):
        runner.goto(len(scenario.steps) + 1)


def test_highlight_resolves_the_remembered_pod_and_its_ip() -> None:
    runner = ScenarioRunner(SCENARIOS["readiness"])
    runner.goto(3)  # one pod fails its probe
    (ns, name) = runner.remembered["sick"][0]
    pod = runner.cluster.store.get("Pod", ns, name)
    assert pod is not None
    ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"]
    assert ready == "False"
    hl = runner.highlight()
    assert hl["services"] == ["default/web-svc"]
    assert hl["pods"] == [f"{ns}/{name}"]
    assert hl["ips"] == [pod["status"]["podIP"]]
    state = runner.state()
    json.dumps(state)
    assert state["position"] == 3 and state["total"] == 4
    assert state["step"]["title"] == "One pod fails its readiness probe"
    assert state["next"] == "The probe passes again"
    assert all(c["ok"] for c in state["checks"])


def test_first_ready_picks_by_name_among_ready_pods() -> None:
    runner = ScenarioRunner(SCENARIOS["readiness"])
    runner.goto(1)
    pods = sorted(p["metadata"]["name"] for p in runner.cluster.store.list("Pod", "default", {"app": "web"}))
    runner.goto(3)
    assert runner.remembered["sick"] == [("default", pods[0])]


def test_flapping_rewrites_the_slice_on_every_flip() -> None:
    scenario = SCENARIOS["flapping"]
    runner = ScenarioRunner(scenario)
    runner.goto(2)  # one probe fails
    flips: list[bool] = []

    def on_event(ev: StoreEvent) -> None:
        labels = ev.obj["metadata"].get("labels") or {}
        if ev.kind == "EndpointSlice" and labels.get("kubernetes.io/service-name") == "checkout":
            ready = sorted(e["conditions"]["ready"] for e in ev.obj.get("endpoints") or ())
            if not flips or flips[-1] != all(ready):
                flips.append(all(ready))

    runner.cluster.store.subscribe(on_event)
    step = runner.next()
    assert step is not None and step.title == "It flaps"
    times = step.actions[0].times  # type: ignore[union-attr]
    assert flips == [True, False] * (times - 1) + [True], flips


def test_a_step_that_finds_no_pod_names_the_file_and_step(tmp_path: Path) -> None:
    path = tmp_path / "nopod.yaml"
    path.write_text(
        "name: nopod\ntitle: t\nsummary: s\nsteps:\n"
        "  - title: Relabel a ghost\n"
        "    narration: There is no such pod. This must fail.\n"
        "    actions:\n"
        "      - label: {pod: {selector: {app: ghost}}, set: {app: debug}}\n",
        encoding="utf-8",
    )
    runner = ScenarioRunner(load_scenario(path))
    with pytest.raises(ScenarioError) as info:
        runner.next()
    message = str(info.value)
    assert f"{path}, line 5" in message and "step 1 ('Relabel a ghost')" in message
    assert "no pod found for the first pod in default with app=ghost" in message
    assert runner.position == 0


def test_setup_with_the_default_lesson(tmp_path: Path) -> None:
    path = tmp_path / "lesson.yaml"
    path.write_text(
        "name: lesson\ntitle: t\nsummary: s\nsetup: {lesson: default, wait: 30}\nsteps:\n"
        "  - title: Look\n"
        "    narration: The lesson objects are loaded. shipping-api has its endpoints.\n"
        "    expect:\n"
        "      - {service: shipping-api-service, ready: 4}\n"
        "      - {endpoints: shipping-api-service, addresses: 4}\n",
        encoding="utf-8",
    )
    runner = ScenarioRunner(load_scenario(path))
    runner.next()
    assert failures(runner) == []


async def test_next_live_sleeps_through_the_waits_and_ends_in_the_same_state() -> None:
    scenario = SCENARIOS["readiness"]
    fresh = ScenarioRunner(scenario)
    fresh.goto(3)

    runner = ScenarioRunner(scenario)
    slept: list[float] = []
    gate = asyncio.Event()

    async def sleep(seconds: float) -> None:
        # stands in for real time passing while a RealtimeDriver moves the clock
        slept.append(seconds)
        await gate.wait()
        runner.cluster.run_for(seconds)

    gate.set()
    await runner.next_live(sleep)
    await runner.next_live(sleep)
    gate.clear()
    task = asyncio.create_task(runner.next_live(sleep))
    await asyncio.sleep(0)
    assert runner.position == 2 and slept[-1] == 30.0, "paused inside the third step's wait"
    with pytest.raises(RuntimeError, match="already running"):
        runner.next()
    with pytest.raises(RuntimeError, match="already running"):
        runner.back()
    gate.set()
    step = await task
    assert step is not None and step.title == "One pod fails its readiness probe"
    assert slept == [30.0, 2.0, 30.0]
    assert runner.position == 3 and failures(runner) == []
    assert dump(runner) == dump(fresh)
