"""A two-way channel of pickled messages between the run and a worker it forked.

Two plain pipes, each message a length and a pickle. It does what the run
used ``multiprocessing.Pipe`` for, without importing ``multiprocessing``
(its context, reduction and socket modules cost the run some 6 ms of a
class edit's 0.4 s, and the workers need none of them).
"""

from __future__ import annotations

import os
import pickle
import select
import struct
from collections.abc import Iterable
from typing import Any

_LENGTH = struct.Struct("<Q")


class Channel:
    """One end: reads the other end's messages, writes its own."""

    def __init__(self, read_fd: int, write_fd: int):
        self._read, self._write = read_fd, write_fd

    def fileno(self) -> int:
        """The descriptor to wait on for the other end's messages."""
        return self._read

    def send(self, obj: Any) -> None:
        """Write one message; raise ``BrokenPipeError`` when the other end is closed."""
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(_LENGTH.pack(len(data)) + data)
        while view:
            view = view[os.write(self._write, view):]

    def recv(self) -> Any:
        """Read one message; raise ``EOFError`` when the other end closed before it."""
        (size,) = _LENGTH.unpack(self._read_exactly(_LENGTH.size))
        return pickle.loads(self._read_exactly(size))

    def _read_exactly(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = os.read(self._read, min(left, 1 << 20))
            if not chunk:
                raise EOFError("the other end of the channel closed")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        """Close this end (both of its descriptors); closing twice is harmless."""
        for fd in (self._read, self._write):
            if fd >= 0:
                os.close(fd)
        self._read = self._write = -1


def pair() -> tuple[Channel, Channel]:
    """Two connected ends: what one sends, the other receives."""
    a_read, b_write = os.pipe()
    b_read, a_write = os.pipe()
    return Channel(a_read, a_write), Channel(b_read, b_write)


def wait(channels: Iterable[Channel]) -> list[Channel]:
    """Block until some of ``channels`` have a message or were closed at the other end."""
    by_fd = {c.fileno(): c for c in channels}
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    return [by_fd[fd] for fd, _ in poller.poll()]  # no timeout: never empty
