"""revops' read-only REST API over the marts (FastAPI).

Serve it with `uvicorn --factory revops.api.main:create_app`; see docs/deploy.md.
"""
