"""Local CRM simulators ("sandboxes") served over loopback HTTP for tests, benchmarks and the CLI.

Each CRM has its own module (e.g. `adapters.sandbox.hubspot.HubSpotSandbox`); `server.py` holds
the shared threaded WSGI server. Importing this package starts nothing.
"""
