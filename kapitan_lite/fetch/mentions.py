"""Whether an inventory mentions ``force_fetch``: only then can a plain compile need a fetch.

Every compile asks, so the answer must cost no more than a stat of each
inventory file. Each file's answer is noted with its inode, size, mtime and
ctime (as the incremental cache trusts sources) in ``memo``, and a file is
read again only when one of them moved. Files changed within the last two
seconds are not noted: they may change again within one tick of the clock.
"""

from __future__ import annotations

import json
import os
import time

_RECENT_NS = 2_000_000_000
_WORD = b"force_fetch"


def mentions_force_fetch(inventory_path: str, memo: str | None = None) -> bool:
    """Whether any ``.yml``/``.yaml`` file under ``inventory_path`` contains ``force_fetch``.

    ``memo``: a file in which to keep each file's answer between runs, kept
    only where its directory exists (the cache dir, which ignores itself in git).
    """
    known = _load(memo) if memo else {}
    noted: dict[str, list[int]] = {}
    recent = time.time_ns() - _RECENT_NS
    found = False
    for base, _dirs, files in os.walk(inventory_path, followlinks=True):
        for name in files:
            if not name.endswith((".yml", ".yaml")):
                continue
            path = os.path.join(base, name)
            try:
                st = os.stat(path)
                stamp = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
                seen = known.get(path)
                if seen is not None and seen[:4] == stamp:
                    says = seen[4]
                else:
                    with open(path, "rb") as fp:
                        says = int(_WORD in fp.read())
            except OSError:
                continue
            if max(stamp[2], stamp[3]) < recent:
                noted[path] = [*stamp, says]
            elif seen is not None:
                # Kept as it was: its stamp no longer matches, so it is read again
                # next time, and a run just after an edit need not rewrite the memo.
                noted[path] = seen
            found = found or bool(says)
    if memo and noted != known:
        _save(memo, noted)
    return found


def _load(memo: str) -> dict[str, list[int]]:
    try:
        with open(memo, "rb") as fp:
            data = json.loads(fp.read())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not all(
            isinstance(v, list) and len(v) == 5 for v in data.values()):
        return {}
    return data


def _save(memo: str, noted: dict[str, list[int]]) -> None:
    """Write the memo atomically; a memo that can't be written costs only reads."""
    if not os.path.isdir(os.path.dirname(memo) or "."):
        return
    # A name of this process's own, not tempfile's: importing tempfile costs more
    # than the rest of a run's check.
    tmp = f"{memo}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as fp:
            fp.write(json.dumps(noted, separators=(",", ":")))
        os.replace(tmp, memo)
    except OSError:
        os.unlink(tmp)
