"""Time-ordered UUIDs (version 7).

Random UUIDv4 keys scatter inserts across the whole primary-key B-tree; at a
million customers a company's inserts then touch cold pages. UUIDv7 keys grow
with time, so inserts land on the right-most leaf and history sorts by id.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_sequence = 0


def new_id() -> uuid.UUID:
    """A UUIDv7: 48-bit milliseconds, then a per-process sequence and randomness."""
    global _last_ms, _sequence
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            # Same millisecond (or the clock stepped back): keep ids monotonic.
            _sequence += 1
            now_ms = _last_ms
        else:
            _sequence = 0
        _last_ms = now_ms
        sequence = _sequence & 0xFFF
    random_tail = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (now_ms << 80) | (0x7 << 76) | (sequence << 64) | (0b10 << 62) | random_tail
    return uuid.UUID(int=value)
