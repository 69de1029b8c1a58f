"""A pytest plugin (``-p aftercare.lib.pytest_env`` in pyproject.toml) that sets the test
suite's environment before pytest-django reads the settings.

Fast password hashing: thousands of test users would otherwise spend most of the suite's
time in PBKDF2. Server processes the tests start inherit the variable, so passwords set in
the test process still verify there.
"""

import os

os.environ.setdefault("AFTERCARE_TEST_FAST_PASSWORDS", "1")
