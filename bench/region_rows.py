"""region_rows.py - what a load stored, as text, for checking that two builds
stored the same (docs/BENCHMARKS.md, "The region's GP bundles in one batch
put a run"):

    python3 bench/region_rows.py [--no-seq] DB OUT_DIR   (SQLite file or postgres:// URL)

Writes one file per table into OUT_DIR and prints a line per table with its
rows and the SHA-256 of its text.  Random person ids are replaced by the
person's key: its NHS number, else its smallest local identifier
(org|system|value).  Write times are left out.  Resources keep their seq:
the same seqs mean the same order of writes.  The search index is compared
by what it says, (param, value, seq) for every seq of every posting list,
not by its rows (a load batch's values share one row, so batching bundles
together makes fewer, longer rows).

--no-seq: for loads whose writes may come in another order (weft load --jobs
N, several units at once): every seq is replaced by the item's id and
version, resources are listed by id and version, a version's next_seq by
the next version's number."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from store_rows import rows  # noqa: E402


def varints(first, blob):
    """A posting list's seqs: first_seq, then varint differences (SQLite)."""
    out, v, at, cur, shift = [first], 0, 0, first, 0
    data = bytes(blob) if blob is not None else b""
    while at < len(data):
        b = data[at]
        at += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            cur += v
            out.append(cur)
            v, shift = 0, 0
    return out


def main():
    args = sys.argv[1:]
    noseq = bool(args) and args[0] == "--no-seq"
    if noseq:
        args = args[1:]
    db, out = args[0], args[1]
    pg = db.startswith("postgres")
    os.makedirs(out, exist_ok=True)
    hexf = "encode(r.hash, 'hex')" if pg else "hex(r.hash)"
    pkey = ("coalesce(p.nhs, (select min(l.org || '|' || l.system || '|' || l.value)"
            " from person_local l where l.person_id = p.id))")
    tables = {
        "resource": f"""select r.seq, r.id, r.type, r.version, r.deleted, r.category,
            r.source_org, r.source_id, r.feed, r.effective, r.code, r.status, {hexf},
            (select {pkey} from person p where p.id = r.person_id), r.next_seq, r.json
            from resource r order by r.seq""",
        "person": f"select {pkey}, p.nhs from person p order by 1, 2",
        "person_local": f"""select l.org, l.system, l.value, {pkey} from person_local l
            join person p on p.id = l.person_id order by 1, 2, 3""",
        "identity_record": """select org, source_id, demog, nhs, locals, k0, k1, k2, k3
            from identity_record order by 1, 2""",
        "identity_review": """select org, source_id, other_org, other_source_id, score,
            status from identity_review order by 1, 2, 3, 4""",
        "person_merge": f"""select (select {pkey} from person p where p.id = m.survivor),
            m.source_org, m.moved_nhs from person_merge m order by 1, 2, 3""",
        "resource_term": "select seq, param, value from resource_term order by 1, 2, 3",
    }
    key = {}  # seq -> "id/version" (--no-seq)
    if noseq:
        res = list(rows(db, tables["resource"]))
        key = {r[0]: f"{r[1]}/{r[3]}" for r in res}
        res = [(key[r[0]],) + tuple(r[1:14]) + (key.get(r[14], "") if r[14] is not None
                                                 else None, r[15]) for r in res]
        res.sort(key=lambda r: (r[1], r[3]))
        report(out, "resource", "".join("\t".join("" if v is None else str(v) for v in r)
                                        + "\n" for r in res))
        terms = sorted((key[q], p, v) for q, p, v in rows(db, tables["resource_term"]))
        report(out, "resource_term", "".join(f"{q}\t{p}\t{v}\n" for q, p, v in terms))
    for name, sql in tables.items():
        if noseq and name in ("resource", "resource_term"):
            continue
        text = "".join("\t".join("" if v is None else str(v) for v in r) + "\n"
                       for r in rows(db, sql))
        report(out, name, text)
    ix = []
    if pg:
        for param, value, seqs in rows(db, "select param, value, seqs from search_index"):
            ix.extend((param, value, key.get(s, s)) for s in seqs)
    else:
        for param, value, first, blob in rows(
                db, "select param, value, first_seq, seqs from search_index"):
            ix.extend((param, value, key.get(s, s)) for s in varints(first, blob))
    ix.sort()
    report(out, "search_index", "".join(f"{p}\t{v}\t{s}\n" for p, v, s in ix))


def report(out, name, text):
    with open(os.path.join(out, name + ".txt"), "w") as f:
        f.write(text)
    print(f"{name:16} {text.count(chr(10)):8} rows  "
          f"sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]}")


if __name__ == "__main__":
    main()
