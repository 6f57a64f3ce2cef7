import os
import sys
import tempfile

# Kernel caches of the test run live in a private directory unless CI set one.
os.environ.setdefault("LANGONE_CACHE_DIR", os.path.join(tempfile.gettempdir(),
                                                        "langone-test-cache"))
# Background AOT builds would compete for the 2 cores; tests that need them opt in.
os.environ.setdefault("LANGONE_AOT", "0")
sys.path.insert(0, os.path.dirname(__file__))

# CI runs a fixed sequence of examples (reproducible, never flaky); local runs
# explore new random examples each time and remember failures in .hypothesis/.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
