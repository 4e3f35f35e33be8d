// web_sar_gov.mjs - subject access requests in the governance console
// (/admin/governance/sar, issue 17) in real Chromium (playwright-core),
// axe-core on every page, and `weft sar extend --by`.
// weft-test-backends: sqlite postgres
//
// A person has items from a GP practice (one of them safeguarding, which the
// policy withholds from the person) and a hospital.  Staff launched from their
// own system (HS256 tokens signed here):
//   - a clinician (R8000) is refused the pages (403, audited);
//   - a privacy officer (R0001, audit-review) logs a request (a bad NHS number,
//     an unknown person, a day in the future and a form without its CSRF token
//     are refused and log nothing), sees it due one calendar month after
//     receipt, extends it by two months with a reason (no reason: refused;
//     beyond two months: refused 409), produces the package under --sar-dir
//     (without CSRF: refused), and downloads record.json (a Bundle holding the
//     hospital and GP items, not the safeguarding one), record.html,
//     access-log.csv and the governance-only reviewer-note.csv (the withheld
//     item and why); production and downloads are audited; an old request is
//     flagged overdue;
//   - `weft sar extend --by SDS_USER_ID` records the named member of staff
//     with the role they signed in with.
import {
  CHROMIUM_ARGS, ROOT, BIN, CHROMIUM, skip, fail, check, ASSETS, tmpDir, artDir, loadBrowser, weft,
} from './lib/browser.mjs';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const TMP = tmpDir('weft-sargov-');
const ART = artDir('sar-gov');

const { chromium, axeSource, require } = loadBrowser();

const DB = process.env.WEFT_TEST_DB || path.join(TMP, 'weft.db'); // PostgreSQL under --backend postgres
const GP = 'G82001', HOSP = 'RVV';
function run(...args) { return spawnSync(BIN, args, { encoding: 'utf8', timeout: 120000 }); }
function nhsNumber(n) {
  for (;; n++) {
    const base = '999' + String(n).padStart(6, '0');
    const s = [...base].reduce((a, d, i) => a + Number(d) * (10 - i), 0);
    let c = 11 - (s % 11);
    if (c === 10) continue;
    if (c === 11) c = 0;
    return base + c;
  }
}
const NHS = nhsNumber(810000);
const day = (d) => d.toISOString().slice(0, 10);
function addMonths(ymd, m) { // org_date_add_months: the same day, or the month's last
  const [y, mo, d] = ymd.split('-').map(Number);
  const first = new Date(Date.UTC(y, mo - 1 + m, 1));
  const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  return `${first.getUTCFullYear()}-${String(first.getUTCMonth() + 1).padStart(2, '0')}-${String(Math.min(d, last)).padStart(2, '0')}`;
}

// ---- data -----------------------------------------------------------------------------------------
weft('init', '--db', DB);
for (const [ods, type, name] of [[GP, 'gp', 'Elm Street Surgery'], [HOSP, 'acute', 'Kent Valley Hospital']]) {
  weft('org', 'add', '--db', DB, '--ods', ods, '--name', name, '--type', type);
  weft('org', 'agreement', '--db', DB, '--ods', ods, '--kind', 'jca', '--from', '2020-01-01');
}
const SECRET = crypto.randomBytes(32).toString('hex');
fs.writeFileSync(path.join(TMP, 'epr.secret'), SECRET);
weft('launcher', 'add', '--db', DB, '--name', 'epr', '--org', HOSP, '--issuer', 'iss-epr', '--alg', 'HS256', '--secret-file', path.join(TMP, 'epr.secret'));
const obs = (id, text, cat) => ({ resource: { resourceType: 'Observation', id, status: 'final', code: { text },
  subject: { reference: 'Patient/pat-1' }, effectiveDateTime: '2025-03-01T09:00:00Z',
  meta: { tag: [{ system: 'urn:weft:category', code: cat }] } }, request: { method: 'PUT', url: 'Observation/' + id } });
