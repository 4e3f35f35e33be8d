// web_feeds.mjs - the feeds console at /admin/feeds in a real browser (issue 15)
// weft-test-backends: sqlite postgres
// (Debian's chromium via playwright-core, axe-core on every page).
//
// An HL7 v2 feed and a social care CSV feed; a CSV extract with one bad row
// through the drop folder; HL7 messages over a real MLLP socket (one applied,
// one refused for lack of a PID, one more applied); weft serve; staff
// launched by a registered host system (HS256 tokens signed here):
//   - API clients keep the JSON of GET /admin/feeds (no Accept header, or
//     Accept: application/json) exactly as before;
//   - an integration engineer (local role INTEGRATION-ENGINEER, policy
//     capability feeds-admin) sees every feed's status, the backlog, the
//     throughput chart (server-drawn SVG), the CSV rows loaded and rejected
//     per day and the recent errors; searches a feed's messages by control
//     id, type, outcome, date and NHS number (bad input answered 400 with an
//     error summary); opens a message: its error, the raw message, its
//     segments and the FHIR it maps to; corrects and resubmits the refused
//     one (the copy is applied and linked to the original) and replays one;
//     a form without the CSRF token is refused;
//   - a Privacy Officer (audit-review) sees status and lists but not the
//     message content (said so), and may not replay; a clinician is refused
//     the console; without a session the browser gets a sign-in page (401);
//   - the content reads, the identifier search, the replay and the
//     resubmission are in the audit log, which verifies.
// Screenshots in $WEFT_ARTIFACTS/web-feeds/.  Skips (77) without chromium or npm packages.
import {
  CHROMIUM_ARGS, ROOT, BIN, CHROMIUM, skip, fail, check, ASSETS, tmpDir, artDir, loadBrowser, weft,
} from './lib/browser.mjs';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const TMP = tmpDir('weft-feeds-web-');
const ART = artDir('web-feeds');

const { chromium, axeSource, require } = loadBrowser();

function nhs(n) { // the n-th test NHS number (999 prefix, valid check digit)
  for (;;) {
    const base = '999' + String(n).padStart(6, '0');
    let s = 0;
    for (let i = 0; i < 9; i++) s += Number(base[i]) * (10 - i);
    const c = 11 - (s % 11);
    if (c !== 10) return base + String(c === 11 ? 0 : c);
    n++;
  }
}

// ---- data -----------------------------------------------------------------------------------
const DB = process.env.WEFT_TEST_DB || path.join(TMP, 'weft.db');
weft('init', '--db', DB);
for (const [ods, type] of [['RVV', 'acute'], ['KENTCC', 'social-care']]) {
  weft('org', 'add', '--db', DB, '--ods', ods, '--name', 'Org ' + ods, '--type', type);
  weft('org', 'agreement', '--db', DB, '--ods', ods, '--kind', 'jca', '--from', '2020-01-01');
}
weft('feed', 'add', '--db', DB, '--org', 'RVV', '--kind', 'hl7v2', '--name', 'rvv-adt', '--facility', 'RVVPAS', '--from-address', '127.0.0.1');
const FOLDER = path.join(TMP, 'kent');
weft('feed', 'add', '--db', DB, '--org', 'KENTCC', '--kind', 'csv', '--name', 'kent-people', '--folder', FOLDER);
const [NHS_A, NHS_B, NHS_C, NHS_D] = [nhs(101), nhs(102), nhs(103), nhs(104)];
const csvPath = path.join(FOLDER, 'people_1.csv');
fs.writeFileSync(csvPath, 'person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n' +
  `K1,${NHS_C},Rowa,Ann,1950-02-03,F,CT1 1AA\nK2,${NHS_D},Rowb,Bob,1950-02-31,M,CT1 1AB\nK3,${nhs(105)},Rowc,Cat,1960-05-06,F,CT1 1AC\n`);
