// web_identity.mjs - the identity review pages (/admin/identity, issue 13) in a
// real browser (Debian's chromium via playwright-core, axe-core on every page).
// weft-test-backends: sqlite postgres
//
// Two households loaded with weft load: in each, a GP Patient with an NHS
// number and a council Patient without one whose date of birth, sex,
// address, postcode and phone agree but whose names differ outright - the
// pair matching never joins unattended and queues for review. Then weft serve
// and staff launched by a registered host system (HS256 tokens signed here):
//   - a clinician (R8000) opening the record of a person with a pending review
//     sees a neutral "possible other records are being reviewed" notice and
//     nothing of the other candidate (name, sender, ids); after the decision
//     the notice is gone;
//   - the clinician is refused the queue and a pair (403) and cannot post a
//     decision; the refusals are audited;
//   - a data-quality lead (R8012, identity-decide in the default policy) sees
//     the queue (two pairs), opens a pair (both records side by side, each
//     field's agreement and weight, the total and thresholds), defers it (it
//     stays open), decides it "same" (the two records are one person after),
//     and decides the other "not the same person" (kept apart; the queue is
//     empty); deciding a decided review again is refused (409);
//   - `weft person review list --status same|not-same` and `weft person
//     decisions` show the page's decisions, by the user's SDS id; the page
//     views and the deferral are audited; the audit chain verifies.
// Screenshots in $WEFT_ARTIFACTS/web-identity/.  Skips (77) without chromium or npm packages.
import {
  CHROMIUM_ARGS, ROOT, BIN, CHROMIUM, skip, fail, check, ASSETS, tmpDir, artDir, loadBrowser, weft,
} from './lib/browser.mjs';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const TMP = tmpDir('weft-identity-');
const ART = artDir('web-identity');

const { chromium, axeSource, require } = loadBrowser();

function nhs(n) { // a valid NHS number in the test range (999...)
  for (let k = n; ; k++) {
    const nine = '999' + String(k).padStart(6, '0');
    const sum = [...nine].reduce((a, d, i) => a + Number(d) * (10 - i), 0);
    const c = 11 - (sum % 11);
    if (c === 10) continue;
    return nine + (c === 11 ? '0' : String(c));
  }
}

// ---- data: two households, each a pair queued for review --------------------------------
const DB = process.env.WEFT_TEST_DB || path.join(TMP, 'weft.db'); // PostgreSQL under --backend postgres
weft('init', '--db', DB);
const HOSP = 'RVV';
weft('org', 'add', '--db', DB, '--ods', HOSP, '--name', 'Hospital', '--type', 'acute');
weft('org', 'agreement', '--db', DB, '--ods', HOSP, '--kind', 'jca', '--from', '2020-01-01');
function patient(id, given, family, dob, sex, line, postcode, phone, ident) {
  return { resourceType: 'Patient', id, name: [{ family, given: [given] }], birthDate: dob, gender: sex,
    address: [{ line: [line], city: 'Maidstone', postalCode: postcode }], telecom: [{ system: 'phone', value: phone }],
    identifier: [ident] };
}
function load(org, res) {
  const f = path.join(TMP, `${org}-${res.id}.json`);
  fs.writeFileSync(f, JSON.stringify(res));
  weft('load', '--db', DB, '--org', org, '--quiet', f);
}
const NHS_1 = nhs(1201), NHS_2 = nhs(1301);
const NHS_SYS = 'https://fhir.nhs.uk/Id/nhs-number';
load('G81001', patient('gp-1', 'Harriet', 'Okonkwo', '1984-06-12', 'female', '7 Mill Lane', 'ME14 2CD', '01622 700100', { system: NHS_SYS, value: NHS_1 }));
load('KCC', patient('kcc-1', 'Veronica', 'Lindqvist', '1984-06-12', 'female', '7 Mill Lane', 'ME14 2CD', '01622 700100', { system: 'urn:weft:id:KCC:person', value: 'SC-1' }));
load('G81001', patient('gp-2', 'Desmond', 'Achterberg', '1950-11-30', 'male', '22 Orchard Way', 'TN9 1AB', '01732 300200', { system: NHS_SYS, value: NHS_2 }));
load('KCC', patient('kcc-2', 'Bartholomew', 'Quigley', '1950-11-30', 'male', '22 Orchard Way', 'TN9 1AB', '01732 300200', { system: 'urn:weft:id:KCC:person', value: 'SC-2' }));
const queued = weft('person', 'review', 'list', '--db', DB).trim().split('\n').slice(1);
check(queued.length === 2, 'wanted two pairs queued for review, got: ' + queued.join(' / '));
const reviewOf = (src) => queued.find((l) => l.includes(src)).trim().split(/\s+/)[0];
const R1 = reviewOf('kcc-1'), R2 = reviewOf('kcc-2');
function personOf(org, src) {
  const out = weft('person', 'export', '--db', DB).trim().split('\n').slice(1).map((l) => l.split(','));
  // export lists identifiers; the council's local id names the record
  const row = out.find((r) => r[1] === org && r[3] === src);
  return row && row[0];
}
check(personOf('KCC', 'SC-1') !== personOf('G81001', NHS_1), 'pair 1 joined before any decision');

