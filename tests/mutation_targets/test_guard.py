"""The outbound URL guard, as an admin setting up a webhook channel meets it:
which addresses are refused and the sentence that says why, what an allowed
network opens, and the target a notification then connects to.

Written for `make mutate` on notifications/guard.py. Test settings allow
127.0.0.0/8 and ::1 (config/settings_test.py); some tests allow nothing.
"""

import ipaddress

import pytest
from django.test import override_settings

from notifications import guard

ALLOW_NOTHING = override_settings(STEWARD_NOTIFY_ALLOWED_NETWORKS=[])
SUFFIX = " address: Steward does not send there (an operator may allow its network in STEWARD_NOTIFY_ALLOWED_NETWORKS)"


def ip(text):
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    "address,why",
    [
        ("0.0.0.0", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local (cloud metadata lives there)"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "non-public"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:127.0.0.1", "loopback (inside ::ffff:7f00:1)"),
        ("64:ff9b::a00:1", "private (inside 64:ff9b::a00:1)"),
        ("64:ff9b::808:808", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_each_kind_of_address_is_named(address, why):
    assert guard.category(ip(address)) == why


def test_the_ipv4_inside_an_ipv6_address_is_found():
    assert guard.embedded_ipv4(ip("::ffff:10.0.0.1")) == ip("10.0.0.1")
    assert guard.embedded_ipv4(ip("64:ff9b::10.0.0.1")) == ip("10.0.0.1")
    assert guard.embedded_ipv4(ip("2001:db8::1")) is None
    assert guard.embedded_ipv4(ip("10.0.0.1")) is None


def test_an_allowed_network_covers_its_addresses_and_those_hidden_in_ipv6():
    networks = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
    assert guard.is_allowed(ip("10.9.9.9"), networks)
    assert guard.is_allowed(ip("::ffff:10.9.9.9"), networks)
    assert guard.is_allowed(ip("fd00::5"), networks)
    assert not guard.is_allowed(ip("11.0.0.1"), networks)
    assert not guard.is_allowed(ip("fe80::1"), networks)
    assert not guard.is_allowed(ip("10.0.0.1"), [])


def test_the_allowed_networks_come_from_the_settings_loosely_written():
    with override_settings(STEWARD_NOTIFY_ALLOWED_NETWORKS=["10.1.2.3/8", "::1/128"]):
        assert guard.allowed_networks() == [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]
        assert guard.is_allowed(ip("10.200.0.1"))
    with ALLOW_NOTHING:
        assert not guard.is_allowed(ip("127.0.0.1"))


def test_an_address_literal_resolves_to_itself_and_a_name_through_the_resolver():
    assert guard.resolve("8.8.8.8", 443) == [ip("8.8.8.8")]
    assert ip("127.0.0.1") in guard.resolve("localhost", 443)
    assert len(set(guard.resolve("localhost", 443))) == len(guard.resolve("localhost", 443))


def test_a_name_that_does_not_resolve_is_refused_in_words():
    with pytest.raises(guard.Refused, match=r"^nothing\.invalid does not resolve \("):
        guard.resolve("nothing.invalid", 443)


@pytest.mark.parametrize(
    "url,message",
    [
        ("ftp://example.com/", "the URL must start with https:// (or http:// to an allowed network)"),
        ("example.com/hook", "the URL must start with https:// (or http:// to an allowed network)"),
        ("https:///hook", "the URL has no host"),
        ("https://example.com/hook#frag", "the URL may not have a #fragment"),
    ],
)
def test_a_url_steward_cannot_use_is_refused_saying_why(url, message):
    with pytest.raises(guard.Refused) as caught:
        guard.parse(url)
    assert str(caught.value) == message


def test_a_port_out_of_range_is_not_a_url():
    with pytest.raises(guard.Refused, match=r"^not a URL: "):
        guard.parse("https://example.com:99999/")


def test_a_url_is_taken_apart_into_what_the_transport_needs():
    assert guard.parse("https://example.com") == ("https", "example.com", 443, "/", None)
    assert guard.parse("http://example.com/a") == ("http", "example.com", 80, "/a", None)
    assert guard.parse("https://Example.com:8443/a/b?x=1&y=2") == ("https", "example.com", 8443, "/a/b?x=1&y=2", None)
    assert guard.parse("https://bot:s%20cret@example.com/") == ("https", "example.com", 443, "/", ("bot", "s%20cret"))
    assert guard.parse("https://bot@example.com/")[4] == ("bot", "")


@ALLOW_NOTHING
@pytest.mark.parametrize(
    "url,named",
    [
        ("https://10.0.0.1/hook", "10.0.0.1 is a private"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local (cloud metadata lives there)"),
        (
            "https://[::ffff:127.0.0.1]/",
            "::ffff:127.0.0.1 resolves to ::ffff:7f00:1, which is a loopback (inside ::ffff:7f00:1)",
        ),
        ("https://localhost/", "localhost resolves to 127.0.0.1, which is a loopback"),
    ],
)
def test_an_internal_target_is_refused_naming_the_address(url, named):
    with pytest.raises(guard.Refused) as caught:
        guard.check(url)
    assert str(caught.value) in (named + SUFFIX, named.replace("127.0.0.1", "::1") + SUFFIX)


def test_an_allowed_network_may_be_reached_even_over_plain_http():
    target = guard.check("http://127.0.0.1:8080/hook?x=1")
    assert target == guard.Target("http", "127.0.0.1", 8080, "/hook?x=1", "127.0.0.1", None)


def test_plain_http_to_the_internet_is_refused_and_https_is_taken():
    with pytest.raises(guard.Refused) as caught:
        guard.check("http://8.8.8.8/hook")
    assert str(caught.value) == (
        "plain http:// is allowed only to a network in STEWARD_NOTIFY_ALLOWED_NETWORKS; use https://"
    )
    assert guard.check("https://u:p@8.8.8.8/hook") == guard.Target(
        "https", "8.8.8.8", 443, "/hook", "8.8.8.8", ("u", "p")
    )
