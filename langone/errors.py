"""Every error LangOne raises derives from :class:`LangOneError`.

Messages state the numbers involved (sizes, capacities, shapes) and what to do
about the problem, so that a user can act on them without reading our source.

Example:
    >>> from langone.errors import PoolExhausted
    >>> raise PoolExhausted(requested=4096, available=1024)
    Traceback (most recent call last):
    ...
    langone.errors.PoolExhausted: cannot allocate 4.00 KiB: only 1.00 KiB available ...
"""

from __future__ import annotations


def format_bytes(n: int | float) -> str:
    """Render a byte count for humans: ``format_bytes(1536) == '1.50 KiB'``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


class LangOneError(Exception):
    """Base class of every error raised by LangOne."""


# --- memory ---------------------------------------------------------------

class AllocationFailed(LangOneError, MemoryError):
    """The upstream allocator (host or device) could not provide memory."""

    def __init__(self, requested: int, device: str = "cpu", reason: str = ""):
        self.requested = requested
        self.device = device
        msg = f"allocation of {format_bytes(requested)} on {device} failed"
        if reason:
            msg += f": {reason}"
        msg += ("; free memory (del unused tensors, pool.compact()) "
                "or request less")
        super().__init__(msg)


class PoolExhausted(AllocationFailed):
    """A pool or limit adaptor would exceed its configured capacity."""

    def __init__(self, requested: int, available: int, limit: int | None = None,
                 device: str = "cpu", what: str = "memory pool"):
        self.available = available
        self.limit = limit
        LangOneError.__init__(self, (
            f"cannot allocate {format_bytes(requested)}: only "
            f"{format_bytes(available)} available in the {what} on {device}"
            + (f" (limit {format_bytes(limit)})" if limit is not None else "")
            + "; free tensors you no longer need, call pool.compact(), "
              "or raise the limit (MemoryPoolConfig.max_pool_size / the budget)"))
        self.requested = requested
        self.device = device


class InvalidOperation(LangOneError, ValueError):
    """An operation that cannot be valid: double free, a foreign block, ..."""


class CorruptionDetected(LangOneError):
    """Guard bytes around a block were overwritten (debug mode only)."""


# --- devices and dtypes ----------------------------------------------------

class DeviceNotFound(LangOneError, LookupError):
    """A device name that does not parse or a device this machine lacks."""


class UnsupportedPrecision(LangOneError, TypeError):
    """A dtype/precision that is unknown or unsupported where it was asked for."""


class DriverError(LangOneError, RuntimeError):
    """A failure reported by a device driver or runtime (CUDA, NVML, ...)."""


# --- resources --------------------------------------------------------------

class BudgetExceeded(LangOneError):
    """A kernel or scope needs more of a resource than its declared budget."""

    def __init__(self, resource: str, needed: int, budget: int, where: str = ""):
        self.resource = resource
        self.needed = needed
        self.budget = budget
        loc = f" in {where}" if where else ""
        super().__init__(
            f"{resource} budget exceeded{loc}: needs {format_bytes(needed)}, "
            f"budget is {format_bytes(budget)} "
            f"({needed / budget:.0%} of it) ; raise the budget or shrink the inputs"
            if budget else f"{resource} budget exceeded{loc}: needs "
            f"{format_bytes(needed)}, budget is 0")


# --- kernels ------------------------------------------------------------------

class KernelError(LangOneError):
    """Base class of errors about kernels."""


class KernelCompileError(KernelError):
    """Source outside the kernel language, or a type error in it.

    The message shows ``file:line:col``, the offending line with a caret under
    the column, and what to write instead.
    """

    def __init__(self, message: str, *, filename: str = "<unknown>",
                 lineno: int | None = None, col: int | None = None,
                 source_line: str | None = None, hint: str | None = None,
                 kernel: str | None = None):
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.col = col
        self.source_line = source_line
        self.hint = hint
        self.kernel = kernel
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        where = self.filename
        if self.lineno is not None:
            where += f":{self.lineno}"
            if self.col is not None:
                where += f":{self.col + 1}"
        head = f"{where}: " if where else ""
        kern = f"in kernel '{self.kernel}': " if self.kernel else ""
        parts.append(f"{head}{kern}{self.message}")
        if self.source_line is not None:
            line = self.source_line.rstrip("\n")
            stripped = line.lstrip()
            indent = len(line) - len(stripped)
            parts.append("    " + stripped)
            if self.col is not None:
                parts.append("    " + " " * max(self.col - indent, 0) + "^")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class KernelArgumentError(KernelError, TypeError):
    """A kernel call with wrong arity, shape or dtype."""


class KernelRuntimeError(KernelError, RuntimeError):
    """A failure while a compiled kernel ran (bounds check, mismatch, ...)."""


class KernelIndexError(KernelRuntimeError, IndexError):
    """An out-of-bounds tensor access caught by ``debug=True`` bounds checks."""


class BackendUnavailable(KernelError, LookupError):
    """The requested backend is unknown or not usable on this machine."""


class ResultMismatch(KernelRuntimeError):
    """``check=True`` found a backend result different from the numpy reference."""


__all__ = [name for name in dir() if name[0].isupper()] + ["format_bytes"]
