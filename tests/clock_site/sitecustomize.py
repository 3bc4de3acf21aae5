"""Loaded at start-up by every Python process a test starts (the test run puts this folder on
PYTHONPATH): the process runs on the test's clock, PORTAL_TEST_CLOCK_OFFSET seconds from real time."""
import os

if os.environ.get("PORTAL_TEST_CLOCK_OFFSET"):
    import time

    import time_machine

    time_machine.travel(time.time() + float(os.environ["PORTAL_TEST_CLOCK_OFFSET"]), tick=True).start()
