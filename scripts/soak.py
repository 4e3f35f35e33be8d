#!/usr/bin/env python3
"""soak.py - the load half of scripts/soak.sh (which sets up the region and
starts the server): for DURATION seconds keeps a running Weft busy the way a
region does, samples the server each minute, and checks at the end that no
acknowledged message was lost.

Load, all at once, on real sockets:
  - MLLP: two senders (one pipelining 4 deep) send ADT^A01 / ORU^R01 for the
    region's people at about RATE messages/s in total, each with a new
    control id; every ACK is checked (AA expected) and recorded;
  - FHIR: a reader searches Patient by NHS number, Observation and
    Encounter by patient, and reads $everything, back to back with a short
    pause;
  - launches and web pages: every minute a host system (HS256 launcher)
    launches a GP into a person's record and the session reads the summary,
    timeline, results and documents pages;
  - CSV: every minute a social care extract is dropped into a drop folder.
Each minute: RSS and open descriptors of the server (/proc/PID), requests
and messages so far, errors.  At the end every control id ACKed AA must be
in the inbox as applied (weft feed messages), every dropped CSV processed.

Writes OUT/samples.csv, OUT/summary.json, OUT/rss.svg; exit 1 on any error
or loss."""
import argparse
import base64
import csv
import hashlib
import hmac
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("--weft", required=True)
ap.add_argument("--db", required=True)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--http-port", type=int, required=True)
ap.add_argument("--mllp-port", type=int, required=True)
ap.add_argument("--region", required=True)
ap.add_argument("--drop-root", required=True)
ap.add_argument("--secret-file", required=True)
ap.add_argument("--iss", required=True)
ap.add_argument("--token", required=True)
ap.add_argument("--launch-org", required=True, help="the launcher's organisation (a GP practice)")
ap.add_argument("--duration", type=int, default=3600)
ap.add_argument("--rate", type=float, default=20.0)
ap.add_argument("--interval", type=int, default=60, help="seconds between samples")
ap.add_argument("--out", required=True)
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
stop = threading.Event()
lock = threading.Lock()
stats = {"mllp_sent": 0, "mllp_aa": 0, "mllp_other": 0, "mllp_errors": 0, "fhir": 0,
         "fhir_errors": 0, "launches": 0, "launch_errors": 0, "pages": 0, "page_errors": 0,
         "csv_dropped": 0}
errors = []  # first few error texts
acked = set()


def bump(key, n=1, err=None):
    with lock:
        stats[key] += n
        if err and len(errors) < 50:
            errors.append("%s %s: %s" % (time.strftime("%H:%M:%S"), key, err))


# ---- the region: people with an NHS number and their GP practice ----------
people = []
with open(os.path.join(a.region, "truth", "people.csv")) as f:
    r = csv.reader(f)
    head = next(r)
    for row in r:
        if len(row) > 11 and row[1] and row[11]:
            people.append((row[1], row[11]))
if not people:
    sys.exit("soak: no people with an NHS number in the region")
# The host system launches staff of its own practice into its own patients.
launch_people = [p for p in people if p[1] == a.launch_org]
if not launch_people:
    sys.exit("soak: nobody is registered at %s" % a.launch_org)
manifest = json.load(open(os.path.join(a.region, "manifest.json")))
facility = None
csv_feeds = []
for o in manifest["organisations"]:
    for fd in o["feeds"]:
        if fd["kind"] == "hl7v2" and facility is None:
            facility = fd["facility"]
        if fd["kind"] == "csv":
            csv_feeds.append((fd["name"], [os.path.join(a.region, x) for x in fd["files"]]))
if not facility or not csv_feeds:
    sys.exit("soak: the region has no HL7 v2 or CSV feed")

# ---- MLLP ------------------------------------------------------------------
SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"


def hl7(ctrl, i, nhs):
    ts = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    mrn = "SK%06d" % (int(nhs) % 1000000)
    msh = "MSH|^~\\&|SOAK|%s|WEFT|WEFT|%s||%s|%s|P|2.4" % (
        facility, ts, "ADT^A01" if i % 2 == 0 else "ORU^R01", ctrl)
    pid = "PID|1||%s^^^%s^MR~%s^^^NHS^NH||Soak^Sam||19700101|F" % (mrn, facility, nhs)
    if i % 2 == 0:
        return "\r".join([msh, "EVN|A01|" + ts, pid, "PV1|1|I|WARD1^^^%s||||||||||||||||VIS-%s|||"
                          "||||||||||||||||||||||||%s" % (facility, ctrl, ts)])
    return "\r".join([msh, pid, "OBR|1|ORD-%s|ORD-%s|1234-5^Full blood count^LN|||%s" % (
        ctrl, ctrl, ts), "OBX|1|NM|718-7^Haemoglobin^LN||%d|g/L|120-160|N|||F|||%s" % (
        120 + i % 30, ts)])


