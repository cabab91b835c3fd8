"""The plugins that give every test its fixtures, and the session-wide personal-data check.

They live in `tests/support/`: test databases on each backend, a whole gateway in process
with its simulators, a gateway on a socket driven by a headless Chromium, and the check
that no log line or audit leaf of the run holds personal data.
"""

pytest_plugins = [
    "tests.support.databases",
    "tests.support.stack",
    "tests.support.browser",
    "tests.support.leaks",
    "tests.support.products",
]
