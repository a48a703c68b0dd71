"""The outbound guard: what Steward refuses to send to, in default settings,
and what an operator's allow-list opens."""

import pytest

from notifications import guard


@pytest.fixture(autouse=True)
def default_settings(settings):
    settings.STEWARD_NOTIFY_ALLOWED_NETWORKS = []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost:8443/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("https://172.16.5.5/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://[fd00::1]/hook", "private"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://[::ffff:169.254.169.254]/hook", "link-local"),
        ("https://[64:ff9b::a00:1]/hook", "private"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://240.0.0.1/hook", "reserved"),
        ("https://100.64.0.1/hook", "non-public"),
    ],
)
def test_internal_addresses_are_refused_by_default(url, why):
    with pytest.raises(guard.Refused, match=why):
        guard.check(url)


def test_a_public_address_is_allowed_and_is_the_one_to_connect_to():
    target = guard.check("https://93.184.215.14:8443/services/x?y=1")
    assert (target.address, target.port, target.path, target.host) == (
        "93.184.215.14",
        8443,
        "/services/x?y=1",
        "93.184.215.14",
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "https://"),
        ("https:///nohost", "no host"),
        ("http://93.184.215.14/hook", "plain http"),
        ("https://93.184.215.14/#frag", "fragment"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
        ("https://[::1/hook", "not a URL"),
    ],
)
def test_bad_urls_say_why(url, problem):
    with pytest.raises(guard.Refused, match=problem):
        guard.check(url)


def test_an_allowed_network_opens_loopback_and_plain_http(settings):
    settings.STEWARD_NOTIFY_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    assert guard.check("http://127.0.0.1:9/hook").address == "127.0.0.1"
    assert guard.check("http://[::1]:9/hook").address == "::1"
    assert guard.check("http://[::ffff:127.0.0.1]:9/hook").scheme == "http"  # the mapped address is allowed too
    with pytest.raises(guard.Refused, match="link-local"):
        guard.check("http://169.254.169.254/")  # only what is listed
