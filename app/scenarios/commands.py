"""The kubectl commands the console suggests during a lesson step: the step's own `commands`, then
commands about what the step names (its Services and selectors), then the scenario's; never a
Service the lesson does not have."""

from __future__ import annotations

from collections.abc import Callable

from app.scenarios.format import Scenario, ServiceCheck, Step

MAX_SUGGESTED = 8


def _ns_flag(namespace: str) -> str:
    return "" if namespace == "default" else f" -n {namespace}"


def _split(key: str, namespace: str) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return (ns or namespace, name)


def _derived(scenario: Scenario, step: Step, present: Callable[[str, str], bool]) -> list[str]:
    """Commands about the Services (that exist now) and selectors the step highlights or checks."""
    out: list[str] = []
    services = [_split(k, scenario.namespace) for k in step.highlight.services]
    services += [(c.namespace, c.name) for c in step.expect if isinstance(c, ServiceCheck)]
    for ns, name in dict.fromkeys(services):
        if not present(ns, name):
            continue
        flag = _ns_flag(ns)
        out.append(f"kubectl get endpointslices{flag} -l kubernetes.io/service-name={name}")
        out.append(f"kubectl describe endpoints{flag} {name}")
    for selector in step.highlight.selectors:
        terms = ",".join(f"{k}={v}" for k, v in selector.items())
        if terms:
            out.append(f"kubectl get pods{_ns_flag(scenario.namespace)} -l {terms} -o wide")
    return out


def suggested_commands(
    scenario: Scenario, step: Step | None, present: Callable[[str, str], bool] = lambda ns, name: True
) -> list[str]:
    """At most MAX_SUGGESTED commands for this step (None: before step 1), most specific first.
    `present(namespace, name)` says whether a Service exists now (one that does not is not named)."""
    flag = _ns_flag(scenario.namespace)
    own = step.commands if step is not None else ()
    about = _derived(scenario, step, present) if step is not None else []
    lines = [
        *own,
        *about,
        *scenario.commands,
        f"kubectl get endpoints{flag}",
        f"kubectl get pods{flag} -o wide --show-labels",
    ]
    return list(dict.fromkeys(lines))[:MAX_SUGGESTED]
