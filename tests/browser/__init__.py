"""
The administration pages in a real browser: headless Chromium, driven by
Selenium through chromedriver, against the real daemon.  Run them with
C{make test-clients} (they carry the C{clients} marker).
"""