class Sender(threading.Thread):
    def __init__(self, n, window, rate):
        super().__init__(daemon=True)
        self.n, self.window, self.rate = n, window, rate

    def run(self):
        i = 0
        while not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", a.mllp_port), timeout=60)
            except OSError as e:
                bump("mllp_errors", err="connect: %s" % e)
                time.sleep(1)
                continue
            buf = b""
            inflight = []
            t0 = time.time()
            sent_here = 0
            try:
                while not stop.is_set() or inflight:
                    while not stop.is_set() and len(inflight) < self.window:
                        ctrl = "SOAK%d-%d" % (self.n, i)
                        nhs, _ = people[(i * 7 + self.n) % len(people)]
                        s.sendall(SB + hl7(ctrl, i, nhs).encode() + EB + CR)
                        inflight.append(ctrl)
                        i += 1
                        sent_here += 1
                        bump("mllp_sent")
                    if not inflight:
                        break
                    while True:
                        st = buf.find(SB)
                        e = buf.find(EB + CR, st + 1) if st >= 0 else -1
                        if st >= 0 and e >= 0:
                            frame, buf = buf[st + 1:e].decode("utf-8", "replace"), buf[e + 2:]
                            break
                        chunk = s.recv(65536)
                        if not chunk:
                            raise ConnectionError("closed before the ACK")
                        buf += chunk
                    msa = [x for x in frame.split("\r") if x.startswith("MSA|")]
                    code, ctl = (msa[0].split("|") + ["", ""])[1:3] if msa else ("?", "?")
                    want = inflight.pop(0)
                    if ctl != want:
                        bump("mllp_errors", err="ACK for %s, expected %s" % (ctl, want))
                    elif code == "AA":
                        with lock:
                            acked.add(ctl)
                        bump("mllp_aa")
                    else:
                        bump("mllp_other", err="%s for %s" % (code, ctl))
                    # pace: sent_here messages should have taken sent_here/rate seconds
                    ahead = sent_here / self.rate - (time.time() - t0)
                    if ahead > 0:
                        stop.wait(ahead)
            except (OSError, ConnectionError) as e:
                bump("mllp_errors", err="connection: %s" % e)
            finally:
                s.close()


# ---- HTTP ------------------------------------------------------------------
class Http:
    def __init__(self):
        self.c = None

    def get(self, path, headers=None):
        for attempt in range(2):
            if self.c is None:
                self.c = http.client.HTTPConnection("127.0.0.1", a.http_port, timeout=60)
            try:
                self.c.request("GET", path, headers=headers or {})
                r = self.c.getresponse()
                body = r.read()
                if (r.getheader("Connection") or "").lower() == "close":
                    self.c.close()
                    self.c = None
                return r.status, r, body
            except (http.client.HTTPException, OSError):
                if self.c:
                    self.c.close()
                self.c = None
                if attempt:
                    raise
        return 0, None, b""


def fhir_reader():
    h = Http()
    auth = {"Authorization": "Bearer " + a.token}
    rnd = random.Random(1)
    while not stop.is_set():
        nhs, _ = rnd.choice(people)
        try:
            st, _, b = h.get("/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number%7C" + nhs,
                             auth)
            bump("fhir")
            if st != 200:
                bump("fhir_errors", err="Patient search %d" % st)
                continue
            entries = json.loads(b).get("entry", [])
            if not entries:
                continue
            pid = entries[0]["resource"]["id"]
            for path in ("/fhir/Observation?patient=%s&_count=50" % pid,
                         "/fhir/Encounter?patient=%s" % pid,
                         "/fhir/Patient/%s/$everything?_count=200" % pid,
                         "/fhir/Patient/%s" % pid):
                st, _, b = h.get(path, auth)
                bump("fhir")
                if st != 200:
                    bump("fhir_errors", err="%s -> %d" % (path.split("?")[0], st))
        except Exception as e:  # noqa: BLE001 - counted, the soak goes on
            bump("fhir_errors", err=repr(e))
        stop.wait(0.05)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


