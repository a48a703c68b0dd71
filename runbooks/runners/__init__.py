"""One module per runbook kind: the file name of the script and its command."""

from runbooks.runners import python, shell

KINDS = {"python": python, "shell": shell}
