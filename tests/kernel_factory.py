"""Build kernels from generated source text (real files, so inspect finds them)."""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import tempfile

_DIR = tempfile.mkdtemp(prefix="langone-generated-")
_counter = itertools.count()

PRELUDE = "import numpy as np\nimport langone as lo\nSCALE = 3.0\nBF16 = np.float32\n\n"


def load_function(source: str, name: str):
    """Write ``source`` to a fresh module file, import it and return ``name``.

    Returns None when Python itself rejects the module (SyntaxError and the
    like): that is the generator's doing, not LangOne's.
    """
    modname = f"_langone_gen_{next(_counter)}"
    path = os.path.join(_DIR, modname + ".py")
    with open(path, "w") as fh:
        fh.write(PRELUDE + source)
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except (SyntaxError, ValueError, TypeError, NameError):
        return None
    sys.modules[modname] = mod
    return getattr(mod, name, None)
