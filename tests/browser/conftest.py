"""
Every browser test needs Chromium: checked before anything starts.
"""

import pytest

from tests.browser import requireBrowser


@pytest.fixture(scope="session", autouse=True)
def browserInstalled():
    requireBrowser()
