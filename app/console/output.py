"""kubectl's output as the console shows it: the API token replaced by <token> first, then cut at the
byte cap, so a cut never leaves the start of a token on screen (pure; the runner feeds it text)."""

from __future__ import annotations

REDACTED = "<token>"


class CappedOutput:
    """Feed decoded text; get back redacted pieces (whole lines while they fit) within `max_bytes`."""

    def __init__(self, token: str, max_bytes: int) -> None:
        self.token = token
        self.room = max_bytes
        self.pending = ""  # the line being written, not yet redacted (a token may go on in the next read)
        self.truncated = False

    def redact(self, text: str) -> str:
        return text.replace(self.token, REDACTED) if self.token else text

    def feed(self, text: str) -> list[str]:
        """The pieces ready to show after this text; nothing more once `truncated`."""
        if self.truncated:
            return []
        out: list[str] = []
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            out += self._emit(self.redact(line + "\n"))
            if self.truncated:
                self.pending = ""
                return out
        if len(self.pending.encode()) > self.room:  # one line longer than what is left: show it cut
            ready, self.pending = self._split_unfinished(self.pending)
            out += self._emit(ready)
            if self.truncated:
                self.pending = ""
        return out

    def finish(self) -> list[str]:
        """The rest, once the output has ended."""
        rest, self.pending = self.pending, ""
        return [] if self.truncated or not rest else self._emit(self.redact(rest))

    def _emit(self, text: str) -> list[str]:
        data = text.encode()
        if len(data) > self.room:
            data, self.truncated = data[: self.room], True
        self.room -= len(data)
        piece = data.decode("utf-8", "ignore")  # a character cut in two is dropped
        return [piece] if piece else []

    def _split_unfinished(self, text: str) -> tuple[str, str]:
        """(redacted text safe to show, raw tail that might be the start of a token)."""
        red = self.redact(text)
        for size in range(min(len(self.token) - 1, len(red)), 0, -1):
            if red.endswith(self.token[:size]):
                return red[:-size], red[-size:]
        return red, ""