const bundle = (extra) => ({ resourceType: 'Bundle', type: 'transaction', entry: [
  { resource: { resourceType: 'Patient', id: 'pat-1', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: NHS }],
    name: [{ family: 'Citizen', given: ['Sam'] }], birthDate: '1970-05-05' }, request: { method: 'PUT', url: 'Patient/pat-1' } }, ...extra] });
fs.writeFileSync(path.join(TMP, 'gp.json'), JSON.stringify(bundle([obs('gp-1', 'GP-WEIGHT-TEXT', 'observations'), obs('sg-1', 'SAFEGUARDING-TEXT', 'safeguarding')])));
fs.writeFileSync(path.join(TMP, 'hosp.json'), JSON.stringify(bundle([obs('h-1', 'HOSP-HB-TEXT', 'results')])));
weft('load', '--db', DB, '--org', GP, path.join(TMP, 'gp.json'));
weft('load', '--db', DB, '--org', HOSP, path.join(TMP, 'hosp.json'));

// ---- serve ----------------------------------------------------------------------------------------
const SARS = path.join(TMP, 'sars');
const portFile = path.join(TMP, 'port');
const log = fs.openSync(path.join(TMP, 'serve.log'), 'w');
const server = spawn(BIN, ['serve', '--db', DB, '--http', '127.0.0.1:0', '--port-file', portFile, '--assets', ASSETS,
  '--drop-interval', '0', '--dq-interval', '0', '--sar-dir', SARS], { stdio: ['ignore', log, log] });
let exited = null;
server.on('exit', (code) => { exited = code; });
for (let i = 0; !fs.existsSync(portFile); i++) {
  if (exited !== null || i > 1200) fail('weft serve did not start: ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8'));
  await new Promise((r) => setTimeout(r, 50));
}
const BASE = `http://127.0.0.1:${Number(fs.readFileSync(portFile, 'utf8').trim())}`;
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
let jti = 0;
function token(sub, role) {
  const now = Math.floor(Date.now() / 1000);
  const u = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64({ iss: 'iss-epr', aud: 'weft', iat: now, nbf: now, exp: now + 240,
    jti: `sar-${process.pid}-${++jti}`, sub, name: 'Staff ' + sub, role, org: HOSP, patient: NHS, purpose: 'TREAT' });
  return u + '.' + crypto.createHmac('sha256', SECRET).update(u).digest('base64url');
}

const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
const axeSummary = [];
let shot = 0;
async function axe(page, label) {
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  axeSummary.push(`${label}: ${res.violations.length} violations, ${bad.length} serious/critical`);
  check(bad.length === 0, `axe ${label}: ${JSON.stringify(bad.map((v) => [v.id, v.nodes.map((n) => n.target)]))}`);
  await page.screenshot({ path: path.join(ART, `${String(++shot).padStart(2, '0')}-${label}.png`), fullPage: true });
}
async function staff(sub, role) {
  const ctx = await browser.newContext({ bypassCSP: true });
  const page = await ctx.newPage();
  const resp = await page.goto(`${BASE}/launch?token=${token(sub, role)}`);
  check(resp.status() === 200, `launch ${sub}: ${resp.status()}`);
  const csrf = (await (await page.request.get(BASE + '/session', { headers: { Accept: 'application/json' } })).json()).csrf;
  return { page, csrf };
}
const sarList = () => weft('sar', 'list', '--db', DB).trim().split('\n').slice(1);
const today = day(new Date());

