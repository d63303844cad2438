"""Reports of a comparison: text for terminals, markdown for PR comments, JSON for tools.

No report ever shows a secret: a change that only touches a ref tag, or a
Kubernetes Secret's data, is "secret changed". Every report is the same for
the same comparison (no timings, sorted throughout), so a PR comment only
changes when the diff does.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import click

from .check import CheckResult
from .compare import NO_TARGET, TargetDiff, TreeDiff
from .diff import DiffResult
from .objects import FieldChange, show

MARKDOWN_MAX = 60_000  # GitHub refuses comments over 65,536 characters
TEXT_DIFF_MAX_LINES = 200  # of one file or one multi-line value
FIELDS_MAX = 100  # of one object

SIGN = {"added": "+", "removed": "-", "changed": "~", "renamed": ">", "moved": ">",
        "reformatted": "="}
COLOUR = {"+": "green", "-": "red", "~": "yellow", ">": "cyan", "=": "bright_black"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def counts_phrase(counts: dict[str, int]) -> str:
    """``2 files changed, 1 added; 3 objects changed; 1 secret changed``."""
    groups = []
    for noun, kinds in (("file", ("changed", "added", "removed", "renamed", "reformatted")),
                        ("object", ("changed", "added", "removed", "moved"))):
        parts = [(counts[f"{noun}s_{k}"], k) for k in kinds if counts[f"{noun}s_{k}"]]
        if parts:
            first = f"{_plural(parts[0][0], noun)} {parts[0][1]}"
            groups.append(", ".join([first] + [f"{n} {k}" for n, k in parts[1:]]))
    if counts["secrets_changed"]:
        groups.append(f"{_plural(counts['secrets_changed'], 'secret')} changed")
    return "; ".join(groups) or "no change"


def _title(result: DiffResult) -> str:
    what = "committed compiled/" if result.mode == "committed" else "compiled output"
    return f"{what} of {result.base} → {result.head}"


def _headline(diff: TreeDiff) -> str:
    changed = len(diff.targets)
    return (f"{changed} of {_plural(diff.compared, 'target')} changed"
            if changed else f"no change in {_plural(diff.compared, 'target')}")


def _target_name(t: TargetDiff) -> str:
    return "files outside every target" if t.name == NO_TARGET else t.name


def _target_heading(t: TargetDiff) -> str:
    state = ""
    if t.status != "changed" and t.name != NO_TARGET:
        state = " (new target)" if t.status == "added" else " (target removed)"
    return f"{_target_name(t)}{state}: {counts_phrase(t.counts())}"


def _field_text(fc: FieldChange, code: Callable[[str], str] = str) -> str:
    """One field change on one line; ``code`` formats paths and values."""
    path = code(fc.path)
    if fc.op == "secret":
        return f"{path}: secret changed"
    if fc.op == "reordered":
        return f"{path}: order changed"
    if fc.op == "added":
        return f"{path}: added {code(show(fc.new))}"
    if fc.op == "removed":
        return f"{path}: removed (was {code(show(fc.old))})"
    if fc.text:
        return f"{path}: text changed"
    return f"{path}: {code(show(fc.old))} → {code(show(fc.new))}"


def _cap(lines: list[str], limit: int) -> list[str]:
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"… {len(lines) - limit} more lines"]


@dataclass
class _Entry:
    """One file or object of a target's detail: what happened, and the lines below it."""

    sign: str
    status: str
    subject: str  # "file a.yml" / "Deployment ns/name"
    where: str  # the file of an object, or the old path of a renamed file
    note: str  # "secret changed", "formatting only", ...
    fields: list[FieldChange]
    more_fields: int
    diff: list[str]  # a text file's line diff


def _entries(t: TargetDiff) -> list[_Entry]:
    """Objects first (what reviewers look for), then the files not told by their objects."""
    out = []
    for o in t.objects:
        where = o.file if o.old_file in ("", o.file) else f"{o.old_file} → {o.file}"
        out.append(_Entry(SIGN[o.status], o.status, o.id.label(), where, "",
                          o.fields[:FIELDS_MAX], max(0, len(o.fields) - FIELDS_MAX), []))
    for f in t.files:
        if f.status == "changed" and f.structured:
            continue  # its changes are listed as objects
        note = ("secret changed" if f.secret_only else "binary file" if f.binary
                else "formatting only" if f.status == "reformatted" else "")
        out.append(_Entry(SIGN[f.status], f.status, f.path, f.old_path, note, [], 0,
                          _cap(f.text, TEXT_DIFF_MAX_LINES)))
    return out


