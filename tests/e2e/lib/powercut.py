"""powercut.py - the power cut, simulated after the fact (docs/TESTING.md
"Durability").

A test-build weft started with WEFT_POWERLOG=FILE journals every write to
its durable files with the bytes it overwrote, every file created, renamed
or unlinked, and every fsync of a file or directory (src/core/powerloss.c
describes the records).  After the process was killed (SIGKILL: the page
cache still holds everything), rewind() puts every file back as a power cut
would have left it:
  - a write not covered by a later fsync of its file is undone (the bytes it
    overwrote restored, the file cut back to its size before the write);
  - a file created and never fsynced loses its content;
  - a directory entry created, renamed or removed and not covered by a
    later fsync of its directory (of both, for a rename between two) is put
    back: a created file disappears, a renamed one goes back to its old name
    (and what it replaced comes back), an unlinked one comes back.
This is the strict POSIX model (what ext4 with data=ordered usually keeps
anyway is not counted on).

Not a test itself (the runner only runs files directly in tests/e2e/)."""
import os


def read(path):
    """The journal's records: list of (kind, fields, data)."""
    out = []
    with open(path, "rb") as f:
        raw = f.read()
    i = 0
    while i < len(raw):
        e = raw.index(b"\n", i)
        fields = raw[i:e].decode().split("\t")
        i = e + 1
        data = b""
        if fields[0] == "W":
            n = int(fields[4])
            data = raw[i:i + n]
            if len(data) != n:
                break  # the process was killed while appending: not performed
            i += n
        out.append((fields[0], fields, data))
    return out


def counts(path):
    """(writes, syncs) journalled: the cut points a workload offers."""
    recs = read(path) if os.path.exists(path) else []
    w = sum(1 for k, _, _ in recs if k in "WCRU")
    s = sum(1 for k, _, _ in recs if k in "SD")
    return w, s


class _File:
    def __init__(self, created=False):
        self.undo = []  # (seq, off, oldsize, bytes)
        self.created = created  # created and not fsynced since
        self.synced = not created


def rewind(path):
    """Apply the power cut described by journal path; returns a summary dict."""
    recs = read(path)
    files = {}
    dirops = []  # dicts: seq, kind, a, b, saved, dirs (set of dirs not yet synced)

    def f(p):
        if p not in files:
            files[p] = _File()
        return files[p]

    for kind, fl, data in recs:
        seq = int(fl[1])
        if kind == "W":
            f(fl[5]).undo.append((seq, int(fl[2]), int(fl[3]), data))
        elif kind == "S":
            st = f(fl[3])
            frm = int(fl[2])
            st.undo = [u for u in st.undo if u[0] >= frm]
            st.created = False
        elif kind == "D":
            frm = int(fl[2])
            for op in dirops:
                if op["seq"] < frm:
                    op["dirs"].discard(fl[3])
        elif kind == "C":
            files[fl[2]] = _File(created=True)
            dirops.append({"seq": seq, "kind": "C", "a": fl[2], "dirs": {os.path.dirname(fl[2])}})
        elif kind == "R":
            saved, a, b = fl[2], fl[3], fl[4]
            if saved != "-":
                files[saved] = files.pop(b, _File())
            files[b] = files.pop(a, _File())
            dirops.append({"seq": seq, "kind": "R", "a": a, "b": b, "saved": saved,
                           "dirs": {os.path.dirname(a), os.path.dirname(b)}})
        elif kind == "U":
            saved, a = fl[2], fl[3]
            if saved != "-":
                files[saved] = files.pop(a, _File())
            dirops.append({"seq": seq, "kind": "U", "a": a, "saved": saved,
                           "dirs": {os.path.dirname(a)}})
    undone_writes = 0
    for p, st in files.items():
        if not os.path.exists(p):
            continue
        with open(p, "r+b") as fh:
            for seq, off, oldsize, data in reversed(st.undo):
                fh.seek(off)
                fh.write(data)
                fh.truncate(oldsize)
                undone_writes += 1
            if st.created:
                fh.truncate(0)
    undone_ops = 0
    for op in reversed(dirops):
        if not op["dirs"]:
            continue
        undone_ops += 1
        if op["kind"] == "C":
            if os.path.exists(op["a"]):
                os.unlink(op["a"])
        elif op["kind"] == "R":
            if os.path.exists(op["b"]):
                os.rename(op["b"], op["a"])
            if op["saved"] != "-":
                os.rename(op["saved"], op["b"])
        elif op["kind"] == "U":
            if op["saved"] != "-":
                os.rename(op["saved"], op["a"])
    cut = [fl for k, fl, _ in recs if k == "K"]
    return {"records": len(recs), "undone_writes": undone_writes, "undone_dir_ops": undone_ops,
            "cut": cut[0][2] if cut else None}
