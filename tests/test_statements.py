"""Splitting SQL as the Supabase CLI does, and fingerprints that see what runs, not comments or layout."""

from __future__ import annotations

import pytest

from renubu_mcp import migrate
from renubu_mcp.statements import canonical_statements, fingerprint, split_statements

TRICKY = """-- header; not a split
CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $body$
BEGIN
  RETURN 'a;b'; -- inside the body
END
$body$;
/* a block; /* nested; */ still a comment; */
INSERT INTO t (a, b) VALUES ('it''s; fine', "odd;name");
CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
SELECT ($$;$$);
SELECT 1
"""


def test_statements_split_only_where_a_semicolon_ends_one():
    assert split_statements(TRICKY) == [
        "-- header; not a split\nCREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $body$\nBEGIN\n"
        "  RETURN 'a;b'; -- inside the body\nEND\n$body$",
        "/* a block; /* nested; */ still a comment; */\nINSERT INTO t (a, b) VALUES ('it''s; fine', \"odd;name\")",
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
        "SELECT ($$;$$)",
        "SELECT 1",
    ]


def test_empty_statements_are_dropped_and_a_trailing_comment_is_kept_as_the_cli_keeps_it():
    assert split_statements(";;\n SELECT 1 ;\n\n/* ROLLBACK\nDROP TABLE t;\n*/\n") == [
        "SELECT 1",
        "/* ROLLBACK\nDROP TABLE t;\n*/",
    ]


def test_canonical_statements_drop_comments_and_layout_but_keep_quoted_text():
    assert canonical_statements("SELECT  'a  --b'  -- note\n ,\t$$x   y$$ ;\n/* only a comment */;") == [
        "SELECT 'a  --b' , $$x   y$$"
    ]


@pytest.mark.parametrize(
    "change",
    [
        lambda sql: sql.replace("'a;b'", "'a;c'"),
        lambda sql: sql.replace("-- inside the body", "-- a comment inside a body is part of the function"),
        lambda sql: sql.replace("SELECT 1\n", "SELECT 2\n"),
    ],
)
def test_the_fingerprint_changes_with_anything_that_runs(change):
    assert fingerprint(change(TRICKY)) != fingerprint(TRICKY)


def test_the_fingerprint_ignores_comments_and_layout_outside_statements():
    relaid = "-- new header\n" + TRICKY.replace(";\n", "  ;\n\n\t") + "\n/* ROLLBACK\nx\n*/\n"
    assert fingerprint(relaid) == fingerprint(TRICKY)


def test_every_real_migration_survives_a_round_trip_through_the_cli_history():
    for m in migrate.load_migrations():
        fetched = ";\n".join(m.statements) + ";\n"
        assert split_statements(fetched) == m.statements, m.filename
        assert fingerprint(fetched) == m.checksum == fingerprint(m.up_sql), m.filename
        assert migrate.split_rollback(fetched, m.filename)[1].strip() == (m.down_sql or "").strip(), m.filename
