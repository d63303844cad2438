"""The force_fetch scan that every compile runs reads only the inventory files whose stat moved."""

import json
import os
import time
from pathlib import Path

from kapitan_lite.fetch.mentions import mentions_force_fetch


def _age(path, seconds=100):
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_memo_answers_by_stat_and_never_hides_a_new_force_fetch(tmp_path):
    inv = tmp_path / "inventory"
    (inv / "classes").mkdir(parents=True)
    (inv / "targets").mkdir()
    cls, tgt = inv / "classes/common.yml", inv / "targets/a.yml"
    cls.write_text("parameters:\n  fetch_me_no: 1\n")
    tgt.write_text("classes: [common]\n")
    for p in (cls, tgt):
        _age(p)
    (tmp_path / "cache").mkdir()
    time.sleep(2.1)  # setting the times moved the ctimes: files that recent are never noted
    memo = str(tmp_path / "cache/force-fetch.json")
    assert mentions_force_fetch(str(inv), memo) is False
    assert set(json.loads(Path(memo).read_text())) == {str(cls), str(tgt)}
    assert mentions_force_fetch(str(inv), memo) is False  # answered from the memo

    # A same-size edit that sets the times back still moves the ctime: read again.
    before = cls.stat()
    cls.write_text("parameters:\n  force_fetch: 1\n")
    assert cls.stat().st_size == before.st_size
    os.utime(cls, ns=(before.st_atime_ns, before.st_mtime_ns))
    memo_inode = os.stat(memo).st_ino
    assert mentions_force_fetch(str(inv), memo) is True
    # Just changed: its new stamp is not noted. The memo keeps the old one, which no
    # longer matches, so the next run reads it again too; and a run right after an
    # edit does not rewrite the memo.
    st = cls.stat()
    noted = json.loads(Path(memo).read_text())
    assert noted[str(cls)][:4] != [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    assert os.stat(memo).st_ino == memo_inode
    assert mentions_force_fetch(str(inv), memo) is True
    # Once it is old enough, it is noted again, with what it says now.
    _age(cls)
    time.sleep(2.1)
    assert mentions_force_fetch(str(inv), memo) is True
    st = cls.stat()
    assert json.loads(Path(memo).read_text())[str(cls)] == [
        st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, 1]


def test_no_memo_is_written_without_its_dir(tmp_path):
    inv = tmp_path / "inventory"
    inv.mkdir()
    (inv / "a.yml").write_text("x: 1\n")
    _age(inv / "a.yml")
    memo = tmp_path / "absent/force-fetch.json"
    assert mentions_force_fetch(str(inv), str(memo)) is False
    assert not memo.parent.exists()
