"""TokenLock: the mutex of a memory stack, cheap enough for the hot path.

A list holding one token: ``pop()`` takes it (``IndexError`` when somebody
else holds it) and ``append(True)`` puts it back. Both are single C calls,
atomic under the GIL and in free-threaded builds alike. A round trip costs
~30 ns here against 120-180 ns for ``threading.Lock``, which would spend a
third of the pool's 1 us alloc+free budget on its two round trips.

Hot paths call ``pop`` / ``append(True)`` directly; everything else uses
``acquire`` / ``release`` or ``with``. It is not reentrant and has no owner,
like ``threading.Lock``.

Example:
    >>> lock = TokenLock()
    >>> with lock:
    ...     lock.locked(), lock.acquire(blocking=False)
    (True, False)
    >>> lock.locked()
    False
"""

from __future__ import annotations

import time

_MAX_SLEEP = 1e-3


class TokenLock(list):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__((True,))

    def acquire(self, blocking: bool = True) -> bool:
        try:
            self.pop()
            return True
        except IndexError:
            if not blocking:
                return False
        wait_for(self)
        return True

    def release(self) -> None:
        if self:
            raise RuntimeError("release of a TokenLock that is not held")
        self.append(True)

    def locked(self) -> bool:
        return not self

    def __enter__(self) -> "TokenLock":
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.append(True)

    def __repr__(self) -> str:
        return f"<TokenLock {'locked' if not self else 'unlocked'}>"


def wait_for(lock: TokenLock) -> None:
    """Take ``lock``, which was found held: sleep (releasing the GIL so that the
    holder can finish) with exponential backoff from 0 to 1 ms, retrying."""
    delay = 0.0
    while True:
        time.sleep(delay)
        try:
            lock.pop()
            return
        except IndexError:
            delay = min(delay * 2 or 1e-6, _MAX_SLEEP)
