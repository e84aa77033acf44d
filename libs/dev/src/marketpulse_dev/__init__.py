"""Development tooling: `make run`/`make demo` (the supervisor) and a private redis-server.

Installed in the development workspace only; service images never carry it.
"""
