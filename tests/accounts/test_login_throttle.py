"""Login throttling holds against look-alike names, requests sent at once,
and clients behind a reverse proxy; a spoofed proxy header changes nothing."""

import ipaddress
import threading

import pytest
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.db import connection
from django.test import Client, RequestFactory, override_settings

from accounts import services
from accounts.validation import AccountRefused
from audit import trail
from core.clients import client_address
from tests.factories import PASSWORD, make_user

LOGIN = "/accounts/login/"
PROXY = override_settings(
    STEWARD_TRUSTED_PROXY_HEADER="X-Forwarded-For",
    STEWARD_TRUSTED_PROXIES=[ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")],
)


@pytest.fixture
def fresh_cache(db):
    cache.clear()
    yield
    cache.clear()


def login(client, username, password="wrong", **meta):
    return client.post(LOGIN, {"username": username, "password": password}, **meta)


def test_full_width_and_upper_case_look_alikes_count_against_the_same_user(client, user, fresh_cache):
    spellings = ["ｏｎｃａｌｌ", "ONCALL", "OnCall", "ＯＮＣＡＬＬ", "oncall"]
    assert len(spellings) == settings.STEWARD_LOGIN_FAILURES
    for i, name in enumerate(spellings):  # each from its own address: only the name's count adds up
        assert login(client, name, REMOTE_ADDR=f"192.0.2.{i + 1}").status_code == 200
    locked = login(client, "oncall", PASSWORD, REMOTE_ADDR="192.0.2.99")
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session


def test_the_full_width_name_logs_in_as_the_user_it_looks_like(client, user, fresh_cache):
    # Django's login form applies NFKC: the throttle and the login agree on who this is.
    assert login(client, "ｏｎｃａｌｌ", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db(transaction=True)
def test_twenty_bad_attempts_at_once_get_no_more_than_the_allowed_tries():
    make_user("admin", username="oncall")
    cache.clear()
    tries, lock = [], threading.Lock()

    def count_try(sender, credentials, **kwargs):
        with lock:
            tries.append(credentials.get("username"))

    user_login_failed.connect(count_try, dispatch_uid="test-throttle-tries")
    start, statuses = threading.Barrier(20), []

    def guess(i):
        try:
            start.wait(timeout=30)
            response = login(Client(), "oncall", f"guess-{i}", REMOTE_ADDR=f"198.51.100.{i + 1}")
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        user_login_failed.disconnect(dispatch_uid="test-throttle-tries")
    assert len(statuses) == 20
    # Passwords actually checked: never more than the limit.
    assert len(tries) <= settings.STEWARD_LOGIN_FAILURES
    assert statuses.count(200) == len(tries) and statuses.count(429) == 20 - len(tries)
    assert login(Client(), "oncall", PASSWORD, REMOTE_ADDR="198.51.100.200").status_code == 429
    cache.clear()


def test_successful_logins_do_not_use_up_their_addresss_tries(user, fresh_cache):
    # An office behind one address logs in all day.
    for _ in range(settings.STEWARD_LOGIN_FAILURES + 2):
        assert login(Client(), "oncall", PASSWORD, REMOTE_ADDR="192.0.2.7").status_code == 302
    assert login(Client(), "oncall", "wrong", REMOTE_ADDR="192.0.2.7").status_code == 200


@PROXY
def test_behind_the_proxy_two_clients_are_throttled_separately(user, fresh_cache):
    guesser, colleague = Client(), Client()
    for i in range(settings.STEWARD_LOGIN_FAILURES):
        response = login(guesser, f"user-{i}", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.7")
        assert response.status_code == 200
    # The guesser's address is locked, whatever name it tries next...
    assert login(guesser, "someone", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    # ...while a colleague behind the same proxy logs in.
    ok = login(colleague, "oncall", PASSWORD, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert ok.status_code == 302


@PROXY
def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(user, fresh_cache):
    # Straight to the web server, not through the proxy: a new "client" each time.
    for i in range(settings.STEWARD_LOGIN_FAILURES):
        response = login(Client(), f"user-{i}", REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
        assert response.status_code == 200
    spoofed = login(Client(), "other", REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert spoofed.status_code == 429


@PROXY
def test_the_client_is_the_right_most_hop_no_trusted_proxy_added():
    def address(peer, forwarded=None):
        meta = {"REMOTE_ADDR": peer}
        if forwarded is not None:
            meta["HTTP_X_FORWARDED_FOR"] = forwarded
        return client_address(RequestFactory().get("/", **meta))

    # The left-most entry is whatever the client wrote: it proves nothing.
    assert address("10.0.0.5", "1.2.3.4, 203.0.113.7, 10.0.0.4") == "203.0.113.7"
    assert address("10.0.0.5", "203.0.113.7:5123") == "203.0.113.7"
    assert address("::1", "[2001:db8::1]:443") == "2001:db8::1"
    assert address("10.0.0.5", "not-an-address") == "10.0.0.5"
    assert address("10.0.0.5") == "10.0.0.5"
    assert address("192.0.2.50", "203.0.113.7") == "192.0.2.50"


def test_without_a_trusted_proxy_the_header_is_never_read(rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert client_address(request) == "10.0.0.5"


def test_a_look_alike_of_an_existing_name_cannot_be_registered(db):
    make_user("viewer", username="admin")
    for shadow in ["ａｄｍｉｎ", "Admin", "ADMIN "]:
        with pytest.raises(AccountRefused, match="exists"):
            services.create_user(shadow, "a-long-pass-phrase-9", "viewer", trail.SYSTEM)
    assert services.create_user("ａｄｍｉｎ２", "a-long-pass-phrase-9", None, trail.SYSTEM).username == "admin2"


def test_the_users_page_refuses_a_look_alike_with_a_400(client, db):
    client.force_login(make_user("admin", username="admin"))
    response = client.post("/users/", {"username": "ａｄｍｉｎ", "password": "a-long-pass-phrase-9", "role": ""})
    assert response.status_code == 400 and "A user with this name exists" in response.content.decode()


@override_settings(
    STEWARD_TRUSTED_PROXY_HEADER="X-Forwarded-For", STEWARD_TRUSTED_PROXIES=[ipaddress.ip_network("127.0.0.1/32")]
)
def test_behind_a_local_proxy_metrics_and_the_audit_trail_see_the_real_client(client, db):
    # The proxy runs on 127.0.0.1, an address /metrics lets in without a token.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert (
        trail.request_info(
            RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
        ).client_ip
        == "203.0.113.7"
    )


def test_an_ipv6_guesser_cannot_take_a_fresh_address_of_its_64_for_each_try(user, fresh_cache):
    for i in range(settings.STEWARD_LOGIN_FAILURES):
        assert login(Client(), f"user-{i}", REMOTE_ADDR=f"2001:db8:1:2::{i + 1:x}").status_code == 200
    assert login(Client(), "other", REMOTE_ADDR="2001:db8:1:2:ffff::1").status_code == 429
    assert login(Client(), "other", REMOTE_ADDR="2001:db8:1:3::1").status_code == 200
