"""Shell runbooks run under bash."""

import shutil

FILENAME = "runbook.sh"


def command(script_path: str, as_other_user: bool = False) -> list[str]:
    return [shutil.which("bash", path="/usr/bin:/bin") or "/bin/sh", script_path]