secret = open(a.secret_file, "rb").read().strip()
jti = [0]


def launch_token(nhs, gp):
    now = int(time.time())
    jti[0] += 1
    head = {"alg": "HS256", "typ": "JWT"}
    cl = {"iss": a.iss, "aud": "weft", "iat": now, "nbf": now, "exp": now + 240,
          "jti": "soak-%d-%d" % (now, jti[0]), "sub": "soak-gp", "name": "Dr Soak",
          "role": "R8000", "org": gp, "patient": nhs, "purpose": "TREAT"}
    msg = b64u(json.dumps(head).encode()) + "." + b64u(json.dumps(cl).encode())
    sig = hmac.new(secret, msg.encode(), hashlib.sha256).digest()
    return msg + "." + b64u(sig)


def web_once(rnd):
    h = Http()
    nhs, gp = rnd.choice(launch_people)
    st, r, _ = h.get("/launch?token=" + urllib.parse.quote(launch_token(nhs, gp)),
                     {"Accept": "text/html"})
    bump("launches")
    sc = r.getheader("Set-Cookie") if r else None
    loc = r.getheader("Location") if r else None
    if st not in (302, 303) or not sc or not loc:
        bump("launch_errors", err="launch %d (%s)" % (st, loc))
        return
    cookie = sc.split(";")[0]
    base = urllib.parse.urlparse(loc).path
    for page in ("", "/timeline", "/results", "/documents", "/summary"):
        st, _, _ = h.get(base + page, {"Cookie": cookie, "Accept": "text/html"})
        bump("pages")
        if st != 200:
            bump("page_errors", err="%s%s -> %d" % ("/patient/…", page, st))


dropped = []


def csv_drop(minute):
    name, files = csv_feeds[minute % len(csv_feeds)]
    if not files:
        return
    src = files[minute % len(files)]
    base = os.path.basename(src).split("_")[0]
    dest_dir = os.path.join(a.drop_root, name)
    tmp = os.path.join(dest_dir, ".soak-%d.tmp" % minute)
    shutil.copyfile(src, tmp)
    final = os.path.join(dest_dir, "%s_soak_%04d.csv" % (base, minute))
    os.rename(tmp, final)  # appears whole: the watcher never sees half a file
    dropped.append(final)
    bump("csv_dropped")


def proc_sample():
    rss = 0
    with open("/proc/%d/status" % a.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % a.pid))
    return rss, fds


def minute_tasks():
    rnd = random.Random(2)
    m = 0
    while not stop.is_set():
        try:
            web_once(rnd)
        except Exception as e:  # noqa: BLE001
            bump("launch_errors", err=repr(e))
        try:
            csv_drop(m)
        except OSError as e:
            bump("launch_errors", err="csv drop: %r" % e)
        m += 1
        stop.wait(a.interval)


threads = [Sender(0, 1, a.rate / 2), Sender(1, 4, a.rate / 2),
           threading.Thread(target=fhir_reader, daemon=True),
           threading.Thread(target=minute_tasks, daemon=True)]
t_begin = time.time()
for t in threads:
    t.start()
samples = []
with open(os.path.join(a.out, "samples.csv"), "w") as sf:
    w = csv.writer(sf)
    w.writerow(["minute", "rss_kb", "fds", "mllp_aa", "fhir", "pages", "launches", "csv",
                "errors"])
    k = 0
    while True:
        el = time.time() - t_begin
        try:
            rss, fds = proc_sample()
        except OSError:
            bump("mllp_errors", err="the server is gone")
            break
        with lock:
            s = dict(stats)
        nerr = (s["mllp_errors"] + s["mllp_other"] + s["fhir_errors"] + s["launch_errors"] +
                s["page_errors"])
        row = [round(el / 60, 2), rss, fds, s["mllp_aa"], s["fhir"], s["pages"], s["launches"],
               s["csv_dropped"], nerr]
        samples.append(row)
        w.writerow(row)
        sf.flush()
        print("soak %5.1f min: RSS %6.1f MB, %3d fds, %d AA, %d FHIR, %d pages, %d launches, "
              "%d CSV, %d errors" % (el / 60, rss / 1024, fds, s["mllp_aa"], s["fhir"],
                                     s["pages"], s["launches"], s["csv_dropped"], nerr),
              flush=True)
        if el >= a.duration:
            break
        k += 1
        time.sleep(max(0, t_begin + k * a.interval - time.time()))