const old = new Date(Date.now() - 120000);
fs.utimesSync(csvPath, old, old);
spawnSync(BIN, ['feed', 'run', '--db', DB, '--min-age', '30'], { encoding: 'utf8' });
const SECRET = crypto.randomBytes(32).toString('hex');
fs.writeFileSync(path.join(TMP, 'epr.secret'), SECRET);
weft('launcher', 'add', '--db', DB, '--name', 'epr', '--org', 'RVV', '--issuer', 'iss-epr', '--alg', 'HS256', '--secret-file', path.join(TMP, 'epr.secret'));
const CLIENT = weft('client', 'add', '--db', DB, '--name', 'monitor').trim();

// ---- server ---------------------------------------------------------------------------------
const portFile = path.join(TMP, 'port'), mllpFile = path.join(TMP, 'mllp-port');
const log = fs.openSync(path.join(TMP, 'serve.log'), 'w');
const server = spawn(BIN, ['serve', '--db', DB, '--http', '127.0.0.1:0', '--port-file', portFile, '--assets', ASSETS,
  '--mllp', '127.0.0.1:0', '--mllp-port-file', mllpFile, '--drop-interval', '0', '--dq-interval', '0'],
{ stdio: ['ignore', log, log] });
let exited = null;
server.on('exit', (code) => { exited = code; });
for (let i = 0; !(fs.existsSync(portFile) && fs.existsSync(mllpFile)); i++) {
  if (exited !== null || i > 1200) fail('weft serve did not start: ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8'));
  await new Promise((r) => setTimeout(r, 50));
}
const BASE = `http://127.0.0.1:${Number(fs.readFileSync(portFile, 'utf8').trim())}`;
const MLLP = Number(fs.readFileSync(mllpFile, 'utf8').trim());

// HL7 v2 over a real MLLP socket: each message framed, its ACK read back
function msh(ctrl, type) { return `MSH|^~\\&|PAS|RVVPAS|WEFT|WEFT|20261124101500||${type}|${ctrl}|P|2.5\r`; }
function pid(mrn, nhsNo, family) { return `PID|1||${mrn}^^^RVVPAS^MR~${nhsNo}^^^NHS^NH||${family}^Sam||19700101|F|||1 High St^^Canterbury^^CT1 1AA\r`; }
const PV1 = 'PV1|1|I|WARD1^BED2^^RVVPAS||||C1234^Doctor^Ann||||||||||||V1|||||||||||||||||||||||||20261124101500\r';
const GOOD = msh('WFA1', 'ADT^A01^ADT_A01') + 'EVN|A01|20261124101500\r' + pid('H101', NHS_A, 'Feedsa') + PV1;
const NOPID = msh('WFB1', 'ADT^A01^ADT_A01') + 'EVN|A01|20261124101500\r' + PV1; // refused: no PID
const FIXED = msh('WFB1', 'ADT^A01^ADT_A01') + 'EVN|A01|20261124101500\r' + pid('H102', NHS_B, 'Feedsb') + PV1;
const OTHER = msh('WFC1', 'ADT^A08^ADT_A01') + 'EVN|A08|20261124101500\r' + pid('H101', NHS_A, 'Feedsa') + PV1;
async function mllpSend(messages) {
  const sock = net.connect(MLLP, '127.0.0.1');
  await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  const acks = [];
  let buf = Buffer.alloc(0);
  for (const m of messages) {
    sock.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(m, 'latin1'), Buffer.from([0x1c, 0x0d])]));
    const deadline = Date.now() + 30000;
    for (;;) {
      const end = buf.indexOf(0x1c);
      if (end >= 0) { acks.push(buf.subarray(1, end).toString('latin1')); buf = buf.subarray(end + 2); break; }
      if (Date.now() > deadline) fail('no ACK within 30 s');
      const chunk = await new Promise((res) => { sock.once('data', res); setTimeout(() => res(null), 1000); });
      if (chunk) buf = Buffer.concat([buf, chunk]);
    }
  }
  sock.end();
  return acks;
}
const acks = await mllpSend([GOOD, NOPID, OTHER]);
check(/MSA\|AA\|WFA1/.test(acks[0]) && /MSA\|AR\|WFB1/.test(acks[1]) && /MSA\|AA\|WFC1/.test(acks[2]), 'ACKs: ' + acks.join(' / '));

