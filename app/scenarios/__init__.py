"""Classroom scenarios as data: YAML lessons (format, loader) stepped on a simulated cluster (runner)."""

from app.scenarios.format import Scenario, Step
from app.scenarios.loader import ScenarioError, builtin_scenarios, load_scenario, parse_scenario

__all__ = ["Scenario", "ScenarioError", "Step", "builtin_scenarios", "load_scenario", "parse_scenario"]