stop.set()
for t in threads:
    t.join(120)

# ---- nothing acknowledged lost; every CSV drop processed -------------------
time.sleep(5)
# weft feed messages shows at most 100,000 a page, newest first: page back
# with --before until a page comes back short.
msgs, before, failed = [], None, None
while True:
    args = [a.weft, "feed", "messages", "--db", a.db, "--json", "--limit", "100000"]
    if before is not None:
        args += ["--before", str(before)]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        failed = p.stderr
        break
    page = json.loads(p.stdout)
    msgs += page
    if len(page) < 100000:
        break
    before = min(m["id"] for m in page)
lost = None
if failed is not None:
    errors.append("feed messages: " + failed)
else:
    applied = {m["control_id"] for m in msgs if m.get("outcome") in ("applied", "duplicate")}
    lost = sorted(acked - applied)
    csv_left = [d for d in dropped if os.path.exists(d)]
    if csv_left:
        errors.append("%d dropped CSV files were not picked up" % len(csv_left))

rss = [r[1] for r in samples]
warm = [r for r in samples if r[0] >= 10] or samples
summary = {
    "duration_s": round(time.time() - t_begin), "stats": stats, "acked": len(acked),
    "lost": len(lost) if lost is not None else None, "lost_examples": (lost or [])[:10],
    "errors": errors[:50],
    "rss_mb": {"first": round(rss[0] / 1024, 1), "max": round(max(rss) / 1024, 1),
               "last": round(rss[-1] / 1024, 1),
               "after_warmup_min": round(min(r[1] for r in warm) / 1024, 1),
               "after_warmup_max": round(max(r[1] for r in warm) / 1024, 1)},
    "fds": {"first": samples[0][2], "max": max(r[2] for r in samples), "last": samples[-1][2]},
}
json.dump(summary, open(os.path.join(a.out, "summary.json"), "w"), indent=1)


# ---- the graph: RSS (MB) and open descriptors over time, SVG ---------------
def svg(path):
    W, H, L, R, T, B = 720, 320, 60, 60, 30, 40
    xs = [r[0] for r in samples]
    xmax = max(xs[-1], 1)
    ymax = max(max(rss) / 1024 * 1.2, 1)
    fmax = max(max(r[2] for r in samples) * 1.2, 1)

    def X(x):
        return L + (W - L - R) * x / xmax

    def Y(y, top):
        return H - B - (H - T - B) * y / top

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="12">' % (W, H, W, H),
           '<title>weft serve: resident memory and open descriptors over the soak</title>',
           '<rect width="100%" height="100%" fill="white"/>']
    for i in range(6):
        y = ymax * i / 5
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (
            L, W - R, Y(y, ymax), Y(y, ymax)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%.0f</text>' % (
            L - 5, Y(y, ymax) + 4, y))
        out.append('<text x="%d" y="%.1f" fill="#c05">%.0f</text>' % (
            W - R + 5, Y(fmax * i / 5, fmax) + 4, fmax * i / 5))
    for i in range(7):
        x = xmax * i / 6
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%.0f</text>' % (X(x), H - B + 16, x))
    out.append('<text x="%d" y="%d" text-anchor="middle">minutes</text>' % ((W) / 2, H - 5))
    out.append('<text x="10" y="18">RSS (MB)</text>')
    out.append('<text x="%d" y="18" text-anchor="end" fill="#c05">open fds</text>' % (W - 5))
    pts = " ".join("%.1f,%.1f" % (X(r[0]), Y(r[1] / 1024, ymax)) for r in samples)
    out.append('<polyline fill="none" stroke="#005eb8" stroke-width="2" points="%s"/>' % pts)
    pts = " ".join("%.1f,%.1f" % (X(r[0]), Y(r[2], fmax)) for r in samples)
    out.append('<polyline fill="none" stroke="#c05" stroke-width="1.5" stroke-dasharray="4 3" '
               'points="%s"/>' % pts)
    out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="black"/>' % (L, W - R, H - B, H - B))
    out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="black"/>' % (L, L, T, H - B))
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


svg(os.path.join(a.out, "rss.svg"))
print(json.dumps(summary, indent=1))
bad = (lost is None or lost or errors or stats["mllp_aa"] == 0 or stats["fhir"] == 0 or
       stats["launches"] == 0)
sys.exit(1 if bad else 0)