// ---- the JSON of today for API clients -------------------------------------------------------
for (const accept of [null, 'application/json', '*/*']) {
  const r = await fetch(BASE + '/admin/feeds', { headers: { Authorization: 'Bearer ' + CLIENT, ...(accept ? { Accept: accept } : {}) } });
  check(r.status === 200 && /application\/json/.test(r.headers.get('content-type')), `JSON (${accept}): ${r.status} ${r.headers.get('content-type')}`);
  const j = await r.json();
  const f = j.feeds.find((x) => x.name === 'rvv-adt');
  check(f && f.total.received === 3 && f.total.rejected === 1 && 'unregistered' in j, 'JSON content: ' + JSON.stringify(j).slice(0, 300));
}
const noauth = await fetch(BASE + '/admin/feeds');
check(noauth.status === 401 && /application\/json/.test(noauth.headers.get('content-type')), 'anonymous JSON: ' + noauth.status);

let jti = 0;
function token(role, patient, over = {}) {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = { iss: 'iss-epr', aud: 'weft', iat: now, nbf: now, exp: now + 240, jti: `feeds-${process.pid}-${now}-${++jti}`,
    sub: 'user-' + role, name: 'Test ' + role, role, org: 'RVV', patient, purpose: 'TREAT', ...over };
  const unsigned = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64(claims);
  return unsigned + '.' + crypto.createHmac('sha256', SECRET).update(unsigned).digest('base64url');
}

const browser = await chromium.launchPersistentContext(path.join(TMP, 'chromium-profile'), {
  executablePath: CHROMIUM, headless: true, bypassCSP: true,
  args: CHROMIUM_ARGS });
