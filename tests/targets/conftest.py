"""The loopback OpenSSH server every test here runs against."""

from tests.sshd import sshd  # noqa: F401 (the fixture)
