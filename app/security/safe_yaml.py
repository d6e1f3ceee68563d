"""YAML with limits: text size, nesting depth, alias count and the size the aliases expand to (the
"billion laughs" document stops at the first alias past the bound, before anything is built)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class YamlLimits:
    max_bytes: int = 1024 * 1024
    max_depth: int = 100  # mappings and lists inside each other
    max_aliases: int = 1000  # `*name` references in one document
    max_nodes: int = 200_000  # nodes of the document with every alias expanded in place


class YamlLimitError(yaml.MarkedYAMLError):
    """A document over one of the limits; `problem_mark` says where (line and column)."""


class LimitedSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that counts while composing: depth, aliases, and expanded nodes (a node
    reached through an alias counts for its whole subtree every time)."""

    limits = YamlLimits()

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._expanded = 0
        self._sizes: dict[int, int] = {}  # id(anchored node) -> its expanded size
        self._open_anchors: list[str] = []  # anchors of the nodes being composed (an alias to one loops)

    def _fail(self, problem: str) -> YamlLimitError:
        mark = self.peek_event().start_mark if self.check_event() else None
        return YamlLimitError(problem=problem, problem_mark=mark)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:  # type: ignore[override]
        limits = self.limits
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > limits.max_aliases:
                raise self._fail(f"more than {limits.max_aliases} aliases")
            anchor = self.peek_event().anchor
            if anchor in self._open_anchors:
                raise self._fail(f"the alias *{anchor} refers to a node that contains it (an endless loop)")
            node = self.anchors.get(anchor) if anchor is not None else None
            if node is not None:
                self._count(self._expanded_size(node))
            return super().compose_node(parent, index)
        anchor = getattr(self.peek_event(), "anchor", None)
        self._depth += 1
        self._open_anchors.append(anchor or "")
        try:
            if self._depth > limits.max_depth:
                raise self._fail(f"nested more than {limits.max_depth} levels deep")
            self._count(1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open_anchors.pop()

    def _count(self, nodes: int) -> None:
        self._expanded += nodes
        if self._expanded > self.limits.max_nodes:
            raise self._fail(
                f"aliases expand the document past {self.limits.max_nodes} nodes "
                "(a document that multiplies itself through aliases)"
            )

    def _expanded_size(self, node: yaml.Node) -> int:
        """The node's subtree size with aliases expanded, without recursion (memoized per node)."""
        stack: list[tuple[yaml.Node, bool]] = [(node, False)]
        while stack:
            current, children_done = stack.pop()
            if id(current) in self._sizes:
                continue
            children = _children(current)
            if children_done or not children:
                self._sizes[id(current)] = 1 + sum(self._sizes.get(id(c), 1) for c in children)
                if self._sizes[id(current)] > self.limits.max_nodes:
                    self._sizes[id(current)] = self.limits.max_nodes + 1
                continue
            stack.append((current, True))
            stack.extend((c, False) for c in children if id(c) not in self._sizes)
        return self._sizes[id(node)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def limited_loader(limits: YamlLimits) -> type[LimitedSafeLoader]:
    """A LimitedSafeLoader class with these limits."""
    return type("LimitedSafeLoader", (LimitedSafeLoader,), {"limits": limits})


def check_size(text: str | bytes, limits: YamlLimits) -> None:
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    if size > limits.max_bytes:
        raise YamlLimitError(problem=f"the document is larger than {limits.max_bytes // 1024} KiB")


def safe_load(text: str | bytes, limits: YamlLimits = YamlLimits()) -> Any:
    """yaml.safe_load within the limits; raises yaml.YAMLError (YamlLimitError past a limit)."""
    check_size(text, limits)
    loader = limited_loader(limits)(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