const SECRET = crypto.randomBytes(32).toString('hex');
fs.writeFileSync(path.join(TMP, 'epr.secret'), SECRET);
weft('launcher', 'add', '--db', DB, '--name', 'epr', '--org', HOSP, '--issuer', 'iss-epr', '--alg', 'HS256', '--secret-file', path.join(TMP, 'epr.secret'));

// ---- server --------------------------------------------------------------------------------
const portFile = path.join(TMP, 'port');
const log = fs.openSync(path.join(TMP, 'serve.log'), 'w');
const server = spawn(BIN, ['serve', '--db', DB, '--http', '127.0.0.1:0', '--port-file', portFile, '--assets', ASSETS,
  '--drop-interval', '0', '--dq-interval', '0'], { stdio: ['ignore', log, log] });
let exited = null;
server.on('exit', (code) => { exited = code; });
for (let i = 0; !fs.existsSync(portFile); i++) {
  if (exited !== null || i > 1200) fail('weft serve did not start: ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8'));
  await new Promise((r) => setTimeout(r, 50));
}
const BASE = `http://127.0.0.1:${Number(fs.readFileSync(portFile, 'utf8').trim())}`;
let jti = 0;
function token(role, sub, patient) {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = { iss: 'iss-epr', aud: 'weft', iat: now, nbf: now, exp: now + 240, jti: `id-${process.pid}-${now}-${++jti}`,
    sub, name: 'Test ' + role, role, org: HOSP, patient, purpose: 'TREAT' };
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
    await snap(page, label);
    await axe(page, label);
    return text(page);
  }

  // ---- a clinician: refused ------------------------------------------------------------------
  let page = await freshPage();
  let resp = await page.goto(`${BASE}/launch?token=${token('R8000', 'doc-1', NHS_1)}`);
  check(resp.status() === 200, 'clinician launch: ' + resp.status());
  // the record of a person with a pending review: a neutral notice, nothing of the other candidate
  const clinPerson = new URL(page.url()).pathname.split('/')[2];
  let rec = await text(page);
  await snap(page, 'clinician-record-under-review');
  await axe(page, 'clinician-record-under-review');
  check(await page.locator('#identity-review-notice').count() === 1 && /Possible other records for this person are being reviewed/.test(rec),
    'no neutral review notice on the record: ' + rec.slice(0, 600));
  for (const other of ['Lindqvist', 'LINDQVIST', 'Veronica', 'VERONICA', 'KCC', 'kcc-1', 'SC-1'])
    check(!rec.includes(other), 'the clinician is told about the other candidate: ' + other);
  await visit(page, '/admin/identity', 403, 'clinician-queue-refused');
  await visit(page, `/admin/identity/${R1}`, 403, 'clinician-pair-refused');
  const posted = await page.request.post(`${BASE}/admin/identity/${R1}`, { form: { decision: 'same', csrf: 'x' } });
  check(posted.status() === 403, 'clinician decision post answered ' + posted.status());

  // ---- the data-quality lead --------------------------------------------------------------------
  page = await freshPage();
  resp = await page.goto(`${BASE}/launch?token=${token('R8012', 'dq-lead-1', NHS_1)}`);
  check(resp.status() === 200, 'data-quality lead launch: ' + resp.status());
  let t = await visit(page, '/admin/identity', 200, 'queue');
  check(/2 pair\(s\) of records waiting/.test(t), 'queue summary: ' + t.slice(0, 400));
  check(t.includes('kcc-1') && t.includes('kcc-2'), 'queue lacks the pairs: ' + t.slice(0, 600));
  await Promise.all([page.waitForNavigation(), page.click(`a[href="/admin/identity/${R1}"]`)]);
  t = await text(page);
  await snap(page, 'pair');
  await axe(page, 'pair');
  for (const want of ['OKONKWO', 'LINDQVIST', 'HARRIET', 'VERONICA', '1984-06-12', 'ME142CD', 'G81001', 'KCC', 'Total now'])
    check(t.includes(want), 'pair page lacks ' + want + ': ' + t.slice(0, 800));
  check(await page.locator('#weights tbody tr').count() === 9, 'not one weight row per field');
  check(await page.locator('#weights tr.weft-agrees').count() >= 3 && await page.locator('#weights tr.weft-disagrees').count() >= 2,
    'agreeing and disagreeing fields not marked');
  // defer: stays open
  await page.check('#d-defer');
  await Promise.all([page.waitForNavigation(), page.click('#decide button[type=submit]')]);
  t = await text(page);
  check(t.includes(`Review ${R1}: left for later`) && /2 pair\(s\)/.test(t), 'defer: ' + t.slice(0, 400));
  // same person
  await page.goto(`${BASE}/admin/identity/${R1}`);
  await page.check('#d-same');
  await page.fill('#note', 'Same person: council record carries her maiden name');
  await Promise.all([page.waitForNavigation(), page.click('#decide button[type=submit]')]);
  t = await text(page);
  await snap(page, 'queue-after-same');
  await axe(page, 'queue-after-same');
  check(t.includes(`Review ${R1}: recorded as the same person`) && /1 pair\(s\)/.test(t), 'same: ' + t.slice(0, 400));
  // not the same person
  await page.goto(`${BASE}/admin/identity/${R2}`);
  await page.check('#d-not-same');
  await Promise.all([page.waitForNavigation(), page.click('#decide button[type=submit]')]);
  t = await text(page);
  check(t.includes(`Review ${R2}: recorded as not the same person`) && /0 pair\(s\)/.test(t), 'not-same: ' + t.slice(0, 400));
  // a decided pair shows its decision and no form; deciding it again is refused
  t = await visit(page, `/admin/identity/${R1}`, 200, 'pair-decided');
  check(/Status: same, decided by dq-lead-1/.test(t) && await page.locator('#decide').count() === 0, 'decided pair: ' + t.slice(0, 400));
  const csrf = await (async () => {
    await page.goto(`${BASE}/admin/identity`);
    const r = await page.request.get(`${BASE}/session`, { headers: { Accept: 'application/json' } });
    return (await r.json()).csrf;
  })();
  const again = await page.request.post(`${BASE}/admin/identity/${R1}`, { form: { decision: 'not-same', csrf } });
  check(again.status() === 409, 'deciding twice answered ' + again.status());
  const bad = await page.request.post(`${BASE}/admin/identity/${R2}`, { form: { decision: 'maybe', csrf } });
  check(bad.status() === 400, 'an unknown decision answered ' + bad.status());
  // decided: the clinician's record no longer carries the notice (and now holds both records)
  page = await freshPage();
  resp = await page.goto(`${BASE}/launch?token=${token('R8000', 'doc-1', NHS_1)}`);
  check(resp.status() === 200, 'clinician launch after the decisions: ' + resp.status());
  rec = await text(page);
  check(new URL(page.url()).pathname.split('/')[2] === clinPerson, 'the person changed id after the merge');
  check(await page.locator('#identity-review-notice').count() === 0, 'review notice still shown after the decision');
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
    check(personOf('KCC', 'SC-1') === personOf('G81001', NHS_1), 'pair 1 not joined after "same"');
    check(personOf('KCC', 'SC-2') !== personOf('G81001', NHS_2), 'pair 2 joined after "not the same person"');
    check(weft('person', 'review', 'list', '--db', DB, '--status', 'same').includes('kcc-1'), 'review list: pair 1 not same');
    check(weft('person', 'review', 'list', '--db', DB, '--status', 'not-same').includes('kcc-2'), 'review list: pair 2 not not-same');
    const dec = weft('person', 'decisions', '--db', DB);
    check(/link\s+dq-lead-1/.test(dec) && /not-same\s+dq-lead-1/.test(dec), 'decisions by the page user: ' + dec);
    const audit = weft('audit', 'list', '--db', DB, '--limit', '1000');
    check(/what=identity-reviews/.test(audit) && /what=identity-review \d+/.test(audit), 'page views not audited');
    check(/deferred/.test(audit), 'deferral not audited');
    check(/denied.*identity reviews: role without identity-decide|identity reviews: role without identity-decide/.test(audit), 'clinician refusal not audited');
    weft('audit', 'verify', '--db', DB);
  } catch (e) { failures++; console.error(e.message); }
}
if (failures) process.exit(1);
console.log('web_identity: all checks passed; screenshots in ' + ART);
