"""SQL files as the Supabase CLI sees them: split into statements, and fingerprinted by what runs.

The CLI records a migration in supabase_migrations.schema_migrations.statements as one element per statement,
split where a `;` stands outside quotes, comments, dollar quotes, parentheses and BEGIN ATOMIC bodies, each
trimmed of the `;` and surrounding white space, comments kept. `supabase migration fetch` writes a file back
as those elements joined by ";\\n", plus a final ";\\n". split_statements() splits the same way, so what this
runner records is what the CLI would, and fingerprint() hashes the statements without their comments and
layout: a fetched file, a file whose comments (its rollback block among them) were edited, and the file as
first applied all have one fingerprint, while any change to what runs changes it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def _tokens(sql: str) -> Iterator[tuple[str, str]]:
    """(kind, text) pieces covering the whole input: code, space, comment, quoted (strings, quoted names,
    dollar-quoted bodies) and `;`."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            yield "comment", sql[i:end]
            i = end
        elif c == "/" and sql.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            yield "comment", sql[i:j]
            i = j
        elif c in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # a doubled quote is part of the literal
                        j += 2
                        continue
                    j += 1
                    break
                j += 1
            yield "quoted", sql[i:j]
            i = j
        elif (
            c == "$" and (tag := _DOLLAR_TAG.match(sql, i)) and not (i and (sql[i - 1].isalnum() or sql[i - 1] == "_"))
        ):
            end = sql.find(tag.group(), tag.end())
            end = n if end < 0 else end + len(tag.group())
            yield "quoted", sql[i:end]
            i = end
        elif c == "\\":  # outside quotes the CLI treats a backslash as escaping the next character
            yield "code", sql[i : i + 2]
            i += 2
        elif c == ";":
            yield ";", c
            i += 1
        elif c.isspace():
            j = i + 1
            while j < n and sql[j].isspace():
                j += 1
            yield "space", sql[i:j]
            i = j
        else:
            word = _WORD.match(sql, i)
            j = word.end() if word else i + 1
            yield "code", sql[i:j]
            i = j


def _pieces(sql: str) -> Iterator[list[tuple[str, str]]]:
    """The tokens of each statement, split at `;` outside parentheses and BEGIN ATOMIC ... END."""
    current: list[tuple[str, str]] = []
    depth = 0
    atomic = False
    previous_word = ""
    for kind, text in _tokens(sql):
        if kind == ";" and depth == 0 and not atomic:
            yield current
            current = []
            continue
        current.append((kind, text))
        if kind != "code":
            continue
        if text == "(":
            depth += 1
        elif text == ")" and depth:
            depth -= 1
        word = text.upper()
        if word == "ATOMIC" and previous_word == "BEGIN":
            atomic = True
        elif word == "END" and atomic and depth == 0:
            atomic = False
        if _WORD.fullmatch(text):
            previous_word = word
    yield current


def split_statements(sql: str) -> list[str]:
    """The statements of a script as the Supabase CLI records them (comments kept, each trimmed)."""
    statements = []
    for tokens in _pieces(sql):
        text = "".join(t for _, t in tokens).strip()
        if text:
            statements.append(text)
    return statements


def _canonical(tokens: list[tuple[str, str]]) -> str:
    """A statement without comments, its white space reduced to single spaces; quoted text kept exactly."""
    out: list[str] = []
    for kind, text in tokens:
        if kind == "comment" or kind == "space":
            if out and out[-1] != " ":
                out.append(" ")
        else:
            out.append(text)
    return "".join(out).strip()


def canonical_statements(sql: str) -> list[str]:
    """What a script runs, statement by statement: comments and layout dropped, empty statements skipped."""
    return [text for text in (_canonical(tokens) for tokens in _pieces(sql)) if text]


def fingerprint(sql: str) -> str:
    """sha256 of what a script runs (see the module docstring): the same for a file and for its fetched copy."""
    return hashlib.sha256("\n;\n".join(canonical_statements(sql)).encode()).hexdigest()