async function freshPage() {
  await browser.clearCookies();
  for (const p of browser.pages()) await p.close();
  return browser.newPage();
}
let failures = 0;
const axeSummary = [];
try {
  async function axe(page, label) {
    await page.addScriptTag({ content: axeSource });
    const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
    const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    axeSummary.push(`${label}: ${res.violations.length} violations, ${bad.length} serious/critical`);
    check(bad.length === 0, `axe on ${label}: ` + bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`).join('; '));
  }
  let shot = 0;
  async function snap(page, label) {
    await page.screenshot({ path: path.join(ART, `${String(++shot).padStart(2, '0')}-${label}.png`), fullPage: true });
  }
  const text = (page) => page.evaluate(() => document.body.innerText);
  async function visit(page, url, want, label) {
    const resp = await page.goto(BASE + url);
    check(resp.status() === want, `${label}: ${url} answered ${resp.status()}, wanted ${want}: ${(await text(page)).slice(0, 300)}`);
    check(/text\/html/.test(resp.headers()['content-type']), `${label}: not HTML: ${resp.headers()['content-type']}`);
    await snap(page, label);
    await axe(page, label);
    return text(page);
  }
  async function launch(role, over = {}) {
    const page = await freshPage();
    const resp = await page.goto(`${BASE}/launch?token=${token(role, NHS_A, over)}`);
    check([200, 403].includes(resp.status()), `${role} launch: ${resp.status()}`);
    return page;
  }

  // ---- no session, a clinician -----------------------------------------------------------------
  let page = await freshPage();
  let t = await visit(page, '/admin/feeds', 401, 'no-session');
  check(t.includes('not signed in'), 'no-session page: ' + t.slice(0, 200));
  page = await launch('R8000', { sub: 'doc-1' });
  await visit(page, '/admin/feeds', 403, 'clinician-refused');

  // ---- the integration engineer ------------------------------------------------------------------
  page = await launch('INTEGRATION-ENGINEER', { sub: 'ie-1', name: 'Ivy Integrator' });
  t = await visit(page, '/admin/feeds', 200, 'status');
  for (const want of ['rvv-adt', 'kent-people', 'Throughput', 'CSV rows per day', 'Recent errors', 'WFB1'])
    check(t.includes(want), 'status page lacks ' + want);
  check(/backlog[^\n]*: 0 messages/i.test(t), 'no backlog line: ' + t.slice(0, 400));
  const rvvRow = await page.locator('tr', { hasText: 'rvv-adt' }).first().innerText();
  check(/3 \/ 3/.test(rvvRow) && /1 \/ 1/.test(rvvRow), 'rvv-adt counts: ' + rvvRow);
  const csvRow = await page.locator('table', { hasText: 'Rows loaded' }).locator('tr', { hasText: 'kent-people' }).first().innerText();
  check(/kent-people\s+\d{4}-\d\d-\d\d\s+1\s+2\s+1/.test(csvRow), 'CSV rows per day: ' + csvRow);
  check(await page.locator('svg[role=img] title').count() >= 1, 'no throughput chart');

  t = await visit(page, '/admin/feeds/rvv-adt/messages', 200, 'messages');
  for (const c of ['WFA1', 'WFB1', 'WFC1']) check(t.includes(c), 'list lacks ' + c);
  check(t.indexOf('WFC1') < t.indexOf('WFA1'), 'not newest first');
  const rows = async () => (await page.locator('table tbody tr').allInnerTexts());
  await page.fill('#q-control', 'WFB1');
  await Promise.all([page.waitForNavigation(), page.click('#search button[type=submit]')]);
  let r = await rows();
  check(r.length === 1 && r[0].includes('WFB1') && r[0].includes('rejected'), 'search by control id: ' + r.join(' | '));
  await visit(page, '/admin/feeds/rvv-adt/messages?outcome=applied', 200, 'search-outcome');
  r = await rows();
  check(r.length === 2 && !r.some((x) => x.includes('WFB1')), 'search by outcome: ' + r.join(' | '));
  await visit(page, '/admin/feeds/rvv-adt/messages?type=ADT%5EA08', 200, 'search-type');
  r = await rows();
  check(r.length === 1 && r[0].includes('WFC1'), 'search by type: ' + r.join(' | '));
  const today = new Date().toISOString().slice(0, 10);
  await visit(page, `/admin/feeds/rvv-adt/messages?date=${today}`, 200, 'search-date');
  check((await rows()).length === 3, 'search by date today');
  t = await visit(page, '/admin/feeds/rvv-adt/messages?date=2020-01-01', 200, 'search-date-empty');
  check(t.includes('No message of this feed matches'), 'an old date found messages');
  await visit(page, `/admin/feeds/rvv-adt/messages?patient=${NHS_A}`, 200, 'search-nhs');
  r = await rows();
  check(r.length === 2 && r.every((x) => /WFA1|WFC1/.test(x)), 'search by NHS number: ' + r.join(' | '));
  t = await visit(page, '/admin/feeds/rvv-adt/messages?date=2026-02-30', 400, 'search-bad-date');
  check(t.includes('There is a problem') && t.includes('YYYY-MM-DD'), 'bad date not explained');

  // the refused message: its error, the raw message, then corrected and resubmitted
  await page.goto(`${BASE}/admin/feeds/rvv-adt/messages?control=WFB1`);
  await Promise.all([page.waitForNavigation(), page.locator('table tbody tr a').first().click()]);
  const refusedUrl = new URL(page.url()).pathname;
  const refusedId = refusedUrl.split('/').pop();
  t = await text(page);
  check(t.includes('rejected') && /PID/.test(await page.locator('#outcome').innerText()), 'refused message outcome: ' + t.slice(0, 500));
  check((await page.locator('#raw').innerText()).includes('MSH|^~\\&|PAS|RVVPAS'), 'raw message not shown');
  await snap(page, 'message-refused');
  await axe(page, 'message-refused');
  await page.fill('#fixed', FIXED.replace(/\r/g, '\n'));
  await Promise.all([page.waitForNavigation(), page.click('#resubmit button[type=submit]')]);
  check(new URL(page.url()).pathname !== refusedUrl, 'resubmit did not open the copy: ' + page.url());
  t = await text(page);
  check(/Outcome\s+applied/.test(t) && t.includes(`message ${refusedId}`) && t.includes('ie-1'), 'corrected copy: ' + t.slice(0, 600));
  check(t.includes('PID-3') && t.includes('H102^^^RVVPAS^MR'), 'segments not shown');
  check((await page.locator('#fhir').innerText()).includes('"resourceType": "Bundle"'), 'the FHIR it maps to not shown');
  await snap(page, 'message-corrected');
  await axe(page, 'message-corrected');
  const orig = weft('feed', 'show', '--db', DB, '--id', refusedId);
  check(/rejected/.test(orig), 'the original was changed: ' + orig);

  // replay the first message
  await page.goto(`${BASE}/admin/feeds/rvv-adt/messages?control=WFA1`);
  await Promise.all([page.waitForNavigation(), page.locator('table tbody tr a').first().click()]);
  const firstUrl = page.url();
  await Promise.all([page.waitForNavigation(), page.click('#replay button[type=submit]')]);
  t = await text(page);
  check(t.includes('Replayed: the outcome is now applied') && /Times applied\s+2/.test(t), 'replay: ' + t.slice(0, 500));
  await axe(page, 'message-replayed');
  // a form without the session's CSRF token is refused
  const forged = await page.request.post(new URL(firstUrl).pathname.replace(/$/, '/replay').replace(/^/, BASE),
    { form: { csrf: 'not-the-token' }, headers: { Origin: BASE } });
  check(forged.status() === 403 || forged.status() === 401, 'forged replay: ' + forged.status());

  // ---- a Privacy Officer: status and lists, not content, no replay -------------------------------
  page = await launch('R0001', { sub: 'po-1', name: 'Pat Privacy' });
  t = await visit(page, '/admin/feeds', 200, 'governance-status');
  check(t.includes('rvv-adt'), 'governance status');
  t = await visit(page, refusedUrl, 200, 'governance-message');
  check(t.includes('shown only to integration engineers') && (await page.locator('#raw').count()) === 0 && !t.includes('RVVPAS^MR'),
    'governance saw the content: ' + t.slice(0, 400));
  t = await visit(page, `/admin/feeds/rvv-adt/messages?patient=${NHS_A}`, 400, 'governance-nhs-search');
  check(t.includes('for integration engineers'), 'identifier search not refused to governance');
  const gr = await page.request.post(BASE + refusedUrl + '/replay', { form: { csrf: 'x' } });
  check(gr.status() === 403, 'governance replay: ' + gr.status());
} catch (e) {
  failures++;
  console.error(e.stack || e);
} finally {
  await browser.close();
}
console.log(axeSummary.join('\n'));
server.kill('SIGTERM');
for (let i = 0; exited === null && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
const serveLog = fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8');
if (exited !== 0) { failures++; console.error(`weft serve exited ${exited}:\n${serveLog.slice(-4000)}`); }
if (/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.test(serveLog)) { failures++; console.error('sanitizer report in serve log:\n' + serveLog.slice(-4000)); }
if (failures === 0) {
  try {
    const audit = weft('audit', 'list', '--db', DB, '--limit', '1000');
    check(/what="?feeds console: inbox message \d+"?/.test(audit), 'message reads not audited');
    check(/feeds console: inbox search by identifier/.test(audit), 'identifier search not audited');
    check(/feeds console: inbox message \d+ replayed/.test(audit), 'replay not audited');
    check(/feeds console: inbox message \d+ resubmitted as \d+/.test(audit), 'resubmission not audited');
    check(/denied[^\n]*feeds console: role without feeds-admin/.test(audit), 'clinician refusal not audited');
    weft('audit', 'verify', '--db', DB);
  } catch (e) { failures++; console.error(e.message); }
}
if (failures) process.exit(1);
console.log('web_feeds: all checks passed; screenshots in ' + ART);
