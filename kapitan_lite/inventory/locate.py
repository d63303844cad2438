"""Turn an engine's error text into located problems (``path:line: target: message``).

Neither kapicorp-reclass nor reclass-rs reports line numbers, and reclass-rs
does not name files. This module reads the engine's message, finds the file
and line in the inventory that caused it, and words it once, concisely. It
runs only on the error path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from ..errors import Problem, display_path
from ..yamlload import YamlLoadError, load_yaml_file

_URI = r"yaml_fs://(?P<{}>[^\s;]+)"
_RECLASS_PATTERNS = [
    (re.compile(r"Class (?P<cls>\S+) not found under"), "missing_class"),
    (re.compile(r"Cannot resolve (?P<ref>\$\{.*?\}), at (?P<key>\S+), in " + _URI.format("f")), "undefined_ref"),
    (re.compile(r"Cannot merge (?P<what>.+?), at (?P<key>\S+), in " + _URI.format("f1") + "; " + _URI.format("f2") + r"$"), "merge"),
    (re.compile(r"Attempt to change constant value, at (?P<key>\S+), in " + _URI.format("f1") + "; " + _URI.format("f2") + r"$"), "constant"),
    (re.compile(r"Infinite recursion: (?P<ref>\$\{.*?\}), at (?P<key>\S+), in " + _URI.format("f")), "cycle"),
]
_RS_PATTERNS = [
    (re.compile(r"Class (?P<cls>\S+) not found"), "missing_class"),
    (re.compile(r"lookup error for reference '(?P<ref>.*?)' in parameter '(?P<key>[^']*)': (?P<why>.*)"), "undefined_ref"),
    (re.compile(r"In (?P<key>\S+): Can't merge (?P<what>.*)"), "merge"),
    (re.compile(r"Can't overwrite constant key \"(?P<key>[^\"]+)\""), "constant"),
    (re.compile(r"Detected reference loop with reference paths \[(?P<chain>.*)\]"), "cycle"),
    (re.compile(r"Deserializing (?P<cls>\S+): (?P<why>.*?)(?: at line (?P<line>\d+)|$)"), "yaml"),
]


class Locator:
    """Finds inventory files and lines for an engine's error messages."""

    def __init__(self, classes_dir: str, target_file: str, target: str):
        self.classes_dir = classes_dir
        self.target_file = target_file
        self.target = target

    # -- files ---------------------------------------------------------------
    def inventory_files(self) -> Iterator[str]:
        """The target file first, then every class file, sorted."""
        yield self.target_file
        for root, dirs, files in os.walk(self.classes_dir, followlinks=True):
            dirs.sort()
            for f in sorted(files):
                if f.endswith((".yml", ".yaml")):
                    yield os.path.join(root, f)

    def class_file(self, cls: str) -> str | None:
        """The file of class ``cls`` (``a/b.yml`` or ``a/b/init.yml``)."""
        base = os.path.join(self.classes_dir, *cls.split("."))
        for cand in (base + ".yml", base + ".yaml", os.path.join(base, "init.yml"),
                     os.path.join(base, "init.yaml")):
            if os.path.isfile(cand):
                return cand
        return None

    @staticmethod
    def _lines(path: str) -> list[str]:
        try:
            with open(path, encoding="utf-8") as fp:
                return fp.read().splitlines()
        except OSError:
            return []

    def line_of(self, path: str, needle: str) -> int:
        """First line of ``path`` containing ``needle`` (1-based), or 0."""
        for i, line in enumerate(self._lines(path), 1):
            if needle in line:
                return i
        return 0

    def key_line(self, path: str, key_path: str) -> int:
        """Line of the last key of a ``a:b:c`` path in ``path``, or 0."""
        keys = [k for k in re.split(r"[:.]", key_path) if k]
        if not keys:
            return 0
        last = keys[-1]
        pat = re.compile(r"^\s*(?:-\s+)?[~=]?['\"]?" + re.escape(last) + r"['\"]?\s*:")
        for i, line in enumerate(self._lines(path), 1):
            if pat.match(line):
                return i
        return 0

    def class_entry(self, cls: str) -> tuple[str, int]:
        """The file and line that list class ``cls`` (relative names included)."""
        last = cls.rsplit(".", 1)[-1]
        entry = re.compile(r"^\s*-\s*['\"]?(?P<name>[^'\"#\s]+)")
        for path in self.inventory_files():
            for i, line in enumerate(self._lines(path), 1):
                m = entry.match(line)
                if not m:
                    continue
                name = m.group("name")
                if name == cls or (name.startswith(".") and name.lstrip(".").endswith(last)
                                   and cls.endswith(name.lstrip("."))):
                    return path, i
        return self.target_file, 0

    def ref_use(self, ref: str, key: str = "") -> tuple[str, int]:
        """The file and line that use reference ``ref`` (preferring key ``key``)."""
        hits = []
        for path in self.inventory_files():
            for i, line in enumerate(self._lines(path), 1):
                if ref in line:
                    hits.append((path, i, line))
        if not hits:
            return self.target_file, 0
        last = re.split(r"[:.]", key)[-1] if key else ""
        for path, i, line in hits:
            if last and re.match(r"^\s*(?:-\s+)?[~=]?['\"]?" + re.escape(last) + r"['\"]?\s*:", line):
                return path, i
        return hits[0][0], hits[0][1]

    def tag_use(self, tag: str) -> tuple[str, int]:
        """The inventory file and line that hold ref tag ``tag``.

        The inventory usually writes the tag with references in its path
        (``?{base64:targets/${target_name}/pw}``), so each raw tag is matched
        with its ``${...}`` parts as wildcards.
        """
        m = re.match(r"\?\{(\w+):([^|}]*)", tag)
        if not m:
            return self.target_file, 0
        kind, path = m.groups()
        raw_tag = re.compile(r"\?\{" + re.escape(kind) + r":((?:\$\{[^}]*\}|[^|}\s])*)")
        for file in self.inventory_files():
            for i, line in enumerate(self._lines(file), 1):
                for raw in raw_tag.findall(line):
                    parts = re.split(r"(\$\{[^}]*\})", raw)
                    pattern = "".join(".+?" if p.startswith("${") else re.escape(p) for p in parts)
                    if re.fullmatch(pattern, path) or re.fullmatch(pattern + r":[0-9a-f]{8}", path):
                        return file, i
        return self.target_file, 0

    def yaml_problems(self) -> list[Problem]:
        """Parse every inventory file and report each YAML syntax error with its line."""
        problems = []
        for path in self.inventory_files():
            try:
                load_yaml_file(path)
            except YamlLoadError as exc:
                problems.append(Problem(path, exc.line, self.target, exc.message))
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(path, 0, self.target, f"cannot read file: {exc}"))
        return problems

    # -- messages ------------------------------------------------------------
    def problems(self, message: str, engine: str) -> list[Problem]:
        """Located problems for one engine error message."""
        patterns = _RS_PATTERNS if engine == "reclass-rs" else _RECLASS_PATTERNS
        out: list[Problem] = []
        for raw in message.splitlines():
            line = raw.strip()
            for pat, kind in patterns:
                m = pat.search(line)
                if m:
                    out.append(self._problem(kind, m))
                    break
        if not out:
            text = " ".join(s.strip() for s in message.splitlines() if not s.startswith("->"))
            text = re.sub(r"^Error while rendering \S+: ", "", text)
            out.append(Problem(self.target_file, 0, self.target, text.strip() or message))
        return out

    def _problem(self, kind: str, m: re.Match[str]) -> Problem:
        g = m.groupdict()
        t = self.target
        if kind == "missing_class":
            path, line = self.class_entry(g["cls"])
            return Problem(path, line, t, f"class {g['cls']} not found")
        if kind == "undefined_ref":
            key = g["key"]
            if g.get("f"):
                path = g["f"]
                line = self.line_of(path, g["ref"])
            else:
                path, line = self.ref_use(g["ref"], key)
            return Problem(path, line, t, f"undefined reference {g['ref']} (in parameter {key})")
        if kind == "merge":
            key = g["key"]
            what = g["what"].replace("Value::Literal", "scalar").replace("Value::", "")
            if g.get("f2"):
                earlier = f"{display_path(g['f1'])}:{self.key_line(g['f1'], key)}"
                return Problem(g["f2"], self.key_line(g["f2"], key), t,
                               f"cannot merge {what} at {key} (earlier value at {earlier})")
            places = self._key_everywhere(key)
            path, line = places[-1] if places else (self.target_file, 0)
            seen = ", ".join(f"{display_path(p)}:{n}" for p, n in places[:-1])
            extra = f" (also set at {seen})" if seen else ""
            return Problem(path, line, t, f"cannot merge {what} at {key}{extra}")
        if kind == "constant":
            key = g["key"]
            if g.get("f2"):
                first = f"{display_path(g['f1'])}:{self.key_line(g['f1'], '=' + key) or self.key_line(g['f1'], key)}"
                return Problem(g["f2"], self.key_line(g["f2"], key), t,
                               f"changes constant parameter {key} (set at {first})")
            path, line = self._key_anywhere(key)
            return Problem(path, line, t, f"changes constant parameter {key}")
        if kind == "cycle":
            if g.get("chain") is not None:
                chain = [c.strip().strip('"') for c in g["chain"].split(",")]
                path, line = self._key_anywhere(chain[0])
                return Problem(path, line, t,
                               "reference cycle: " + " -> ".join(chain + chain[:1]))
            path = g["f"]
            return Problem(path, self.line_of(path, g["ref"]), t,
                           f"reference cycle through {g['ref']} at {g['key']}")
        if kind == "yaml":
            path = self.class_file(g["cls"]) or self.target_file
            try:
                load_yaml_file(path)
            except (YamlLoadError, OSError, UnicodeDecodeError) as exc:
                if isinstance(exc, YamlLoadError) and exc.line:
                    # Our parser tells where the bad token starts; reclass-rs's where it stopped.
                    return Problem(path, exc.line, t, exc.message)
            return Problem(path, int(g["line"] or 0), t, f"YAML syntax error: {g['why']}")
        raise AssertionError(kind)

    def _key_everywhere(self, key: str) -> list[tuple[str, int]]:
        out = []
        for path in self.inventory_files():
            line = self.key_line(path, key)
            if line:
                out.append((path, line))
        return out

    def _key_anywhere(self, key: str) -> tuple[str, int]:
        for path in self.inventory_files():
            line = self.key_line(path, key)
            if line:
                return path, line
        return self.target_file, 0
