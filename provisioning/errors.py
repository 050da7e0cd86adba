"""What can go wrong while provisioning, as one exception with an exit code and both languages.

Never: print or exit (the CLI does that, once, at its boundary).
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_TOKEN = 3  # the cloud refused the token: wrong, expired or used already
EXIT_FINGERPRINT = 4  # the root key's fingerprint is not the one the installer expected
EXIT_TAMPERED = 5  # the bundle failed verification against the root key
EXIT_CODES = (
    "Exit codes / 退出码: 0 done; 1 failed at run time (cloud or broker unreachable, an "
    "unexpected error; enrol can be run again and resumes); 2 usage or node state error; "
    "3 token refused (wrong, expired or used: ask for a new one); 4 root key fingerprint "
    "mismatch or not confirmed; 5 what the cloud sent failed verification (man in the middle?). "
    "doctor: 3 warnings only. See each command's --help for its own."
)


class ProvisioningError(Exception):
    """``code`` (stable, for --json), ``exit_code`` and a message in English and Chinese."""

    def __init__(self, code: str, message: str, zh: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(f"{message} / {zh}")
        self.code, self.message, self.zh, self.exit_code = code, message, zh, exit_code
