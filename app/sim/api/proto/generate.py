"""Writes schema_data.py: the protobuf messages of the served API groups (field numbers and wire types
from Kubernetes' generated.proto files) joined with the JSON behaviour of their Go fields (JSON name,
omitempty/omitzero, pointer, inline, from the types' `json` and `protobuf` struct tags).

Run against git checkouts of k8s.io/api and k8s.io/apimachinery (Apache-2.0), e.g.:
    python -m app.sim.api.proto.generate --api API.git --apimachinery APIMACHINERY.git --ref v0.36.3
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# proto package -> (repository key, directory in it, short name used in the table, apiVersion or "")
PACKAGES: dict[str, tuple[str, str, str, str]] = {
    "k8s.io.api.core.v1": ("api", "core/v1", "core.v1", "v1"),
    "k8s.io.api.apps.v1": ("api", "apps/v1", "apps.v1", "apps/v1"),
    "k8s.io.api.discovery.v1": ("api", "discovery/v1", "discovery.v1", "discovery.k8s.io/v1"),
    "k8s.io.api.autoscaling.v1": ("api", "autoscaling/v1", "autoscaling.v1", "autoscaling/v1"),
    "k8s.io.apimachinery.pkg.apis.meta.v1": ("apimachinery", "pkg/apis/meta/v1", "meta.v1", "meta.k8s.io/v1"),
    "k8s.io.apimachinery.pkg.runtime": ("apimachinery", "pkg/runtime", "runtime", ""),
    "k8s.io.apimachinery.pkg.runtime.schema": ("apimachinery", "pkg/runtime/schema", "schema", ""),
    "k8s.io.apimachinery.pkg.util.intstr": ("apimachinery", "pkg/util/intstr", "intstr", ""),
    "k8s.io.apimachinery.pkg.api.resource": ("apimachinery", "pkg/api/resource", "resource", ""),
}
# Every message of these packages is kept; other packages only for what these reach.
WHOLE = ("k8s.io.api.core.v1", "k8s.io.api.apps.v1", "k8s.io.api.discovery.v1")
EXTRA_ROOTS = (
    "k8s.io.api.autoscaling.v1.Scale",
    "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "k8s.io.apimachinery.pkg.apis.meta.v1.CreateOptions",
    "k8s.io.apimachinery.pkg.apis.meta.v1.UpdateOptions",
    "k8s.io.apimachinery.pkg.apis.meta.v1.PatchOptions",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Status",
)
# core/v1 List is `type List metav1.List` (no struct of its own) and no request body.
SKIP = {"k8s.io.api.core.v1.List"}
# Messages with a hand-written JSON form (custom MarshalJSON / protobuf code in Go).
SPECIAL = {
    "meta.v1.Time",
    "meta.v1.MicroTime",
    "meta.v1.Duration",
    "meta.v1.FieldsV1",
    "resource.Quantity",
    "intstr.IntOrString",
    "runtime.RawExtension",
}
REPEATED, POINTER, OMITEMPTY, INLINE, OMITZERO = 1, 2, 4, 8, 16

_MESSAGE = re.compile(r"^message (\w+) \{$")
_FIELD = re.compile(r"^\s*(optional|repeated|required) ([\w.]+) (\w+) = (\d+);")
_MAP = re.compile(r"^\s*map<([\w.]+), ([\w.]+)> (\w+) = (\d+);")
_STRUCT = re.compile(r"^type (\w+) struct \{$")
_TAG = re.compile(r'(\w+):"([^"]*)"')
# The scalar types the decoder (messages.py) reads; any other one stops the generator.
SCALARS = {"string", "bool", "int32", "int64", "bytes"}


@dataclass
class ProtoField:
    name: str
    number: int
    type: str  # scalar name or full message name (no leading dot)
    repeated: bool
    map_value: str | None = None  # map<string, map_value>


@dataclass
class GoField:
    go_name: str
    json_name: str
    flags: int


@dataclass
class Message:
    package: str
    name: str
    fields: list[ProtoField] = field(default_factory=list)


class Source:
    """Files of one git repository at one ref."""

    def __init__(self, git_dir: str, ref: str) -> None:
        self.git_dir, self.ref = git_dir, ref

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", self.git_dir, *args], capture_output=True, text=True, check=True
        ).stdout

    def read(self, path: str) -> str:
        return self.run("show", f"{self.ref}:{path}")

    def list(self, directory: str) -> list[str]:
        return self.run("ls-tree", "--name-only", f"{self.ref}:{directory}").split()

    def commit(self) -> str:
        return self.run("rev-parse", f"{self.ref}^{{commit}}").strip()


def parse_proto(text: str) -> list[Message]:
    package = re.search(r"^package ([\w.]+);", text, re.M)
    assert package, "no package line"
    pkg = package.group(1)
    messages: list[Message] = []
    current: Message | None = None
    for line in text.splitlines():
        if current is None:
            m = _MESSAGE.match(line)
            if m:
                current = Message(pkg, m.group(1))
            continue
        if line == "}":
            messages.append(current)
            current = None
            continue
        if (m := _MAP.match(line)) is not None:
            key, value, name, number = m.groups()
            assert key == "string", line
            current.fields.append(ProtoField(name, int(number), "map", False, _qualify(value, pkg)))
        elif (m := _FIELD.match(line)) is not None:
            label, type_, name, number = m.groups()
            current.fields.append(ProtoField(name, int(number), _qualify(type_, pkg), label == "repeated"))
        elif line.strip() and not line.strip().startswith("//"):
            raise ValueError(f"unparsed line in {pkg}.{current.name}: {line!r}")
    return messages


def _qualify(type_: str, pkg: str) -> str:
    if type_ in SCALARS:
        return type_
    return type_[1:] if type_.startswith(".") else f"{pkg}.{type_}"


def parse_go_structs(text: str) -> dict[str, dict[str, GoField]]:
    """struct name -> protobuf field name -> its Go JSON behaviour; "" key marks a kind (TypeMeta)."""
    structs: dict[str, dict[str, GoField]] = {}
    current: dict[str, GoField] | None = None
    for line in text.splitlines():
        if current is None:
            m = _STRUCT.match(line)
            if m:
                current = structs.setdefault(m.group(1), {})
            continue
        if line == "}":
            current = None
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("//") or "`" not in stripped:
            continue
        decl, tag_text = stripped.split("`", 1)
        tags = dict(_TAG.findall(tag_text))
        words = decl.split()
        go_type = words[-1]
        go_name = words[0] if len(words) == 2 else go_type.rsplit(".", 1)[-1].lstrip("*")
        json_tag = tags.get("json", "").split(",")
        if go_type.endswith("TypeMeta") and "inline" in json_tag:
            current[""] = GoField("TypeMeta", "", INLINE)
            continue
        proto_tag = tags.get("protobuf", "")
        if not proto_tag or proto_tag == "-":
            continue
        options = dict(p.split("=", 1) for p in proto_tag.split(",") if "=" in p)
        proto_name = options.get("name") or go_name[:1].lower() + go_name[1:]
        flags = 0
        if go_type.startswith("*"):
            flags |= POINTER
        if "omitempty" in json_tag[1:]:
            flags |= OMITEMPTY
        if "omitzero" in json_tag[1:]:
            flags |= OMITZERO
        if "inline" in json_tag[1:]:
            flags |= INLINE
        json_name = json_tag[0] or ("" if flags & INLINE else go_name)
        current[proto_name] = GoField(go_name, json_name, flags)
    return structs


def short(full: str) -> str:
    for pkg, (_, _, alias, _) in PACKAGES.items():
        if full.startswith(pkg + ".") and "." not in full[len(pkg) + 1 :]:
            return f"{alias}.{full[len(pkg) + 1 :]}"
    raise KeyError(f"message of an unknown package: {full}")


def build(sources: dict[str, Source]) -> tuple[dict[str, list[tuple]], dict[str, str]]:
    """(short message name -> field rows in Go order, "apiVersion/Kind" -> short message name)."""
    messages: dict[str, Message] = {}
    go: dict[str, dict[str, dict[str, GoField]]] = {}
    for pkg, (repo, directory, _, _) in PACKAGES.items():
        src = sources[repo]
        for msg in parse_proto(src.read(f"{directory}/generated.proto")):
            messages[f"{pkg}.{msg.name}"] = msg
        structs: dict[str, dict[str, GoField]] = {}
        for name in src.list(directory):
            if not name.endswith(".go") or name.endswith(("_test.go", ".pb.go", "_fuzz.go")):
                continue
            if name.startswith("zz_generated") or name == "fieldsv1_string.go":
                continue
            structs.update(parse_go_structs(src.read(f"{directory}/{name}")))
        go[pkg] = structs

    wanted = [n for n in messages if n.rsplit(".", 1)[0] in WHOLE and n not in SKIP] + list(EXTRA_ROOTS)
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        for f in messages[name].fields:
            for ref in (f.type, f.map_value):
                if ref and ref not in SCALARS and ref != "map":
                    if ref not in messages:
                        raise ValueError(
                            f"{name}.{f.name}: {ref} is neither a scalar the decoder reads nor a message"
                        )
                    wanted.append(ref)

    table: dict[str, list[tuple]] = {}
    kinds: dict[str, str] = {}
    for full in sorted(seen, key=short):
        msg = messages[full]
        alias = short(full)
        by_proto = {f.name: f for f in msg.fields}
        struct = go[msg.package].get(msg.name)
        if alias in SPECIAL:  # decoded by hand: only the wire fields matter
            struct = {f.name: GoField(f.name[:1].upper() + f.name[1:], f.name, 0) for f in msg.fields}
        elif struct is None:
            raise ValueError(f"no Go struct for {full}")
        missing = set(by_proto) - set(struct)
        if missing:
            raise ValueError(f"{full}: proto fields without a Go field: {sorted(missing)}")
        rows: list[tuple] = []
        for proto_name, gf in struct.items():
            if proto_name == "":
                continue
            pf = by_proto[proto_name]
            flags = gf.flags | (REPEATED if pf.repeated else 0)
            type_ = pf.type if pf.type in SCALARS or pf.type == "map" else short(pf.type)
            value = (pf.map_value if pf.map_value in SCALARS else short(pf.map_value)) if pf.map_value else ""
            go_name = "" if gf.go_name == gf.json_name[:1].upper() + gf.json_name[1:] else gf.go_name
            rows.append((pf.number, gf.json_name, type_, value, flags, go_name))
        table[alias] = rows
        api_version = PACKAGES[msg.package][3]
        if "" in struct and api_version:
            kinds[f"{api_version}/{msg.name}"] = alias
    return table, kinds


def _literal(value: object) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def render(table: dict[str, list[tuple]], kinds: dict[str, str], note: str) -> str:
    out = [
        f'"""{note}"""',
        "",
        "# Field rows in Go struct order: (number, JSON name, type, map value type, flags, Go name if",
        "# not the JSON name capitalised). Types are protobuf scalars, 'map', or message names.",
        "# Flags: 1 repeated, 2 Go pointer, 4 omitempty, 8 inline, 16 omitzero.",
        "",
        "MESSAGES: dict[str, tuple[tuple[int, str, str, str, int, str], ...]] = {",
    ]
    for name, rows in table.items():
        out.append(f"    {_literal(name)}: (")
        out += [f"        {_literal(row)}," for row in rows]
        out.append("    ),")
    out.append("}")
    out.append("")
    out.append("# The top-level kinds (Go types with TypeMeta): 'apiVersion/Kind' -> message.")
    out.append("KINDS: dict[str, str] = {")
    out += [f"    {_literal(k)}: {_literal(v)}," for k, v in sorted(kinds.items())]
    out.append("}")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="git directory of k8s.io/api")
    parser.add_argument("--apimachinery", required=True, help="git directory of k8s.io/apimachinery")
    parser.add_argument(
        "--ref",
        default="v0.36.3",
        help="tag or commit in both (v0.36.3: Kubernetes 1.36.3)",
    )
    parser.add_argument("--out", default=str(Path(__file__).with_name("schema_data.py")))
    args = parser.parse_args()
    sources = {"api": Source(args.api, args.ref), "apimachinery": Source(args.apimachinery, args.ref)}
    table, kinds = build(sources)
    note = (
        "Generated by app/sim/api/proto/generate.py; do not edit. Protobuf field numbers and types of the\n"
        f"Kubernetes API messages, from k8s.io/api and k8s.io/apimachinery {args.ref} "
        f"({sources['api'].commit()[:12]}, {sources['apimachinery'].commit()[:12]}):\n"
        "generated.proto files and the types' Go struct tags. Source: Copyright The Kubernetes Authors,\n"
        "Apache License 2.0."
    )
    Path(args.out).write_text(render(table, kinds, note))
    subprocess.run([sys.executable, "-m", "ruff", "format", "--quiet", args.out], check=True)
    print(f"wrote {args.out}: {len(table)} messages, {len(kinds)} kinds")


if __name__ == "__main__":
    main()
