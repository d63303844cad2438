"""Plaintext secrets in inventory files: known key formats, secret-named keys, high entropy.

Line by line over the raw text, so comments are searched too (a secret in a
comment is leaked as well). Values that are ref tags (``?{...}``) or
references (``${...}``) are what a secret should look like and pass.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from .findings import Finding

KNOWN = [
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a Stripe secret key", re.compile(r"\b[sr]k_live_[0-9A-Za-z]{20,}")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
]
SECRET_KEY = re.compile(
    r"^\s*(?:-\s+)?[~=]?['\"]?([\w.-]*(?:password|passwd|secret|token|api[_-]?key|"
    r"private[_-]?key))['\"]?\s*:\s*(.*)$", re.IGNORECASE)
TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{24,}")
HIDDEN = re.compile(r"\?\{[^}]*\}|\$\{[^}]*\}|\$\[[^\]]*\]")
MIN_ENTROPY = 4.2


def entropy(text: str) -> float:
    """Shannon entropy of ``text``, in bits per character."""
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _literal(value: str) -> str:
    value = value.split(" #", 1)[0].strip().strip("'\"")
    if value.lower() in ("", "|", ">", "|-", ">-", "~", "null", "{}", "[]", "true", "false") \
            or HIDDEN.search(value):
        return ""
    return value


def scan_text(path: str, text: str) -> list[Finding]:
    """Every plaintext secret found in one file's text."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        shown = HIDDEN.sub("", line)
        found = next((what for what, rx in KNOWN if rx.search(shown)), None)
        if found:
            out.append(Finding(path, n, "plaintext-secret", f"{found} in plain text"))
            continue
        m = SECRET_KEY.match(line)
        if m and not line.lstrip().startswith("#") and len(_literal(m.group(2))) >= 6:
            out.append(Finding(path, n, "plaintext-secret",
                               f"{m.group(1)} holds a literal value: keep secrets in refs "
                               "(?{type:path})"))
            continue
        for tok in TOKEN.findall(shown):
            if (any(c.isupper() for c in tok) and any(c.islower() for c in tok)
                    and any(c.isdigit() for c in tok) and entropy(tok) >= MIN_ENTROPY):
                out.append(Finding(path, n, "plaintext-secret",
                                   f"high-entropy string {tok[:4]}... ({len(tok)} characters) "
                                   "looks like a secret"))
                break
    return out
