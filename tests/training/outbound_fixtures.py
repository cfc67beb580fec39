"""A real HTTP listener for the outbound tests (imported by name into the modules that use them).

`Listener` serves on a real socket in a thread (http.server) and records every request it receives: what a
model server an attacker controls would see. By default it answers like an OpenAI-compatible server (one chat
completion "A" with log-probs), so a request that is let through goes on as it would in production.
"""
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

COMPLETION = {
    "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": "m",
    "choices": [{
        "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "A"},
        "logprobs": {"content": [{"token": "A", "logprob": -0.1, "bytes": None, "top_logprobs": [
            {"token": "A", "logprob": -0.1, "bytes": None}, {"token": "B", "logprob": -2.5, "bytes": None}]}]},
    }],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Listener:
    host: str
    port: int = 0  # 0: any free port
    redirect_to: str | None = None  # answer every request with a 307 to this URL instead
    requests: list[Seen] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://{self.host}:{self.server.server_address[1]}/v1"

    def start(self) -> "Listener":
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                listener.requests.append(Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if listener.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", listener.redirect_to + self.path.removeprefix("/v1"))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps(COMPLETION).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args) -> None:  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A listener on 127.0.0.1 (loopback: on the default allow-list)."""
    running = Listener("127.0.0.1").start()
    yield running
    running.stop()


@pytest.fixture
def far_listener() -> Iterator[Listener]:
    """A listener on 127.0.0.2: a real address of this machine that the default allow-list does not name, standing
    in for a host elsewhere."""
    running = Listener("127.0.0.2").start()
    yield running
    running.stop()
