"""Sending one notification, as the admin reading a failed delivery sees
it: what reached the receiver, and the sentence and retry decision for each
way an attempt fails.

Written for `make mutate` on notifications/transport.py. A real HTTP
receiver on loopback (allowed by the test settings), in a thread.
"""

import base64
import ipaddress
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from notifications.transport import MAX_ANSWER_BYTES, USER_AGENT, SendError, post


class Receiver:
    """Answers every POST with `status` and `body`; keeps what it got."""

    def __init__(self, status=200, body=b"ok", headers=(), host="127.0.0.1"):
        self.got = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                receiver.got.append((self.path, dict(self.headers), self.rfile.read(length)))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://{host}:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    started = []

    def start(*args, **kwargs):
        started.append(Receiver(*args, **kwargs))
        return started[-1]

    yield start
    for r in started:
        r.close()


def failure(url, body=b"{}") -> SendError:
    with pytest.raises(SendError) as caught:
        post(url, body, {})
    return caught.value


def test_the_message_arrives_as_json_with_its_headers_and_the_urls_credentials(receiver):
    r = receiver(200, b"thanks")
    host = r.url.removeprefix("http://")
    answer = post(f"http://bot:s3cret@{host}/hook?x=1", b'{"a": 1}', {"X-Extra": "yes"})
    assert (answer.status, answer.body) == (200, "thanks")
    path, headers, body = r.got[0]
    assert (path, body) == ("/hook?x=1", b'{"a": 1}')
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == USER_AGENT
    assert headers["X-Extra"] == "yes"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"bot:s3cret").decode()


def test_without_credentials_no_authorization_is_sent_and_a_header_may_override_the_type(receiver):
    r = receiver(204, b"")
    assert post(r.url + "/h", b"x", {"Content-Type": "text/plain"}).status == 204
    _, headers, _ = r.got[0]
    assert "Authorization" not in headers and headers["Content-Type"] == "text/plain"


def test_a_long_answer_is_read_only_up_to_its_limit(receiver):
    r = receiver(200, b"a" * (MAX_ANSWER_BYTES + 10))
    assert post(r.url, b"{}", {}).body == "a" * MAX_ANSWER_BYTES


def test_an_answer_that_is_not_utf8_is_read_with_replacements(receiver):
    r = receiver(200, b"ok \xff")
    assert post(r.url, b"{}", {}).body == "ok \ufffd"


def test_a_redirect_is_not_followed_and_fails_for_good_naming_where_it_pointed(receiver):
    r = receiver(302, b"", headers=[("Location", "http://169.254.169.254/")])
    error = failure(r.url)
    assert str(error) == "HTTP 302: redirects are not followed (http://169.254.169.254/)"
    assert error.permanent is True
    assert len(r.got) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 499])
def test_a_client_error_fails_for_good(receiver, status):
    error = failure(receiver(status, b"  no  such\n hook ").url)
    assert str(error) == f"HTTP {status}: no such hook"
    assert error.permanent is True


@pytest.mark.parametrize("status", [408, 425, 429, 500, 503])
def test_overload_and_server_errors_are_tried_again(receiver, status):
    error = failure(receiver(status, b"busy").url)
    assert str(error) == f"HTTP {status}: busy"
    assert error.permanent is False


def test_an_empty_error_answer_says_only_the_status_and_a_long_one_is_cut(receiver):
    assert str(failure(receiver(500, b"").url)) == "HTTP 500"
    assert str(failure(receiver(500, b"x" * 1000).url)) == "HTTP 500: " + "x" * 300


def test_a_status_just_outside_2xx_is_not_success(receiver):
    assert failure(receiver(300, b"").url).permanent is True
    r = receiver(299, b"fine")
    assert post(r.url, b"{}", {}).status == 299


def test_a_refused_url_fails_for_good_without_connecting():
    error = failure("https://10.0.0.1/hook")
    assert str(error).startswith("refused: 10.0.0.1 is a private address")
    assert error.permanent is True


def test_nobody_listening_is_tried_again_naming_the_host():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        error = failure(f"http://127.0.0.1:{port}/hook")
    assert str(error).startswith("could not reach 127.0.0.1: ")
    assert error.permanent is False


@override_settings(STEWARD_NOTIFY_TIMEOUT_SECONDS=0.3)
def test_a_receiver_that_never_answers_times_out_naming_the_wait():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts the connection, never answers
        error = failure(f"http://127.0.0.1:{silent.getsockname()[1]}/hook")
    assert str(error) == "no answer from 127.0.0.1 within 0.3 s"
    assert error.permanent is False


def self_signed(tmp_path):
    """A certificate for 127.0.0.1 that no trust store knows, and its key."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_https_verifies_the_receivers_certificate_and_refuses_an_unknown_one(receiver, tmp_path):
    r = receiver(200, b"should not be read")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed(tmp_path))
    r.server.socket = context.wrap_socket(r.server.socket, server_side=True)
    error = failure(r.url.replace("http://", "https://") + "/hook")
    assert str(error).startswith("TLS certificate of 127.0.0.1 not accepted: ")
    assert "self-signed" in str(error) or "self signed" in str(error)
    assert error.permanent is False
    assert r.got == []


def test_the_connection_goes_to_the_checked_address_and_names_the_host(receiver):
    # a receiver on 127.0.0.2 only: a connection to any other address is refused
    r = receiver(200, b"here", host="127.0.0.2")
    assert post(r.url + "/pinned", b"{}", {}).body == "here"
    _, headers, _ = r.got[0]
    assert headers["Host"] == r.url.removeprefix("http://")
