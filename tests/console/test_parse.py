"""parse_command: the lessons' commands pass unchanged; anything that would point kubectl elsewhere, touch
files or need a shell is refused with a one-line reason naming what was refused."""

from __future__ import annotations

import pytest

from app.console.parse import FLAGS, VERBS, Refused, parse_command, split_words
from app.console.shipped import shipped_manifests

SHIPPED = tuple(shipped_manifests())

LESSON_COMMANDS = [
    "kubectl get endpoints",
    "kubectl get endpoints shipping-api-service",
    "kubectl describe endpoints shipping-api-service",
    "kubectl get pods -l app=shipping-api -o wide",
    "kubectl label pod shipping-api-7d9f-abcde app=debug --overwrite",
    "kubectl get endpointslices",
    "kubectl get pods -o wide",
    "kubectl delete pod shipping-api-7d9f-abcde",
    "kubectl get service web-svc",
    "kubectl describe service web-svc",
    "kubectl get pods --show-labels",
    "kubectl scale deployment web --replicas=5",
    "kubectl get Endpoints my-service",
    "kubectl annotate service web-svc team=blue --overwrite",
    "kubectl version",
    "kubectl api-resources",
    "kubectl cluster-info",
    "kubectl -n default get pods",
    "kubectl get pods --namespace=default -A",
    "kubectl get ep -o yaml",
    "kubectl get pods -o jsonpath='{.items[*].status.podIP}'",
    "kubectl get pods -o custom-columns=NAME:.metadata.name,IP:.status.podIP",
    "kubectl get pods -l 'app in (web, shipping-api)'",
    "kubectl get --raw /api/v1/namespaces/default/endpoints",
]


@pytest.mark.parametrize("line", LESSON_COMMANDS)
def test_lesson_commands_pass_unchanged(line: str) -> None:
    cmd = parse_command(line, SHIPPED)
    assert cmd.args == tuple(split_words(line)[1:])
    assert not cmd.streaming and not cmd.stdin and cmd.manifests == ()
    assert cmd.verb in VERBS and cmd.verb in line.split()


def test_verb_found_after_global_flags_with_values() -> None:
    assert parse_command("kubectl -n default get pods").verb == "get"
    assert parse_command("kubectl -ndefault describe pods").verb == "describe"
    assert parse_command("kubectl --namespace kube-system get pods").verb == "get"


@pytest.mark.parametrize(
    "line",
    [
        "kubectl get endpoints -w",
        "kubectl get pods --watch",
        "kubectl get pods --watch-only",
        "kubectl get ep -w=true",
    ],
)
def test_watch_commands_stream(line: str) -> None:
    assert parse_command(line).streaming


def test_rollout_status_streams_unless_watch_false() -> None:
    assert parse_command("kubectl rollout status deployment/web").streaming
    assert not parse_command("kubectl rollout status deployment/web --watch=false").streaming
    assert not parse_command("kubectl get pods -w=false").streaming


def test_apply_a_shipped_manifest_by_name() -> None:
    cmd = parse_command("kubectl apply -f shipping-api-service.yaml", SHIPPED)
    assert cmd.manifests == ("shipping-api-service.yaml",) and not cmd.stdin
    assert cmd.args == ("apply", "-f", "shipping-api-service.yaml")
    both = parse_command("kubectl delete -f shipping-api-deployment.yaml,shipping-api-service.yaml", SHIPPED)
    assert both.manifests == ("shipping-api-deployment.yaml", "shipping-api-service.yaml")
    assert parse_command("kubectl apply --filename=web-svc.yaml", SHIPPED).manifests == ("web-svc.yaml",)


def test_the_lesson_manifests_are_shipped() -> None:
    for name in ("shipping-api-deployment.yaml", "shipping-api-service.yaml", "web-svc.yaml",
                 "service-without-selector.yaml", "external-endpoints.yaml"):  # fmt: skip
        assert name in SHIPPED
        assert "apiVersion:" in shipped_manifests()[name]


