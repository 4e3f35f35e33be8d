#!/usr/bin/env python3
"""identity_relink_scale.py - `weft person relink` (and `estimate`) at scale.

  python3 bench/identity_relink_scale.py --records N [--bin ./weft] [--keep DIR]

Writes N source records straight into a fresh database's identity tables
(person, person_local, identity_record, blocking keys computed by weft's
rules re-implemented here for the generator only) - about N/2 people with two
records each, one of the pair with a typo, a nickname, a changed postcode or
a swapped day and month - then times `weft person estimate`, `weft person
relink` (which links the pairs) and `relink` again (matching alone, nothing
left to change) with GNU time (seconds, peak RSS).  Loading N Patients through the
feeds would take far longer than the relink itself; the relink reads only
these tables.
"""
import argparse, os, random, sqlite3, subprocess, sys, tempfile, time

GIVEN = ("JAMES JOHN ROBERT MICHAEL WILLIAM DAVID RICHARD JOSEPH THOMAS CHARLES MARY PATRICIA "
         "JENNIFER LINDA ELIZABETH BARBARA SUSAN JESSICA SARAH KAREN OLIVER GEORGE HARRY JACK "
         "NOAH LEO ARTHUR MUHAMMAD OSCAR CHARLIE AMELIA OLIVIA ISLA AVA IVY FREYA LILY FLORENCE "
         "MIA WILLOW ROSIE SOPHIA ISABELLA GRACE DAISY SIENNA POPPY ELSIE EMILY ADA EVIE ALICE "
         "PETER PAUL MARK STEVEN ANDREW KENNETH JOSHUA KEVIN BRIAN EDWARD RONALD TIMOTHY JASON "
         "MARGARET DOROTHY HELEN SANDRA DONNA CAROL RUTH SHARON MICHELLE LAURA AMY ANNA REBECCA").split()
NICK = {"WILLIAM": "BILL", "ROBERT": "BOB", "THOMAS": "TOM", "MARGARET": "PEGGY",
        "ELIZABETH": "LIZ", "JAMES": "JIM", "EDWARD": "TED", "REBECCA": "BECKY"}
SYL = "al an ar ber bur by ca den don el en er ford ham har kin ley lin man mor ner ney son ton wood".split()


def soundex(name):
    codes = {**dict.fromkeys("BFPV", "1"), **dict.fromkeys("CGJKQSXZ", "2"),
             **dict.fromkeys("DT", "3"), "L": "4", **dict.fromkeys("MN", "5"), "R": "6"}
    name = "".join(c for c in name.upper() if c.isalpha())
    if not name:
        return ""
    out, last = name[0], codes.get(name[0], "0")
    for c in name[1:]:
        if c in "HW":
            continue
        d = codes.get(c, "0")
        if d != "0" and d != last:
            out += d
        last = d
        if len(out) == 4:
            break
    return (out + "000")[:4]


def keys(g, f, dob, pc):
    sg, sf = soundex(g), soundex(f)
    a, b = sorted((sg, sf))
    return ("D" + dob if dob else None, "N" + sf + dob[:4] if sf and dob else None,
            "P" + pc + g[0] if pc and g else None, "G" + a + b if sg and sf else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "weft"))
    ap.add_argument("--keep", default=None)
    ap.add_argument("--generate-only", action="store_true",
                    help="write the database and stop (to copy it, or to profile a command on it)")
    a = ap.parse_args()
    rng = random.Random(1)
    tmp = a.keep or tempfile.mkdtemp(prefix="weft-relink-")
    os.makedirs(tmp, exist_ok=True)
    db = os.path.join(tmp, "weft.db")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    subprocess.run([a.bin, "init", "--db", db], check=True, capture_output=True)
    families = list({(rng.choice(SYL) + rng.choice(SYL) + rng.choice(SYL)).upper()
                     for _ in range(40000)})
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    t0 = time.time()
    n = 0
    rows_p, rows_l, rows_r = [], [], []
    now = "2026-12-06T00:00:00.000Z"
    while n < a.records:
        g, f = rng.choice(GIVEN), rng.choice(families)
        dob = f"{rng.randint(1925, 2024)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        pc = f"ME{rng.randint(1, 20)}{rng.randint(1, 9)}{rng.choice('ABDEFGHJ')}{rng.choice('ABDEFGHJ')}"
        sex = rng.choice("MF")
        for k in range(2):
            if n >= a.records:
                break
            gg, ff, dd, pp = g, f, dob, pc
            if k == 1:
                fault = rng.random()
                if fault < 0.2 and len(ff) > 3:
                    i = rng.randrange(1, len(ff))
                    ff = ff[:i] + rng.choice("AEIOUNRST") + ff[i + 1:]
                elif fault < 0.3 and gg in NICK:
                    gg = NICK[gg]
                elif fault < 0.4:
                    pp = f"ME{rng.randint(1, 20)}{rng.randint(1, 9)}AA"
                elif fault < 0.45 and int(dd[6:]) <= 12:
                    dd = dd[:4] + dd[6:] + dd[4:6]
            pid = f"{n:032x}"
            src = f"r{n}"
            org = "ORGA" if k == 0 else "ORGB"
            rows_p.append((pid, now))
            rows_l.append((org, "urn:weft:source-id:Patient", src, pid, now))
            rows_r.append((org, src, f"{gg}||{ff}|{dd}|{sex}|{pp}||||", None, None,
                           *keys(gg, ff, dd, pp), now))
            n += 1
        if len(rows_p) >= 50000:
            con.executemany("insert into person (id, nhs, created) values (?, NULL, ?)", rows_p)
            con.executemany("insert into person_local (org, system, value, person_id, created)"
                            " values (?, ?, ?, ?, ?)", rows_l)
            con.executemany("insert into identity_record (org, source_id, demog, nhs, locals, k0,"
                            " k1, k2, k3, updated) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows_r)
            rows_p, rows_l, rows_r = [], [], []
    con.executemany("insert into person (id, nhs, created) values (?, NULL, ?)", rows_p)
    con.executemany("insert into person_local (org, system, value, person_id, created)"
                    " values (?, ?, ?, ?, ?)", rows_l)
    con.executemany("insert into identity_record (org, source_id, demog, nhs, locals, k0, k1, k2,"
                    " k3, updated) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows_r)
    con.commit()
    con.close()
    print(f"generated {n} records in {time.time() - t0:.1f} s", flush=True)
    if a.generate_only:
        print(db)
        return
    # the second relink finds nothing new: the cost of matching alone
    for cmd in ("estimate", "relink", "relink"):
        r = subprocess.run(["/usr/bin/time", "-f", "%e %M", a.bin, "person", cmd, "--db", db],
                           capture_output=True, text=True)
        secs, rss = r.stderr.strip().splitlines()[-1].split()
        print(f"{cmd}: {float(secs):.1f} s, peak RSS {int(rss) / 1024:.0f} MB; "
              f"{r.stdout.strip().splitlines()[0] if r.stdout.strip() else r.stderr[:300]}", flush=True)


if __name__ == "__main__":
    main()