# -- text ---------------------------------------------------------------------

def render_text(result: DiffResult, colour: bool = False) -> str:
    """The diff for a terminal; ANSI colours when ``colour``."""
    def paint(text: str, **style: object) -> str:
        return click.style(text, **style) if colour else text  # type: ignore[arg-type]

    def diff_lines(lines: list[str], indent: str) -> list[str]:
        fg = {"+": "green", "-": "red", "@": "cyan"}
        return [indent + (paint(d, fg=fg[d[:1]]) if d[:1] in fg else d) for d in lines]

    lines = [paint(f"kcompile diff: {_title(result)}", bold=True),
             f"{_headline(result.diff)}: {counts_phrase(result.diff.counts())}"]
    for t in result.diff.targets:
        lines += ["", paint(_target_heading(t), bold=True)]
        for e in _entries(t):
            lines.append("  " + paint(f"{e.sign} {e.status} {_subject(e)}", fg=COLOUR[e.sign]))
            for fc in e.fields:
                lines.append(f"      {_field_text(fc)}")
                lines += diff_lines(_cap(fc.text, TEXT_DIFF_MAX_LINES), "          ")
            if e.more_fields:
                lines.append(f"      … {e.more_fields} more fields")
            lines += diff_lines(e.diff, "      ")
    return "\n".join(lines) + "\n"


def _subject(e: _Entry, code: Callable[[str], str] = str) -> str:
    """``file a.yml``, ``file old → new``, ``Kind ns/name (file)``, with its note."""
    if e.where and e.status == "renamed":
        text = f"file {code(e.where)} → {code(e.subject)}"
    elif e.where:
        text = f"{code(e.subject)} ({code(e.where)})" if code is str else \
            f"{code(e.subject)} in {code(e.where)}"
    else:
        text = f"file {code(e.subject)}"
    return text + (f": {e.note}" if e.note else "")


# -- markdown -----------------------------------------------------------------

def _code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fenced(lines: list[str], indent: str) -> str:
    longest = max((len(m) for line in lines for m in re.findall(r"`{3,}", line)), default=2)
    fence = "`" * (longest + 1)
    return "\n".join(indent + line for line in [f"{fence}diff", *lines, fence])


def _md_block(e: _Entry) -> str:
    """One entry as a markdown list item, complete in itself."""
    block = f"- {e.sign} {e.status} {_subject(e, _code)}"
    if e.diff:
        block += "\n\n" + _fenced(e.diff, "  ") + "\n"
    for fc in e.fields:
        block += f"\n  - {_field_text(fc, _code)}"
        if fc.text:
            block += "\n\n" + _fenced(_cap(fc.text, TEXT_DIFF_MAX_LINES), "    ") + "\n"
    if e.more_fields:
        block += f"\n  - … {e.more_fields} more fields"
    return block


def _md_row(t: TargetDiff) -> str:
    c = t.counts()
    files = f"{c['files_added']} / {c['files_removed']} / {c['files_changed'] + c['files_renamed']}"
    objects = f"{c['objects_added']} / {c['objects_removed']} / {c['objects_changed']}"
    return f"| {_code(_target_name(t))} | {t.status} | {files} | {objects} | {c['secrets_changed']} |"