def test_apply_from_stdin() -> None:
    cmd = parse_command("kubectl apply -f -", SHIPPED)
    assert cmd.stdin and cmd.manifests == ()
    with pytest.raises(Refused, match="once"):
        parse_command("kubectl apply -f - -f -", SHIPPED)


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("kubectl --kubeconfig /etc/passwd get pods", "--kubeconfig"),
        ("kubectl --kubeconfig=/etc/passwd get pods", "--kubeconfig"),
        ("kubectl get pods --server https://evil.example", "--server"),
        ("kubectl get pods -s https://evil.example", "-s"),
        ("kubectl get pods --token abc", "--token"),
        ("kubectl get pods --context prod", "--context"),
        ("kubectl get pods --cluster prod", "--cluster"),
        ("kubectl get pods --user admin", "--user"),
        ("kubectl get pods --as system:admin", "--as"),
        ("kubectl get pods --certificate-authority /etc/ssl/ca.pem", "--certificate-authority"),
        ("kubectl cluster-info dump --output-directory /tmp/x", "--output-directory"),
        ("kubectl get pods --log-file /tmp/x", "--log-file"),
        ("kubectl apply -k ./overlay", "-k"),
        ("kubectl apply -f /etc/passwd", "-f /etc/passwd"),
        ("kubectl apply -f ../secret.yaml", "-f ../secret.yaml"),
        ("kubectl apply -f web-svc.yaml,/etc/shadow", "-f /etc/shadow"),
        ("kubectl apply -f https://example.com/x.yaml", "-f https://example.com/x.yaml"),
        ("kubectl get pods -o go-template-file=/etc/passwd", "-o go-template-file"),
        ("kubectl get pods -o jsonpath-file=/etc/passwd", "-o jsonpath-file"),
        ("kubectl get pods -o custom-columns-file=/etc/passwd", "-o custom-columns-file"),
        ("kubectl get pods -o xml", "-o xml"),
        ("kubectl exec -it web-1 -- sh", "exec"),
        ("kubectl exec web-1 cat /etc/passwd", "exec"),
        ("kubectl cp web-1:/etc/passwd x", "cp"),
        ("kubectl proxy", "proxy"),
        ("kubectl port-forward svc/web-svc 8080:80", "port-forward"),
        ("kubectl edit svc web-svc", "edit"),
        ("kubectl debug web-1", "debug"),
        ("kubectl attach web-1", "attach"),
        ("kubectl run x --image=busybox", "run"),
        ("kubectl plugin list", "plugin"),
        ("kubectl config view --raw", "config"),
        ("kubectl my-plugin", "my-plugin"),
        ("kubectl rollout undo deployment/web", "rollout undo"),
        ("kubectl cluster-info dump", "cluster-info dump"),
        ("kubectl apply edit-last-applied svc/web-svc", "edit-last-applied"),
        ("kubectl delete pod web-1 --interactive", "--interactive"),
        ("kubectl get pods --no-such-flag", "--no-such-flag"),
        ("kubectl get pods --raw=https://evil.example/api", "--raw"),
        ("rm -rf /", "'rm'"),
        ("/usr/bin/kubectl get pods", "'/usr/bin/kubectl'"),
        ("kubectl get pods | sh", "'|'"),
        ("kubectl get pods; rm -rf /", "';'"),
        ("kubectl get pods && curl evil", "'&&'"),
        ("kubectl get pods > /tmp/out", "'>'"),
        ("kubectl label pod <pod-name> app=debug --overwrite", "<pod-name>"),
        ("kubectl get pods -- -x", "'--'"),
    ],
)
def test_refused_with_a_reason_naming_it(line: str, named: str) -> None:
    with pytest.raises(Refused) as caught:
        parse_command(line, SHIPPED)
    message = str(caught.value)
    assert named in message, message
    assert "\n" not in message
    assert ":" in message  # what, then why


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("", "type a kubectl command"),
        ("   ", "type a kubectl command"),
        ("kubectl", "which command"),
        ("kubectl -n default", "which command"),
        ("kubectl get pods -n", "-n needs a value"),
        ("kubectl get pods -l 'app=web", "no closing quotation"),
        ("kubectl get pods\nkubectl exec x", "one command at a time"),
        ("kubectl get pods " + "x" * 3000, "longer than"),
        ("kubectl get pods -w=maybe", "expected true or false"),
    ],
)
def test_malformed_lines(line: str, fragment: str) -> None:
    with pytest.raises(Refused, match=fragment):
        parse_command(line, SHIPPED)


def test_every_allowed_flag_has_a_known_kind() -> None:
    assert set(FLAGS.values()) <= {"value", "bool", "optional"}
    # a flag that takes its value from the next word never hides the verb
    assert parse_command("kubectl -l app=web get pods").verb == "get"
    assert parse_command("kubectl -o wide get pods").verb == "get"
    # an optional-value flag takes its value only after "=", as kubectl's flag parser does
    with pytest.raises(Refused, match="refused kubectl orphan"):
        parse_command("kubectl --cascade orphan delete pod x")
