"""Errors every source raises for failures that retrying cannot fix."""


class SourceError(RuntimeError):
    """Bad credentials, a revoked grant, a request the provider rejects: stop this workspace's load.

    The message names the workspace and the cause, and never contains a secret.
    """
