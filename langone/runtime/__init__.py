"""Runtime services around tensors and kernels: platform profiles, budgets, monitoring.

Submodules are imported by name (``langone.runtime.platform``); this package
imports nothing itself, so importing it costs nothing.
"""
