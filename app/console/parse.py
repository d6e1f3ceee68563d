"""Check one kubectl command line typed in the page (pure): split it like a shell would, allow only the
lessons' verbs and a known set of flags, and refuse anything that points kubectl elsewhere or at files."""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass

MAX_COMMAND_CHARS = 2000

# Flag kinds: VALUE takes the next word (or =value); BOOL and OPTIONAL take a value only as --flag=value.
VALUE, BOOL, OPTIONAL = "value", "bool", "optional"

# Every flag the console passes on, by spelling. Anything else is refused: an unknown flag could take a
# value kubectl reads differently from us and hide the real verb behind it.
FLAGS: dict[str, str] = {
    # global
    "-n": VALUE, "--namespace": VALUE, "--request-timeout": VALUE, "-v": VALUE, "--v": VALUE,
    "-h": BOOL, "--help": BOOL, "--warnings-as-errors": BOOL, "--match-server-version": BOOL,
    # listing and output
    "-o": VALUE, "--output": VALUE, "-l": VALUE, "--selector": VALUE, "--field-selector": VALUE,
    "-A": BOOL, "--all-namespaces": BOOL, "-w": BOOL, "--watch": BOOL, "--watch-only": BOOL,
    "--output-watch-events": BOOL, "--show-labels": BOOL, "--no-headers": BOOL, "-L": VALUE,
    "--label-columns": VALUE, "--sort-by": VALUE, "--show-kind": BOOL, "--chunk-size": VALUE,
    "--ignore-not-found": BOOL, "--raw": VALUE, "--template": VALUE, "--allow-missing-template-keys": BOOL,
    "--show-managed-fields": BOOL, "--subresource": VALUE, "--show-events": BOOL,
    # files: only shipped manifest names or "-" (checked below)
    "-f": VALUE, "--filename": VALUE,
    # label / annotate
    "--overwrite": BOOL, "--all": BOOL, "--list": BOOL, "--local": BOOL, "--resource-version": VALUE,
    "--field-manager": VALUE, "--dry-run": OPTIONAL,
    # scale
    "--replicas": VALUE, "--current-replicas": VALUE, "--timeout": VALUE,
    # delete
    "--grace-period": VALUE, "--force": BOOL, "--now": BOOL, "--wait": BOOL, "--cascade": OPTIONAL,
    # apply
    "--server-side": BOOL, "--force-conflicts": BOOL, "--validate": OPTIONAL,
    # rollout status
    "--revision": VALUE,
    # version / api-resources
    "--client": BOOL, "--namespaced": BOOL, "--api-group": VALUE, "--verbs": VALUE, "--cached": BOOL,
    "--categories": VALUE,
}  # fmt: skip

# Flags with a reason of their own (the rest of the unknown ones get a generic message).
# fmt: off
_ELSEWHERE = ("--kubeconfig", "--server", "-s", "--context", "--cluster", "--user", "--token", "--as",
              "--as-group", "--as-uid", "--as-user-extra", "--username", "--password",
              "--certificate-authority", "--client-certificate", "--client-key", "--insecure-skip-tls-verify",
              "--tls-server-name")
_FILES = ("--output-directory", "--cache-dir", "--log-file", "--log_file", "--log-dir", "--log_dir",
          "--profile", "--profile-output", "-k", "--kustomize", "-R", "--recursive", "--record")
# fmt: on
REFUSED_FLAGS: dict[str, str] = {
    **dict.fromkeys(_ELSEWHERE, "it would point kubectl away from the simulated cluster or its identity"),
    **dict.fromkeys(_FILES, "it reads or writes files on the server"),
    **dict.fromkeys(("-i", "--interactive", "--edit"), "the console cannot answer prompts or open an editor"),
}

VERBS = ("get", "describe", "label", "annotate", "scale", "delete", "apply", "rollout", "version",
         "api-resources", "cluster-info")  # fmt: skip
_NEEDS_TERMINAL = ("exec", "attach", "cp", "debug", "port-forward", "proxy", "run", "edit")
_LOCAL = ("plugin", "config", "kustomize", "completion", "alpha", "auth", "certificate")
REFUSED_VERBS: dict[str, str] = {
    **dict.fromkeys(_NEEDS_TERMINAL, "it needs a terminal, files or a network the simulated cluster lacks"),
    **dict.fromkeys(_LOCAL, "it works on local files or credentials, not on the cluster"),
}
ROLLOUT_SUBCOMMANDS = ("status",)
OUTPUT_FORMATS = ("wide", "yaml", "json", "name")
OUTPUT_PREFIXES = ("jsonpath=", "jsonpath-as-json=", "custom-columns=", "go-template=", "template=")
SHELL_OPERATORS = frozenset(
    ("|", "||", "&", "&&", ";", ";;", ">", ">>", "<", "<<", "(", ")", "<&", ">&", "&>")
)
_PLACEHOLDER = re.compile(r"<[A-Za-z][\w-]*>")
_TRUE = ("", "true", "1", "t", "True", "TRUE")


class Refused(ValueError):
    """A command the console will not run; str(e) is the one-line reason shown to the user."""


@dataclass(frozen=True)
class Command:
    """An accepted command: the arguments after `kubectl`, exactly as typed."""

    args: tuple[str, ...]
    verb: str
    streaming: bool  # a watch or rollout status: runs until the console's time limit
    manifests: tuple[str, ...]  # shipped manifest names kubectl will read from its working directory
    stdin: bool  # `-f -`: the request's manifest text is kubectl's standard input


