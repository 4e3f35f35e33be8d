// feeds_interop.mjs - interop with an npm HL7/MLLP client (node-hl7-client)
// weft-test-backends: sqlite postgres
// over TCP against the running server: 20 messages (ADT^A01 + ORU^R01) sent
// with the client's own MLLP framing, every ACK read back by the client's
// parser: AA for each, MSA-2 echoing the control id.  Then a repeat is AA
// without a second application, and the inbox holds 21 messages.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const WEFT = process.env.WEFT_BIN || 'build/san/weft';
const TMP = process.env.WEFT_TMP || '/tmp';
const require = createRequire(path.join(process.env.WEFT_ROOT || process.cwd(), 'package.json'));

function skip(why) { console.log('skip: ' + why); process.exit(77); }
function fail(why) { console.log('FAIL: ' + why); process.exit(1); }
function weft(...args) {
  const r = spawnSync(WEFT, args, { encoding: 'utf8' });
  if (r.status !== 0) fail(`weft ${args.join(' ')}: ${r.status} ${r.stdout} ${r.stderr}`);
  return r.stdout;
}

let hl7;
try { hl7 = require('node-hl7-client'); } catch { skip('node-hl7-client is not installed (npm install)'); }
const { Client, Message } = hl7;

const db = process.env.WEFT_TEST_DB || path.join(TMP, 'interop.db'); // PostgreSQL under --backend postgres
weft('init', '--db', db);
weft('org', 'add', '--db', db, '--ods', 'RVV', '--name', 'East Kent', '--type', 'acute');
weft('org', 'agreement', '--db', db, '--ods', 'RVV', '--kind', 'jca', '--from', '2020-01-01');
weft('feed', 'add', '--db', db, '--org', 'RVV', '--kind', 'hl7v2', '--facility', 'NODEPAS');

const pf = path.join(TMP, 'http.port'), mf = path.join(TMP, 'mllp.port');
for (const f of [pf, mf]) if (existsSync(f)) rmSync(f);
const logs = [];
const srv = spawn(WEFT, ['serve', '--db', db, '--http', '127.0.0.1:0', '--port-file', pf,
  '--mllp', '127.0.0.1:0', '--mllp-port-file', mf, '--drop-interval', '0'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
srv.stdout.on('data', (d) => logs.push(d.toString()));
srv.stderr.on('data', (d) => logs.push(d.toString()));
const t0 = Date.now();
while (!existsSync(pf)) {
  if (Date.now() - t0 > 60000) fail('server did not start: ' + logs.join(''));
  await new Promise((r) => setTimeout(r, 50));
}
const port = parseInt(readFileSync(mf, 'utf8'), 10);

function nhs(n) {
  for (;; n++) {
    const base = String(999000000 + n);
    let s = 0;
    for (let i = 0; i < 9; i++) s += Number(base[i]) * (10 - i);
    const c = 11 - (s % 11);
    if (c !== 10) return base + String(c === 11 ? 0 : c);
  }
}
function text(i) {
  const ctrl = `NODE${i}`, n = nhs(5000 + i);
  const msh = `MSH|^~\\&|NODEAPP|NODEPAS|WEFT|WEFT|20261124101500||`;
  const pid = `PID|1||N${i}^^^NODEPAS^MR~${n}^^^NHS^NH||Nodeperson^Kim||19800101|F\r`;
  if (i % 2 === 0) {
    return `${msh}ADT^A01^ADT_A01|${ctrl}|P|2.5\rEVN|A01|20261124101500\r${pid}` +
      `PV1|1|I|WARD3^BED${i}||||||||||||||||NV${i}\r`;
  }
  return `${msh}ORU^R01^ORU_R01|${ctrl}|P|2.5\r${pid}` +
    `OBR|1||NLAB${i}|718-7^Haemoglobin^LN|||20261124090000\r` +
    `OBX|1|NM|718-7^Haemoglobin^LN||13${i % 10}|g/L^g/L^UCUM|115-165|N|||F\r`;
}

const acks = [];
let wake = null;
const client = new Client({ host: '127.0.0.1' });
const conn = client.createConnection({ port, waitAck: true, maxConnectionAttempts: 5 },
  async (res) => {
    const m = res.getMessage();
    acks.push({ code: m.get('MSA.1').toString(), ctrl: m.get('MSA.2').toString() });
    if (wake) wake();
  });
// the client queues messages until its socket is connected: wait for that,
// then send one message at a time and wait for its ACK (MLLP's exchange)
await new Promise((resolve, reject) => {
  conn.once('connect', resolve);
  setTimeout(() => reject(new Error('no connection')), 30000).unref();
}).catch((e) => fail(e.message));
async function exchange(msgText) {
  const before = acks.length;
  const got = new Promise((resolve) => { wake = resolve; });
  await conn.sendMessage(new Message({ text: msgText }));
  await Promise.race([got, new Promise((r) => setTimeout(r, 30000).unref())]);
  if (acks.length !== before + 1) fail(`no ACK for message ${before}: ${logs.join('').slice(-2000)}`);
}
const N = 20;
for (let i = 0; i < N; i++) await exchange(text(i));
await exchange(text(0)); // a repeat
await conn.close();
client.closeAll();

srv.kill('SIGTERM');
const rc = await new Promise((r) => srv.on('exit', (code) => r(code)));
if (rc !== 0) fail(`server exited ${rc}: ${logs.join('').slice(-3000)}`);
if (acks.length !== N + 1) fail(`got ${acks.length} ACKs of ${N + 1}`);
for (let i = 0; i < N; i++) {
  if (acks[i].code !== 'AA' || acks[i].ctrl !== `NODE${i}`) fail(`ACK ${i}: ${JSON.stringify(acks[i])}`);
}
if (acks[N].code !== 'AA') fail('repeat not acknowledged AA: ' + JSON.stringify(acks[N]));
const msgs = JSON.parse(weft('feed', 'messages', '--db', db, '--json', '--limit', '1000'));
const applied = msgs.filter((m) => m.outcome === 'applied').length;
const dup = msgs.filter((m) => m.outcome === 'duplicate').length;
if (msgs.length !== N + 1 || applied !== N || dup !== 1) {
  fail(`inbox: ${msgs.length} messages, ${applied} applied, ${dup} duplicate`);
}
mkdirSync(TMP, { recursive: true });
console.log(`ok: node-hl7-client sent ${N + 1} messages over MLLP: ${N} AA applied, 1 AA duplicate`);
process.exit(0);
