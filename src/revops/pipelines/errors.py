"""Errors every source raises for failures that retrying cannot fix."""


class SourceError(RuntimeError):
    """Bad credentials, a revoked grant, a request the provider rejects: stop this workspace's load.

    The message names the workspace and the cause, and never contains a secret. `needs_reauth` says
    that only a person can fix it by reconnecting the account (a rejected key, a revoked OAuth grant,
    a bank login that needs the user), not by waiting or retrying.
    """

    def __init__(self, message: str, *, needs_reauth: bool = False) -> None:
        super().__init__(message)
        self.needs_reauth = needs_reauth
