import os
import sys
import tempfile

# Kernel caches of the test run live in a private directory unless CI set one.
os.environ.setdefault("LANGONE_CACHE_DIR", os.path.join(tempfile.gettempdir(),
                                                        "langone-test-cache"))
sys.path.insert(0, os.path.dirname(__file__))
