"""store_rows.py - the rows of a query on a Weft database for the scoring
scripts (dq_score.py, synth_score.py), whichever backend: a SQLite file read
only, or a PostgreSQL database (a postgres:// URL) through psql, its rows as
JSON so that numbers, text and NULL come back as they do from sqlite3."""
import json
import sqlite3
import subprocess
import sys


def rows(db, sql):
    """The rows of sql (no parameters) as a list of tuples."""
    if not db.startswith("postgres"):
        return sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(sql).fetchall()
    p = subprocess.run(["psql", db, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c",
                        f"SELECT coalesce(json_agg(q), '[]') FROM ({sql}) q"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("psql: " + p.stderr.strip())
    return json.loads(p.stdout, object_pairs_hook=lambda kv: tuple(v for _, v in kv))