try {
  // ---- a clinician: refused ------------------------------------------------------------------------
  const doc = await staff('sds-doctor-1', 'R8000');
  let resp = await doc.page.goto(BASE + '/admin/governance/sar');
  check(resp.status() === 403, 'clinician: ' + resp.status());
  await axe(doc.page, 'clinician-refused');

  // ---- the privacy officer logs a request ------------------------------------------------------------
  const po = await staff('sds-po-1', 'R0001');
  const page = po.page;
  resp = await page.goto(BASE + '/admin/governance/sar');
  check(resp.status() === 200 && (await page.textContent('#sars-summary')).includes('0 request(s)'), 'list: ' + resp.status());
  check(await page.inputValue('#received') === today, 'received defaults to today');
  await axe(page, 'list-empty');
  for (const [nhs, received, words] of [['12345', today, 'valid NHS number'], [nhsNumber(890000), today, 'No person'],
    [NHS, addMonths(today, 1), 'not in the future'], [NHS, '2025-02-30', 'YYYY-MM-DD']]) {
    await page.fill('#nhs', nhs);
    await page.fill('#received', received);
    [resp] = await Promise.all([page.waitForNavigation(), page.click('#log')]);
    check(resp.status() === 400 && (await page.textContent('#form-error')).includes(words), `log ${nhs} ${received}: ${resp.status()}`);
  }
  await axe(page, 'list-error');
  let r = await page.request.post(BASE + '/admin/governance/sar', { form: { nhs: NHS, received: today } });
  check(r.status() === 403, 'log without csrf: ' + r.status());
  check(sarList().length === 0, 'a refused form logged a request: ' + sarList());
  const received = addMonths(today, -0);
  await page.fill('#nhs', NHS);
  await page.fill('#received', received);
  [resp] = await Promise.all([page.waitForNavigation(), page.click('#log')]);
  check(resp.status() === 200 && /\/admin\/governance\/sar\/\d+$/.test(page.url()), 'logged: ' + resp.status() + ' ' + page.url());
  const sid = page.url().split('/').pop();
  await axe(page, 'request');
  check((await page.textContent('#status')).includes('open') && (await page.textContent('#due')).includes(addMonths(received, 1)),
    'due one month on: ' + await page.textContent('#due'));
  check(sarList().length === 1, 'the CLI sees the request');

  // ---- extension -------------------------------------------------------------------------------------
  await page.selectOption('#months', '2');
  [resp] = await Promise.all([page.waitForNavigation(), page.click('#extend button[type=submit]')]);
  check(resp.status() === 400 && (await page.textContent('main')).includes('reason'), 'extension without reason: ' + resp.status());
  await page.goto(`${BASE}/admin/governance/sar/${sid}`);
  await page.selectOption('#months', '2');
  await page.fill('#reason', 'The record is very large and spans six organisations');
  [resp] = await Promise.all([page.waitForNavigation(), page.click('#extend button[type=submit]')]);
  check(resp.status() === 200 && (await page.textContent('#done')).includes('extended'), 'extend: ' + resp.status());
  check((await page.textContent('#due')).includes(addMonths(received, 3)) && (await page.textContent('#status')).includes('extended') &&
        (await page.textContent('#extension')).includes('six organisations'), 'extended: ' + await page.textContent('#request'));
  check(await page.locator('#extend').count() === 0, 'the extension form offered beyond two months');
  await axe(page, 'extended');
  r = await page.request.post(`${BASE}/admin/governance/sar/${sid}/extend`, { form: { csrf: po.csrf, months: '1', reason: 'more' }, maxRedirects: 0 });
  check(r.status() === 409 && (await r.text()).includes('two further months'), 'a third month: ' + r.status());

  // ---- the package -------------------------------------------------------------------------------------
  r = await page.request.post(`${BASE}/admin/governance/sar/${sid}/produce`, { form: {}, maxRedirects: 0 });
  check(r.status() === 403 && !fs.existsSync(path.join(SARS, 'sar-' + sid)), 'produce without csrf: ' + r.status());
  [resp] = await Promise.all([page.waitForNavigation(), page.click('#produce button[type=submit]')]);
  check(resp.status() === 200 && (await page.textContent('#done')).includes('produced'), 'produce: ' + resp.status());
  check((await page.textContent('#status')).includes('completed') && !(await page.textContent('#produced')).includes('not yet'), 'completed');
  const files = await page.locator('#files a').allTextContents();
  check(JSON.stringify(files) === JSON.stringify(['record.html', 'record.json', 'access-log.csv', 'reviewer-note.csv']), 'files: ' + files);
  await axe(page, 'produced');
  r = await page.request.get(`${BASE}/admin/governance/sar/${sid}/record.json`);
  check(r.status() === 200 && r.headers()['content-disposition'].includes('record.json'), 'record.json: ' + r.status());
  const json = await r.text();
  const b = JSON.parse(json);
  check(b.resourceType === 'Bundle' && json.includes('GP-WEIGHT-TEXT') && json.includes('HOSP-HB-TEXT') && !json.includes('SAFEGUARDING-TEXT'),
    'record.json contents: ' + json.slice(0, 300));
  r = await page.request.get(`${BASE}/admin/governance/sar/${sid}/record.html`);
  const html = await r.text();
  check(r.status() === 200 && html.includes('Kent Valley Hospital') && html.includes('HOSP-HB-TEXT') && !html.includes('SAFEGUARDING-TEXT'), 'record.html');
  r = await page.request.get(`${BASE}/admin/governance/sar/${sid}/access-log.csv`);
  check(r.status() === 200 && (await r.text()).split('\n').length > 2, 'access-log.csv');
  r = await page.request.get(`${BASE}/admin/governance/sar/${sid}/reviewer-note.csv`);
  const note = await r.text();
  check(r.status() === 200 && note.includes('safeguarding') && note.includes(GP), "the reviewer's note: " + note);
  r = await page.request.get(`${BASE}/admin/governance/sar/${sid}/weft.db`);
  check(r.status() === 404, 'another file: ' + r.status());
  r = await doc.page.request.get(`${BASE}/admin/governance/sar/${sid}/reviewer-note.csv`);
  check(r.status() === 403, "a clinician downloading the reviewer's note: " + r.status());

  // ---- an old request: overdue; extended by the CLI with --by ---------------------------------------------------
  const old = weft('sar', 'create', '--db', DB, '--nhs', NHS, '--received', '2020-01-10').trim();
  check(/^\d+$/.test(old), 'sar create prints the id alone: ' + old);
  await page.goto(BASE + '/admin/governance/sar');
  check((await page.textContent('#sars-summary')).includes('2 request(s), 1 overdue'), 'overdue summary: ' + await page.textContent('#sars-summary'));
  check((await page.getAttribute(`#sar-${old}`, 'class')).includes('weft-overdue') && (await page.textContent(`#sar-${old}`)).includes('OVERDUE'), 'overdue row');
  await axe(page, 'list-overdue');
  const out = weft('sar', 'extend', '--db', DB, '--id', old, '--months', '1', '--reason', 'awaiting the hospice records', '--by', 'sds-po-1');
  check(out.includes('due 2020-03-10'), 'sar extend --by: ' + out);
  const show = weft('sar', 'show', '--db', DB, '--id', old);
  check(show.includes('extended because: awaiting the hospice records'), 'sar show: ' + show);
  const bad = run('sar', 'extend', '--db', DB, '--id', old, '--months', '3', '--reason', 'x', '--by', 'sds-po-1');
  check(bad.status === 2 && bad.stderr.includes('1 or 2'), 'sar extend --months 3: ' + bad.status + ' ' + bad.stderr);
} finally {
  await browser.close();
}

// ---- audit ------------------------------------------------------------------------------------------------------
const audit = weft('audit', 'list', '--db', DB, '--nhs', NHS, '--limit', '500');
for (const want of [/export\s.*sds-po-1/, /subject-access-request \d+: reviewer-note\.csv downloaded/,
  /sds-po-1.*R0001.*subject access request extended to 2020-03-10/, /subject access request extended to .*six organisations/])
  check(want.test(audit), 'audit lacks ' + want + ':\n' + audit.slice(0, 3000));
const denials = weft('audit', 'list', '--db', DB, '--user', 'sds-doctor-1', '--action', 'denial', '--limit', '50') +
  weft('audit', 'list', '--db', DB, '--user', 'sds-doctor-1', '--limit', '50');
check(/subject access requests: role without audit-review/.test(denials), 'the clinician refusal is not audited:\n' + denials);
server.kill('SIGTERM');
const code = await new Promise((r) => (exited !== null ? r(exited) : server.on('exit', r)));
check(code === 0, 'weft serve exit ' + code + ': ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8').slice(-2000));
weft('audit', 'verify', '--db', DB);
console.log(axeSummary.join('\n'));
console.log('ok');
