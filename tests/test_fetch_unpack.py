"""Safe unpacking: crafted tar, tar.gz and zip archives that try to escape, bombs, and good ones."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from kapitan_lite.fetch.base import FetchError
from kapitan_lite.fetch.unpack import MAX_BYTES_ENV, MAX_FILES_ENV, extract, sniff


def member(name: str, data: bytes = b"", **kw) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = kw.pop("mode", 0o644)
    for key, value in kw.items():
        setattr(info, key, value)
    if info.type != tarfile.REGTYPE:
        info.size = 0
    return info, data


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A destination ``box/out`` whose parent must stay as it is."""
    (tmp_path / "box" / "out").mkdir(parents=True)
    return tmp_path / "box"


def outside_untouched(box: Path) -> None:
    assert sorted(p.name for p in box.iterdir()) == ["out"]


TAR_MODES = [("w", "x.tar"), ("w:gz", "x.tar.gz")]


@pytest.mark.parametrize(("mode", "fname"), TAR_MODES)
def test_good_tar_unpacks_with_dirs_exec_bits_and_inner_links(tmp_path, box, mode, fname):
    arc = make_tar(tmp_path / fname, [
        member("top", type=tarfile.DIRTYPE, mode=0o700),
        member("top/run.sh", b"#!/bin/sh\n", mode=0o775),
        member("top/private", b"p", mode=0o600),
        member("top/odd", b"o", mode=0o4467),  # setuid, no owner exec, group/other write
        member("top/a/b.txt", b"hello"),
        member("top/link", type=tarfile.SYMTYPE, linkname="a/b.txt"),
        member("top/hard", type=tarfile.LNKTYPE, linkname="top/a/b.txt"),
        member("top/a/b.txt", b"replaced"),  # a later entry wins, as tar does
    ], mode)
    out = box / "out"
    extract(str(arc), str(out))
    top = out / "top"
    assert (top / "a" / "b.txt").read_text() == "replaced"
    assert (top / "hard").read_text() == "hello"
    assert os.readlink(top / "link") == "a/b.txt"
    # Modes as Python's "data" tar filter keeps them.
    assert stat.S_IMODE((top / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((top / "private").stat().st_mode) == 0o600
    assert stat.S_IMODE((top / "odd").stat().st_mode) == 0o644
    assert stat.S_IMODE((top / "a" / "b.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE(top.stat().st_mode) == 0o755
    outside_untouched(box)


def test_good_zip_unpacks(tmp_path, box):
    exe = zipfile.ZipInfo("bin/tool")
    exe.external_attr = (stat.S_IFREG | 0o755) << 16
    link = zipfile.ZipInfo("bin/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    arc = make_zip(tmp_path / "x.zip", [("d/", b""), ("d/f.yml", b"a: 1\n"), (exe, b"x"),
                                        (link, b"../../../etc/passwd")])
    out = box / "out"
    extract(str(arc), str(out))
    assert (out / "d" / "f.yml").read_text() == "a: 1\n"
    # Python's zipfile (so Kapitan) restores no mode.
    assert stat.S_IMODE((out / "bin" / "tool").stat().st_mode) == 0o644
    # A zip symlink is a plain file holding its target (as Python's zipfile writes it).
    assert not (out / "bin" / "link").is_symlink()
    assert (out / "bin" / "link").read_text() == "../../../etc/passwd"
    outside_untouched(box)


@pytest.mark.parametrize(("mode", "fname"), TAR_MODES)
@pytest.mark.parametrize(("members", "entry", "why"), [
    ([member("../evil", b"x")], "../evil", "path leaves the destination"),
    ([member("a/../../evil", b"x")], "a/../../evil", "path leaves the destination"),
    ([member("/tmp/evil", b"x")], "/tmp/evil", "absolute path"),
    ([member("up", type=tarfile.SYMTYPE, linkname="../..")], "up", "leaves the destination"),
    ([member("abs", type=tarfile.SYMTYPE, linkname="/etc")], "abs", "leaves the destination"),
    # A link inside, then a file written through it.
    ([member("sub", type=tarfile.DIRTYPE), member("ln", type=tarfile.SYMTYPE, linkname="sub"),
      member("ln/f", b"x")], "ln/f", "written through the symlink ln"),
    # Each link looks inside on its own; resolved through the other, it leaves.
    ([member("s", type=tarfile.SYMTYPE, linkname="."),
      member("l", type=tarfile.SYMTYPE, linkname="s/s/../x")], "l", "leaves the destination"),
    ([member("h", type=tarfile.LNKTYPE, linkname="../outside")], "h", "leaves the destination"),
    ([member("h", type=tarfile.LNKTYPE, linkname="missing")], "h", "not in the archive before"),
    ([member("dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3)], "dev", "device file"),
    ([member("blk", type=tarfile.BLKTYPE)], "blk", "device file"),
    ([member("fifo", type=tarfile.FIFOTYPE)], "fifo", "special file"),
])
def test_tar_escapes_are_refused(tmp_path, box, mode, fname, members, entry, why):
    arc = make_tar(tmp_path / fname, members, mode)
    with pytest.raises(FetchError) as err:
        extract(str(arc), str(box / "out"), label="deps/x.tgz")
    assert str(err.value).startswith(f"deps/x.tgz: {entry}: ")
    assert why in str(err.value)
    assert "\n" not in str(err.value)
    outside_untouched(box)


@pytest.mark.parametrize(("name", "why"), [
    ("../../evil", "path leaves the destination"),
    ("ok/../../evil", "path leaves the destination"),
    ("/etc/evil", "absolute path"),
])
def test_zip_slip_is_refused(tmp_path, box, name, why):
    arc = make_zip(tmp_path / "x.zip", [("fine", b"1"), (zipfile.ZipInfo(name), b"x")])
    with pytest.raises(FetchError, match=f"x.zip: {name}: {why}"):
        extract(str(arc), str(box / "out"))
    outside_untouched(box)


def test_zip_device_entry_is_refused(tmp_path, box):
    dev = zipfile.ZipInfo("dev")
    dev.external_attr = (stat.S_IFCHR | 0o644) << 16
    arc = make_zip(tmp_path / "x.zip", [(dev, b"")])
    with pytest.raises(FetchError, match="dev: special file not allowed"):
        extract(str(arc), str(box / "out"))


def test_size_limit(tmp_path, box, monkeypatch):
    monkeypatch.setenv(MAX_BYTES_ENV, "1000")
    tar = make_tar(tmp_path / "big.tar.gz", [member("a", b"x" * 600), member("b", b"y" * 600)],
                   "w:gz")
    with pytest.raises(FetchError, match=f"big.tar.gz: b: unpacks to more than 1000 bytes "
                                         f"\\(raise {MAX_BYTES_ENV}"):
        extract(str(tar), str(box / "out"))
    # A zip whose entry compresses to almost nothing is measured unpacked.
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros", b"\0" * 5000)
    assert bomb.stat().st_size < 500
    with pytest.raises(FetchError, match=r"bomb.zip: zeros: unpacks to more than 1000 bytes"):
        extract(str(bomb), str(box / "out2"))
    monkeypatch.setenv(MAX_BYTES_ENV, "6000")
    extract(str(bomb), str(box / "out3"))
    assert (box / "out3" / "zeros").stat().st_size == 5000


def test_entry_limit(tmp_path, box, monkeypatch):
    monkeypatch.setenv(MAX_FILES_ENV, "3")
    arc = make_zip(tmp_path / "many.zip", [(f"f{i}", b"") for i in range(5)])
    with pytest.raises(FetchError, match=f"many.zip: f3: more than 3 entries \\(raise {MAX_FILES_ENV}"):
        extract(str(arc), str(box / "out"))
    monkeypatch.setenv(MAX_FILES_ENV, "lots")
    with pytest.raises(FetchError, match=f"{MAX_FILES_ENV}='lots': not a whole number"):
        extract(str(arc), str(box / "out"))


def test_kind_is_sniffed_from_bytes_not_name(tmp_path, box):
    tgz = make_tar(tmp_path / "misnamed.zip", [member("a", b"1")], "w:gz")
    plain = make_tar(tmp_path / "plain.bin", [member("b", b"2")])
    xz = make_tar(tmp_path / "c.bin", [member("c", b"3")], "w:xz")
    zipped = make_zip(tmp_path / "d.tar.gz", [("d", b"4")])
    text = tmp_path / "e.txt"
    text.write_text("just text\n" * 100)
    gz_not_tar = tmp_path / "f.gz"
    import gzip
    gz_not_tar.write_bytes(gzip.compress(b"not a tar" * 100))
    assert [sniff(str(p)) for p in (tgz, plain, xz, zipped, text, gz_not_tar)] == [
        "tar.gz", "tar", "tar.xz", "zip", None, None]
    for arc in (tgz, plain, xz, zipped):
        extract(str(arc), str(box / "out"))
    assert sorted(p.name for p in (box / "out").iterdir()) == ["a", "b", "c", "d"]
    with pytest.raises(FetchError, match=r"e.txt: not a tar, tar.gz or zip archive"):
        extract(str(text), str(box / "out"))


def test_corrupt_archive_is_one_line_error(tmp_path, box):
    good = make_tar(tmp_path / "t.tar.gz", [member("a", b"x" * 100000)], "w:gz").read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(FetchError, match=r"cut.tar.gz: corrupt tar.gz archive") as err:
        extract(str(cut), str(box / "out"), kind="tgz")
    assert "\n" not in str(err.value)


def test_zip_compression_python_lacks_is_an_error(tmp_path, box):
    arc = make_zip(tmp_path / "x.zip", [("f", b"data")])
    raw = bytearray(arc.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # method in both headers
        at = raw.index(sig)
        raw[at + offset:at + offset + 2] = (98).to_bytes(2, "little")  # PPMd
    arc.write_bytes(bytes(raw))
    with pytest.raises(FetchError, match=r"x\.zip: cannot unpack: .*compression"):
        extract(str(arc), str(box / "out"))
