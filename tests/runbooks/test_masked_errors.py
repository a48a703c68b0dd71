"""The error of a run leaves the runner masked, like its lines and result:
whatever put a secret's value into the error text, it is shown as `***`."""

from runbooks.runners.process import run
from tests.runbooks.test_runner import ListSink, spec

SECRET = "s3cr3t-Tok/en+wörd"


def test_an_error_that_holds_a_secret_is_masked():
    # The runner names the sandbox it cannot use in its error: the one text
    # a test can put into an error without the runbook's help.
    outcome = run(spec("print('hi')", sandbox=f"odd-{SECRET}", secrets={"API_TOKEN": SECRET}), ListSink())
    assert outcome.status == "failed"
    assert "Unknown sandbox" in outcome.error and "***" in outcome.error
    assert SECRET not in outcome.error


def test_an_error_without_a_secret_is_left_as_it_is():
    outcome = run(spec("print('hi')", sandbox="odd", secrets={"API_TOKEN": SECRET}), ListSink())
    assert outcome.error == "Unknown sandbox 'odd' or network mode 'none'."
