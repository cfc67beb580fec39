"""The outbound policy of the openai backend (training/engine/backends/outbound.py): plain Python, no database.

Host names are resolved through the policy's `resolve`, given here as a table, so the cases do not depend on
this machine's DNS.
"""
import pytest

from training.engine.backends.outbound import OutboundPolicy, OutboundRefused

DNS = {
    "localhost": ["127.0.0.1", "::1"],
    "loop.example": ["127.0.0.1"],  # a name that resolves to loopback
    "split.example": ["127.0.0.1", "93.184.216.34"],  # one address inside, one outside
    "internal.corp": ["10.1.2.3"],
    "api.openai.com": ["162.159.140.245"],
}


def policy(*endpoints: str, key_envs: tuple[str, ...] = ()) -> OutboundPolicy:
    return OutboundPolicy(endpoints=endpoints or OutboundPolicy().endpoints, key_envs=key_envs,
                          forbidden_key_envs=frozenset({"SECRET_KEY"}), forbidden_key_env_prefixes=("DJANGO_",),
                          resolve=lambda host: DNS.get(host, []))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/v1", "http://localhost:8000/v1", "http://[::1]:8000/v1", "http://LOCALHOST./v1",
    "http://loop.example:8000/v1",  # judged by the address it resolves to
    "http://[::ffff:127.0.0.1]:8000/v1",  # an IPv4-mapped loopback address
])
def test_the_default_allows_loopback_only(url):
    policy().check_url(url)


@pytest.mark.parametrize(("url", "reason"), [
    ("http://127.0.0.2:8000/v1", "not in PREFSTUDIO_OUTBOUND_ALLOWLIST"),
    ("https://api.openai.com/v1", "api.openai.com (162.159.140.245)"),
    ("http://split.example/v1", "not in"),  # every address must be allowed, not just one
    ("http://nowhere.invalid/v1", "not in"),  # does not resolve
    ("http://10.1.2.3/v1", "not in"),
    ("ftp://127.0.0.1/v1", "not an http(s) URL"),
    ("127.0.0.1:8000/v1", "not an http(s) URL"),
    ("http://user:pw@127.0.0.1/v1", "credentials in the URL"),
    ("http://127.0.0.1:99999/v1", "port"),
])
def test_the_default_refuses_everything_else(url, reason):
    with pytest.raises(OutboundRefused, match=reason.replace("(", r"\(").replace(")", r"\)")) as refused:
        policy().check_url(url)
    assert refused.value.setting == "PREFSTUDIO_OUTBOUND_ALLOWLIST"
    assert "pw" not in str(refused.value)  # a password in the URL is never echoed


def test_networks_names_and_url_prefixes():
    allowed = policy("10.0.0.0/8", "vllm.internal", "https://api.openai.com/v1")
    allowed.check_url("http://10.1.2.3:8000/v1")
    allowed.check_url("http://internal.corp/v1")  # resolves into 10.0.0.0/8
    allowed.check_url("http://vllm.internal:8000/v1")  # listed by name: any port
    allowed.check_url("https://api.openai.com/v1")
    allowed.check_url("https://api.openai.com/v1/chat/completions")
    for refused in ("https://api.openai.com/v10", "https://api.openai.com/", "http://api.openai.com/v1",
                    "https://api.openai.com:8443/v1", "https://api.openai.com.evil.example/v1",
                    "http://vllm.internal.evil.example/v1", "http://11.0.0.1/v1"):
        with pytest.raises(OutboundRefused):
            allowed.check_url(refused)


def test_key_variables_must_be_listed_and_never_configure_the_app():
    listed = policy(key_envs=("JUDGE_KEY", "SECRET_KEY", "DJANGO_DB_PASSWORD"))
    assert listed.check_api_key_env("JUDGE_KEY") == "JUDGE_KEY"
    for name in ("SECRET_KEY", "secret_key", "DJANGO_DB_PASSWORD"):
        with pytest.raises(OutboundRefused, match="configures PrefStudio itself"):
            listed.check_api_key_env(name)
    with pytest.raises(OutboundRefused, match="'HOME' is not in PREFSTUDIO_API_KEY_ENV_ALLOWLIST"):
        listed.check_api_key_env("HOME")
    for bad in ("", 3, None):
        with pytest.raises(OutboundRefused, match="must name an environment variable"):
            listed.check_api_key_env(bad)
    with pytest.raises(OutboundRefused, match="allowed: none"):
        OutboundPolicy().check_api_key_env("OPENAI_API_KEY")  # the default lists nothing


def test_the_request_hook_checks_each_request_url():
    class Request:
        url = "http://127.0.0.2/v1/chat/completions"

    with pytest.raises(OutboundRefused):
        policy().check_request(Request())
    Request.url = "http://127.0.0.1/v1/chat/completions"
    policy().check_request(Request())



def test_a_name_allowed_by_its_address_is_pinned_to_that_address(monkeypatch):
    """DNS rebinding: the name resolves to an allowed address when checked, to another when the client connects.

    `rebind.example` resolves (for the policy) to 127.0.0.1, inside the allowed network; the machine's resolver,
    standing in for the attacker's DNS server answering a second time, says 127.0.0.2, where a real listener
    waits on the same port. The request must reach the checked address, with the name in its Host header, and
    nothing the other one.
    """
    import socket

    from tests.training.outbound_fixtures import Listener
    from training.engine.backends.base import BackendSpec
    from training.engine.backends.openai_api import OpenAIBackend

    allowed = Listener("127.0.0.1").start()
    port = allowed.server.server_address[1]
    elsewhere = Listener("127.0.0.2", port=port).start()
    try:
        real_getaddrinfo = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real_getaddrinfo(
            "127.0.0.2" if host == "rebind.example" else host, *a, **k))
        policy = OutboundPolicy(endpoints=("127.0.0.1/32",), resolve=lambda host: ["127.0.0.1"])
        url = f"http://rebind.example:{port}/v1"
        assert policy.check_url(url) == "127.0.0.1"
        assert policy.check_url(f"http://127.0.0.1:{port}/v1") is None  # an address literal needs no pin

        backend = OpenAIBackend(BackendSpec("openai", url, {"model": "m", "max_retries": 0}, outbound=policy))
        [[completion]] = backend.generate([[{"role": "user", "content": "hi"}]], max_tokens=1)
        assert completion.text == "A"
        assert [seen.headers["host"] for seen in allowed.requests] == [f"rebind.example:{port}"]
        assert elsewhere.requests == []
    finally:
        allowed.stop()
        elsewhere.stop()
