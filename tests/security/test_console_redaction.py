"""The console's output cap cuts the redacted text: a token that kubectl prints right where the cap
falls shows as (part of) <token>, never as the first characters of the token itself."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

from app.console.output import REDACTED, CappedOutput
from app.console.runner import Finished, Limits, run_kubectl

TOKEN = "tok3nABCDEFGHIJKLMNOPQRSTUVWXYZ0123"
CAP = 4096

FAKE = f"""#!{sys.executable}
import sys, time
mode, token, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "straddle":  # the token starts 6 bytes before the cap
    sys.stdout.write("x" * (cap - 6) + token + " and more\\n")
elif mode == "straddle-line":  # earlier whole lines, then the token across the cap in a later line
    sys.stdout.write("ok\\n" * 100)
    sys.stdout.write("y" * (cap - 300 - 8 - 6) + " Bearer " + token + "\\n")
elif mode == "split-read":  # the token arrives in two writes
    sys.stdout.write("server: /k8s/t/" + token[:10])
    sys.stdout.flush()
    time.sleep(0.3)
    sys.stdout.write(token[10:] + "/api\\n")
"""


@pytest.fixture
def fake(tmp_path: Path) -> str:
    path = tmp_path / "kubectl"
    path.write_text(FAKE)
    path.chmod(0o755)
    return str(path)


async def run(fake: str, mode: str) -> tuple[str, Finished]:
    parts: list[str] = []
    end = Finished(None)
    runner = run_kubectl(
        fake,
        (mode, TOKEN, str(CAP)),
        server_url="http://127.0.0.1:1/k8s",
        token=TOKEN,
        limits=Limits(max_output_bytes=CAP),
    )
    async with contextlib.aclosing(runner) as items:
        async for item in items:
            if isinstance(item, Finished):
                end = item
            else:
                parts.append(item)
    return "".join(parts), end


@pytest.mark.parametrize("mode", ["straddle", "straddle-line"])
async def test_a_cut_never_shows_a_token_prefix(fake: str, mode: str) -> None:
    output, end = await run(fake, mode)
    assert end.truncated
    assert len(output.encode()) == CAP
    assert TOKEN[:4] not in output, output[-40:]
    assert output.endswith(REDACTED[:6]), output[-20:]


async def test_a_token_written_in_two_parts_is_redacted(fake: str) -> None:
    output, end = await run(fake, "split-read")
    assert output == f"server: /k8s/t/{REDACTED}/api\n"
    assert end.exit_code == 0


def test_capped_output_holds_back_what_may_be_a_token_start() -> None:
    out = CappedOutput("secret-token", max_bytes=50)
    shown = out.feed("a" * 30 + " secr")  # a partial line; could go on as the token
    assert "".join(shown) == ""
    shown += out.feed("et-token and the rest of a very long line")
    shown += out.finish()
    text = "".join(shown)
    assert "secr" not in text.replace(REDACTED, "") and out.truncated
    assert text.startswith("a" * 30 + " <token>") and len(text.encode()) == 50
    whole = CappedOutput("secret-token", max_bytes=1000)
    assert whole.feed("one\ntwo secret-token\nthr") == ["one\n", "two <token>\n"]
    assert whole.finish() == ["thr"] and not whole.truncated
