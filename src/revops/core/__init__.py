"""Shared foundations of revops: settings, paths, the warehouse client and the workspace registry."""
