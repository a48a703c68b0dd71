import pytest

from tests.notifications.receiver import Receiver


@pytest.fixture
def receiver():
    """receiver(statuses=()): a loopback HTTP receiver; closed after the test."""
    started = []

    def start(statuses=()):
        started.append(Receiver(statuses))
        return started[-1]

    yield start
    for r in started:
        r.close()
