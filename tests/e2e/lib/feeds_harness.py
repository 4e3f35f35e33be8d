"""feeds_harness.py - shared by tests/e2e/feeds_*.py: a Weft with organisations,
agreements and feeds registered through the real `weft` commands, a server
with the MLLP listener, an MLLP client that reads ACKs, and small HL7 v2
message builders.

Not a test itself (the runner only runs files directly in tests/e2e/)."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(__file__))
from api_harness import TMP, Server, check, fail, new_db_url, nhs, run  # noqa: E402,F401

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"


def weft_ok(*args):
    rc, out, err = run(*args)
    check(rc == 0, "weft %s failed (%d): %s %s" % (" ".join(args), rc, out, err))
    return out


def new_db(name="feeds.db"):
    db = new_db_url(name)
    weft_ok("init", "--db", db)
    return db


def org(db, ods, kind, agreement=True):
    weft_ok("org", "add", "--db", db, "--ods", ods, "--name", "Org " + ods, "--type", kind)
    if agreement:
        weft_ok("org", "agreement", "--db", db, "--ods", ods, "--kind", "jca", "--from",
                "2020-01-01")


def reader_token(db):
    return weft_ok("client", "add", "--db", db, "--name", "e2e-reader").strip()


def start(db, *extra, tag=""):
    mp = os.path.join(TMP, "mllp.port" + tag)
    if os.path.exists(mp):
        os.unlink(mp)
    srv = Server(db, "--mllp", "127.0.0.1:0", "--mllp-port-file", mp, *extra, tag=tag)
    srv.mllp_port = int(open(mp).read().strip())
    return srv


class Mllp:
    """One MLLP connection: send frames, read ACK frames."""

    def __init__(self, port, timeout=60):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, msg):
        if isinstance(msg, str):
            msg = msg.encode()
        self.sock.sendall(SB + msg + EB + CR)

    def recv(self):
        """The next ACK as text (segments joined by CR)."""
        while True:
            s = self.buf.find(SB)
            e = self.buf.find(EB + CR, s + 1) if s >= 0 else -1
            if s >= 0 and e >= 0:
                frame, self.buf = self.buf[s + 1:e], self.buf[e + 2:]
                return frame.decode("utf-8", "replace")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before the ACK")
            self.buf += chunk

    def call(self, msg):
        self.send(msg)
        return self.recv()

    def close(self):
        self.sock.close()


def ack_code(ack):
    for seg in ack.split("\r"):
        if seg.startswith("MSA|"):
            return seg.split("|")[1]
    fail("no MSA in ACK: %r" % ack)


def ack_control(ack):
    for seg in ack.split("\r"):
        if seg.startswith("MSA|"):
            return seg.split("|")[2]
    return None


def msh(fac, ctrl, mtype, when="20261124101500"):
    return "MSH|^~\\&|PAS|%s|WEFT|WEFT|%s||%s|%s|P|2.5\r" % (fac, when, mtype, ctrl)


def pid(mrn, fac, nhs_no=None, family="Testperson", given="Sam", dob="19700101", sex="F"):
    ids = "%s^^^%s^MR" % (mrn, fac)
    if nhs_no:
        ids += "~%s^^^NHS^NH" % nhs_no
    return "PID|1||%s||%s^%s||%s|%s|||1 High St^^Canterbury^^CT1 1AA\r" % (
        ids, family, given, dob, sex)


def adt(fac, ctrl, trig, mrn, nhs_no=None, visit="V1", when="20261124101500", **kw):
    return (msh(fac, ctrl, "ADT^%s^ADT_A01" % trig, when) + "EVN|%s|%s\r" % (trig, when)
            + pid(mrn, fac, nhs_no, **kw)
            + "PV1|1|I|WARD1^BED2^^%s||||C1234^Doctor^Ann||||||||||||%s|||||||||||||||||||||||||%s\r"
            % (fac, visit, when))


def oru(fac, ctrl, mrn, nhs_no=None, order="ORD1", when="20261124120000"):
    return (msh(fac, ctrl, "ORU^R01^ORU_R01", when) + pid(mrn, fac, nhs_no)
            + "OBR|1||%s|24326-1^Electrolytes^LN|||%s|||||||||||||||%s||CH|F\r" % (order, when, when)
            + "OBX|1|NM|2951-2^Sodium^LN||139|mmol/L^mmol/L^UCUM|133-146|N|||F|||%s\r" % when
            + "OBX|2|NM|2823-3^Potassium^LN||4.1|mmol/L^mmol/L^UCUM|3.5-5.3|N|||F|||%s\r" % when)


def mdm(fac, ctrl, mrn, nhs_no=None, doc="DOC1", when="20261125090000"):
    return (msh(fac, ctrl, "MDM^T02^MDM_T02", when) + "EVN|T02|%s\r" % when
            + pid(mrn, fac, nhs_no) + "PV1|1|I|WARD1\r"
            + "TXA|1|DS^Discharge summary|TX|%s||||||||%s|||||AU\r" % (when, doc)
            + "OBX|1|TX|DS^Discharge summary||Discharged home, well.||||||F\r")


def siu(fac, ctrl, mrn, nhs_no=None, appt="APPT1", start_ts="20261210093000"):
    return (msh(fac, ctrl, "SIU^S12^SIU_S12") + "SCH|%s|%s|||||FU^Follow-up|||30|min|"
            "^^30^%s^%s|||||||||||||Booked\r" % (appt, appt, start_ts, start_ts)
            + pid(mrn, fac, nhs_no) + "RGS|1\rAIL|1||CLINIC1^^^%s\r" % fac)
