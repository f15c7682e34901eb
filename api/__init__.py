"""revops' read-only REST API over the marts (FastAPI).

Serve it with `uvicorn --factory api.main:create_app`; see docs/deploy.md.
"""