def render_markdown(result: DiffResult, max_chars: int = MARKDOWN_MAX) -> str:
    """A PR comment: a summary table, then one collapsible section per target,
    cut (at whole entries, the same way every time) to at most ``max_chars``.
    """
    diff = result.diff
    head = [f"### kcompile diff: {html.escape(_title(result))}", "",
            f"**{_headline(diff)}**: {counts_phrase(diff.counts())}", ""]
    if not diff.targets:
        return "\n".join(head)
    out = Budget(max_chars - 600)  # room for the closing note
    out.add("\n".join(head))
    out.add("| target | status | files + / - / ~ | objects + / - / ~ | secrets changed |\n"
            "|---|---|---|---|---|")
    rows = 0
    while rows < len(diff.targets) and out.add(_md_row(diff.targets[rows])):
        rows += 1
    out.add("")
    picture = _md_picture(result)
    if picture and out.fits(picture):
        out.add(picture)
    cut: list[str] = []
    for t in diff.targets[:rows]:
        summary = (f"<summary><code>{html.escape(_target_name(t))}</code>: "
                   f"{html.escape(counts_phrase(t.counts()))}</summary>")
        opening, closing = f"<details>\n{summary}\n", "\n</details>\n"
        if cut or not out.fits(opening + closing):
            cut.append(_target_name(t))
            continue
        out.add(opening)
        blocks = [_md_block(e) for e in _entries(t)]
        for shown, block in enumerate(blocks):
            note = f"\n_… {len(blocks) - shown} more entries of this target not shown_\n"
            if not out.fits(block + closing + note):
                out.add(note)
                break
            out.add(block)
        out.add(closing)
    text = out.text()
    cut += [_target_name(t) for t in diff.targets[rows:]]
    if cut:
        names = ", ".join(_code(n) for n in cut[:20]) + (f" and {len(cut) - 20} more"
                                                          if len(cut) > 20 else "")
        left_out = len(diff.targets) - rows
        text += (f"\n> [!NOTE]\n> Cut to stay under {max_chars} characters: "
                 f"{_plural(len(cut), 'target')} not detailed ({names})."
                 + (f" {_plural(left_out, 'row')} of the table left out." if left_out else "")
                 + " Run `kcompile diff` locally for the whole diff.\n")
    return text


def _md_picture(result: DiffResult) -> str:
    """A Mermaid graph of how the change reaches the changed targets ("" when nothing
    traces it: the targets changed for reasons no file names)."""
    if result.reach is None:
        return ""
    from .drawing import to_mermaid
    from .pictures import change_picture

    drawing = change_picture(result.reach, sorted(t.name for t in result.diff.targets
                                                    if t.name != NO_TARGET))
    if not drawing.edges:
        return ""
    note = f"\n_{drawing.note}_\n" if drawing.note else ""
    return ("**How the change reaches them** (changed files → classes → targets):\n\n"
            + to_mermaid(drawing) + note)


class Budget:
    """Markdown chunks added while they fit in a number of characters."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0

    def fits(self, chunk: str) -> bool:
        """Whether ``chunk`` (and its line break) still fits."""
        return self.size + len(chunk) + 1 <= self.limit

    def add(self, chunk: str) -> bool:
        """Add ``chunk`` when it fits; say whether it did."""
        if not self.fits(chunk):
            return False
        self.parts.append(chunk)
        self.size += len(chunk) + 1
        return True

    def text(self) -> str:
        """Everything added, one chunk a line."""
        return "\n".join(self.parts) + "\n"


# -- json ---------------------------------------------------------------------

def render_json(result: DiffResult) -> str:
    """The whole comparison for tools."""
    doc = {"base": result.base, "head": result.head, "mode": result.mode,
           **result.diff.as_dict()}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


# -- check --------------------------------------------------------------------

def render_check(result: CheckResult) -> str:
    """``check``'s summary: what ``kcompile`` would change, target by target, and leaks."""
    lines = []
    if result.diff.targets:
        lines.append("compiled/ is not what the sources produce; "
                     "running kcompile would change, by target:")
        for t in result.diff.targets:
            lines.append(f"  {_target_heading(t)}")
    if result.leaks:
        lines.append("compiled/ holds the plaintext of a secret ref (the value is not shown):")
        lines += [f"  {leak.file}: plaintext of {leak.ref}" for leak in result.leaks]
    problems = []
    n = len(result.diff.targets)
    if n:
        problems.append(f"{_plural(n, 'target')} {'differs' if n == 1 else 'differ'}")
    if result.leaks:
        problems.append(f"{_plural(len(result.leaks), 'leaked secret')}")
    lines.append(f"kcompile check: {', '.join(problems)}")
    return "\n".join(lines) + "\n"