def split_words(line: str) -> list[str]:
    """Split like a POSIX shell (quotes, escapes); shell operators come out as words of their own."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError as e:  # "No closing quotation", "No escaped character"
        raise Refused(f"cannot read the command: {str(e).lower()}") from None


def _split_flag(word: str) -> tuple[str, str | None]:
    """'--name=v' -> ('--name', 'v'); '-nfoo'/'-n=foo' -> ('-n', 'foo'); '-w' -> ('-w', None)."""
    if word.startswith("--"):
        name, eq, value = word.partition("=")
        return name, value if eq else None
    if len(word) > 2:
        rest = word[2:]
        return word[:2], rest[1:] if rest.startswith("=") else rest
    return word, None


def _check_output(value: str) -> None:
    if value in OUTPUT_FORMATS or value.startswith(OUTPUT_PREFIXES):
        return
    if "-file" in value.partition("=")[0]:
        raise Refused(f"refused -o {value.partition('=')[0]}: it reads a template file on the server; "
                      "give the template inline (e.g. -o jsonpath=...)")  # fmt: skip
    allowed = ", ".join((*OUTPUT_FORMATS, *(p + "..." for p in OUTPUT_PREFIXES)))
    raise Refused(f"refused -o {value}: the console supports {allowed}")


def _check_file(value: str, shipped: Collection[str]) -> list[str]:
    names = value.split(",")
    for name in names:
        if name != "-" and name not in shipped:
            choices = ", ".join(sorted(shipped)) or "none"
            raise Refused(
                f"refused -f {name}: the console reads no files from the server; use -f - with the manifest "
                f"text, or one of the shipped manifests: {choices}"
            )
    return names


def _bool_value(name: str, value: str | None) -> bool:
    if value is None or value in _TRUE:
        return True
    if value in ("false", "0", "f", "False", "FALSE"):
        return False
    raise Refused(f"refused {name}={value}: expected true or false")


def _check_verb(verb: str) -> None:
    if verb in REFUSED_VERBS:
        raise Refused(f"refused kubectl {verb}: {REFUSED_VERBS[verb]}")
    if verb not in VERBS:
        raise Refused(f"refused kubectl {verb}: the console runs only {', '.join(VERBS)}")


def parse_command(line: str, shipped: Collection[str] = ()) -> Command:
    """Check a command line; returns the Command to run or raises Refused naming what and why."""
    if len(line) > MAX_COMMAND_CHARS:
        raise Refused(f"the command is longer than {MAX_COMMAND_CHARS} characters")
    if "\n" in line.strip() or "\r" in line:
        raise Refused("one command at a time: the console runs a single line")
    words = split_words(line.strip())
    if not words:
        raise Refused("type a kubectl command, e.g. kubectl get pods")
    if words[0] != "kubectl":
        raise Refused(f"refused {words[0]!r}: this console runs only kubectl commands (start with `kubectl`)")
    placeholder = _PLACEHOLDER.search(line)
    if placeholder:
        raise Refused(
            f"refused {placeholder.group()}: replace it with a real name (kubectl get pods lists them)"
        )
    args = words[1:]
    positionals: list[str] = []
    manifests: list[str] = []
    stdin = streaming_flag = False
    watch_default: bool | None = None
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word in SHELL_OPERATORS:
            raise Refused(f"refused {word!r}: pipes, redirects and command lists need a shell; this console "
                          "runs one kubectl command")  # fmt: skip
        if word == "--":
            raise Refused("refused '--': nothing after it is needed by the lessons' commands")
        if not word.startswith("-") or word == "-":
            positionals.append(word)
            if len(positionals) == 1:
                _check_verb(word)  # before the flags after it: `exec -it` is refused for exec
            continue
        name, value = _split_flag(word)
        if name in REFUSED_FLAGS:
            raise Refused(f"refused {name}: {REFUSED_FLAGS[name]}")
        kind = FLAGS.get(name)
        if kind is None:
            raise Refused(f"refused {name}: this flag is not available in the console")
        if kind == VALUE and value is None:
            if i >= len(args):
                raise Refused(f"{name} needs a value")
            value = args[i]
            i += 1
        if kind == BOOL:
            flag_on = _bool_value(name, value)
            if name in ("-w", "--watch", "--watch-only"):
                streaming_flag = streaming_flag or flag_on
                if name == "--watch":
                    watch_default = flag_on
        elif name in ("-o", "--output"):
            _check_output(value or "")
        elif name == "--raw" and not (value or "").startswith("/"):
            raise Refused("refused --raw: give an API path starting with / (e.g. --raw /api/v1/namespaces)")
        elif name in ("-f", "--filename"):
            for file in _check_file(value or "", shipped):
                if file == "-":
                    if stdin:
                        raise Refused("-f - can be given once: the request carries one manifest text")
                    stdin = True
                elif file not in manifests:
                    manifests.append(file)
    if not positionals:
        raise Refused("which command? e.g. kubectl get pods")
    verb = positionals[0]
    if verb == "rollout":
        sub = positionals[1] if len(positionals) > 1 else ""
        if sub not in ROLLOUT_SUBCOMMANDS:
            shown = f"kubectl rollout {sub}".rstrip()
            raise Refused(f"refused {shown}: the console runs only rollout status")
    if verb == "cluster-info" and len(positionals) > 1:
        raise Refused(f"refused kubectl cluster-info {positionals[1]}: it writes files on the server")
    if verb == "apply" and len(positionals) > 1:
        raise Refused(f"refused kubectl apply {positionals[1]}: the console runs only apply -f")
    streaming = streaming_flag or (verb == "rollout" and watch_default is not False)
    return Command(args=tuple(args), verb=verb, streaming=streaming, manifests=tuple(manifests), stdin=stdin)
