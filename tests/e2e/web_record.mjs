// web_record.mjs - the clinician's record view in a real browser.
// weft-test-backends: sqlite postgres
//
// Starts the real (sanitized) weft server on a free port with a fresh
// database, loads the largest Synthea patient (by entry count) from
// $WEFT_DATA/synthea-r4 as a GP practice's record (with a test NHS number
// added, Synthea has none) and a hospital's data for the same NHS number
// through the FHIR REST feed (POST /fhir with a feed client's token):
// HbA1c results with reference ranges, a discharge summary, an alert and a
// ReSPECT plan; and an HL7 v2 ORU^R01 (eGFR, potassium out of range) over
// MLLP from the hospital's lab system.  A host system is registered and signs HS256 launch tokens
// with node's crypto.  Debian's chromium, driven by playwright-core:
//   - launch -> summary: banner (name, NHS number "XXX XXX XXXX", born,
//     flags), every summary item with a source and a date;
//   - every record section linked from the navigation, the timeline, a trend
//     chart (SVG) and a document in the reader; a screenshot of each page in
//     $WEFT_ARTIFACTS/web/ and axe-core run on each: no serious or critical
//     violations;
//   - a receptionist (R8009) sees no results in any page or chart;
//   - another patient is refused; the break-glass form reached from the
//     refusal widens the view, the banner says so, and the audit log has the
//     break-glass entry and the page views;
//   - error pages: no session, expired launch token, patient not found.
// Skips (exit 77) when chromium, the data or the npm packages are missing.
import {
  CHROMIUM_ARGS, ROOT, BIN, CHROMIUM, skip, fail, check, ASSETS, tmpDir, artDir, loadBrowser,
} from './lib/browser.mjs';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const DATA = process.env.WEFT_DATA || path.join(ROOT, '../shared/data');
const TMP = tmpDir('weft-web-');
const ART = artDir('web');

if (!fs.existsSync(path.join(DATA, 'synthea-r4'))) skip('skip: no Synthea data at ' + DATA + '/synthea-r4');
const { chromium, axeSource, require } = loadBrowser();
if (!fs.existsSync(path.join(ASSETS, 'nhsuk-frontend.min.css'))) skip('skip: nhsuk-frontend not installed (npm install)');

const DB = process.env.WEFT_TEST_DB || path.join(TMP, 'weft.db'); // PostgreSQL under --backend postgres
const GP = 'A81001', HOSP = 'RVV';

function weft(...args) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) fail(`weft ${args.join(" ")} exited ${r.status}: ${r.error || ""} ${r.stdout} ${r.stderr}`);
  return r.stdout;
}

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
const fmtNhs = (n) => `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;

// ---- data ---------------------------------------------------------------------
const files = fs.readdirSync(path.join(DATA, 'synthea-r4')).filter((f) => f.endsWith('.json'));
let largest = null, most = -1;
for (const f of files) {
  const b = JSON.parse(fs.readFileSync(path.join(DATA, 'synthea-r4', f), 'utf8'));
  const n = (b.entry || []).length;
  if (n > most) { most = n; largest = { file: f, bundle: b }; }
}
const smallest = files.map((f) => [f, fs.statSync(path.join(DATA, 'synthea-r4', f)).size]).sort((a, b) => a[1] - b[1])[0][0];
const NHS_A = nhsNumber(123400), NHS_B = nhsNumber(567800), NHS_NONE = nhsNumber(777700);
function withNhs(bundle, nhs) {
  for (const e of bundle.entry) {
    if (e.resource.resourceType === 'Patient') {
      e.resource.identifier = [...(e.resource.identifier || []),
        { system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs }];
    }
  }
  return bundle;
}
const patA = withNhs(largest.bundle, NHS_A);
const nameA = patA.entry.find((e) => e.resource.resourceType === 'Patient').resource.name[0];
const familyA = nameA.family.replace(/[0-9]/g, '').toUpperCase();
fs.writeFileSync(path.join(TMP, 'a.json'), JSON.stringify(patA));
fs.writeFileSync(path.join(TMP, 'b.json'), JSON.stringify(withNhs(JSON.parse(fs.readFileSync(path.join(DATA, 'synthea-r4', smallest), 'utf8')), NHS_B)));

weft('init', '--db', DB);
for (const [ods, type] of [[GP, 'gp'], [HOSP, 'acute']]) {
  weft('org', 'add', '--db', DB, '--ods', ods, '--name', ods === GP ? 'Marsh Lane Surgery' : 'Kent Valley Hospital', '--type', type);
  weft('org', 'agreement', '--db', DB, '--ods', ods, '--kind', 'jca', '--from', '2020-01-01');
}
const SECRET = crypto.randomBytes(32).toString('hex');
fs.writeFileSync(path.join(TMP, 'epr.secret'), SECRET);
weft('launcher', 'add', '--db', DB, '--name', 'epr', '--org', HOSP, '--issuer', 'iss-epr', '--alg', 'HS256', '--secret-file', path.join(TMP, 'epr.secret'));
const t0 = Date.now();
weft('load', '--db', DB, '--org', GP, path.join(TMP, 'a.json'), path.join(TMP, 'b.json'));
console.log(`loaded ${largest.file} (${most} entries) and ${smallest} in ${Date.now() - t0} ms`);
// The hospital's feeds: FHIR REST (the feed's token) and HL7 v2 over MLLP (MSH-4 RVVLAB).
const writer = weft('feed', 'add', '--db', DB, '--org', HOSP, '--kind', 'fhir', '--name', 'rvv-fhir').trim();
weft('feed', 'add', '--db', DB, '--org', HOSP, '--kind', 'hl7v2', '--name', 'rvv-lab', '--facility', 'RVVLAB');

// ---- server ---------------------------------------------------------------------
const portFile = path.join(TMP, 'port');
const log = fs.openSync(path.join(TMP, 'serve.log'), 'w');
const mllpPortFile = path.join(TMP, 'mllp-port');
const server = spawn(BIN, ['serve', '--db', DB, '--http', '127.0.0.1:0', '--port-file', portFile, '--assets', ASSETS,
  '--mllp', '127.0.0.1:0', '--mllp-port-file', mllpPortFile],
  { stdio: ['ignore', log, log] });
let exited = null;
server.on('exit', (code) => { exited = code; });
for (let i = 0; !fs.existsSync(portFile); i++) {
  if (exited !== null || i > 1200) fail('weft serve did not start: ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8'));
  await new Promise((r) => setTimeout(r, 50));
}
const PORT = Number(fs.readFileSync(portFile, 'utf8').trim());
for (let i = 0; !fs.existsSync(mllpPortFile) && i < 200; i++) await new Promise((r) => setTimeout(r, 50));
const BASE = `http://127.0.0.1:${PORT}`;

function request(method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(BASE + p, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// The hospital's feed: same NHS number, results, a document, an alert, a ReSPECT plan.
const subj = { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: NHS_A } };
const hba1c = (id, date, v) => ({
  resource: { resourceType: 'Observation', id, status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '4548-4', display: 'HbA1c (IFCC)' }] },
    subject: subj, effectiveDateTime: date,
    valueQuantity: { value: v, unit: 'mmol/mol', system: 'http://unitsofmeasure.org', code: 'mmol/mol' },
    referenceRange: [{ low: { value: 20, unit: 'mmol/mol' }, high: { value: 41, unit: 'mmol/mol' } }] },
  request: { method: 'PUT', url: 'Observation/' + id } });
const DISCHARGE = 'Discharge summary\nAdmitted with chest pain; troponin negative.\nFollow-up: GP review in 2 weeks.';
const feed = { resourceType: 'Bundle', type: 'transaction', entry: [
  { fullUrl: 'urn:uuid:pat-rvv', resource: { resourceType: 'Patient', id: 'rvv-mrn-1',
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: NHS_A }, { system: 'urn:weft:id:RVV:mrn', value: 'MRN0001' }],
    name: [{ family: nameA.family, given: nameA.given }] }, request: { method: 'PUT', url: 'Patient/rvv-mrn-1' } },
  hba1c('hba1c-1', '2024-01-10', 48), hba1c('hba1c-2', '2024-07-10', 39), hba1c('hba1c-3', '2025-01-10', 62),
  { resource: { resourceType: 'DocumentReference', id: 'dis-1', status: 'current',
    type: { coding: [{ system: 'http://snomed.info/sct', code: '373942005', display: 'Discharge summary' }] },
    subject: { reference: 'urn:uuid:pat-rvv' }, date: '2025-02-01T12:00:00Z', author: [{ display: 'Dr A Example, Cardiology' }],
    content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(DISCHARGE).toString('base64') } }] },
    request: { method: 'PUT', url: 'DocumentReference/dis-1' } },
  { resource: { resourceType: 'Flag', id: 'flag-1', status: 'active', subject: { reference: 'urn:uuid:pat-rvv' },
    code: { text: 'Difficult airway: anaesthetic alert' }, period: { start: '2024-03-01' } },
    request: { method: 'PUT', url: 'Flag/flag-1' } },
  { resource: { resourceType: 'CarePlan', id: 'respect-1', status: 'active', intent: 'plan',
    title: 'ReSPECT: treatment escalation plan', description: 'For ward-based care; not for CPR.',
    subject: { reference: 'urn:uuid:pat-rvv' }, period: { start: '2025-01-20' } },
    request: { method: 'PUT', url: 'CarePlan/respect-1' } },
] };
let r = await request('POST', '/fhir', JSON.stringify(feed), { 'Content-Type': 'application/fhir+json', Authorization: 'Bearer ' + writer });
check(r.status === 200, `feed POST /fhir: ${r.status} ${r.body.slice(0, 400)}`);

// HL7 v2 over MLLP: a lab result message for the same NHS number.
function mllpCall(port, msg) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    sock.on('connect', () => sock.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(msg), Buffer.from([0x1c, 0x0d])])));
    sock.on('data', (d) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      if (all.includes(0x1c)) { sock.end(); resolve(all.toString('latin1')); }
    });
    sock.on('error', reject);
    sock.setTimeout(30000, () => { sock.destroy(); reject(new Error('MLLP timeout')); });
  });
}
const oru = 'MSH|^~\\&|LAB|RVVLAB|WEFT|WEFT|20250301101500||ORU^R01^ORU_R01|WEBLAB1|P|2.5\r' +
  `PID|1||L555^^^RVVLAB^MR~${NHS_A}^^^NHS^NH||${nameA.family}^${nameA.given[0]}||19480101|F\r` +
  'OBR|1||LABORD77|U&E^Urea and electrolytes^L|||20250301090000|||||||||||||||20250301100000||CH|F\r' +
  'OBX|1|NM|2823-3^Potassium^LN||6.1|mmol/L^mmol/L^UCUM|3.5-5.3|H|||F|||20250301090000\r' +
  'OBX|2|NM|33914-3^eGFR^LN||38|mL/min/1.73m2^mL/min/1.73m2^UCUM|>60|L|||F|||20250301090000\r';
const ack = await mllpCall(Number(fs.readFileSync(mllpPortFile, 'utf8').trim()), oru);
check(/MSA\|AA\|/.test(ack), 'HL7 ORU not accepted: ' + JSON.stringify(ack));

// ---- launch tokens -------------------------------------------------------------------
let jti = 0;
function token(role, patient, over = {}) {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = { iss: 'iss-epr', aud: 'weft', iat: now, nbf: now, exp: now + 240, jti: `web-${process.pid}-${now}-${++jti}`,
    sub: 'user-' + role, name: 'Test ' + role, role, org: HOSP, patient, purpose: 'TREAT', ...over };
  const unsigned = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64(claims);
  return unsigned + '.' + crypto.createHmac('sha256', SECRET).update(unsigned).digest('base64url');
}

// ---- browser ---------------------------------------------------------------------------
// A fresh profile directory under $WEFT_TMP (playwright passes it as
// --user-data-dir); each role gets a clean cookie jar via clearCookies().
const browser = await chromium.launchPersistentContext(path.join(TMP, 'chromium-profile'), {
  executablePath: CHROMIUM, headless: true,
  bypassCSP: true, // the pages forbid every script; axe-core is injected by the test only
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
    await page.screenshot({ path: path.join(ART, `${String(++shot).padStart(2, '0')}-${label.replace(/[^a-z0-9-]+/gi, '_')}.png`), fullPage: true });
  }
  const text = (page) => page.evaluate(() => document.body.innerText);

  // ---- clinician -----------------------------------------------------------------
  let page = await freshPage();
  let resp = await page.goto(`${BASE}/launch?token=${token('R8000', NHS_A)}`);
  check(resp.status() === 200, 'summary after launch: ' + resp.status());
  const personA = new URL(page.url()).pathname.split('/')[2];
  check(/^\/patient\/[0-9a-f]+$/.test(new URL(page.url()).pathname), 'launch landed on ' + page.url());
  const banner = await page.locator('section.weft-banner').innerText();
  check(banner.includes(familyA), 'banner name: ' + banner);
  check(banner.includes(fmtNhs(NHS_A)), 'banner NHS number: ' + banner);
  check(/Born\s+\d{1,2} [A-Z][a-z]{2} \d{4}/.test(banner), 'banner born: ' + banner);
  check(/End of life care \/ treatment escalation plan: ReSPECT/.test(banner), 'banner EOL flag: ' + banner);
  check(/alert/.test(banner) && banner.includes('Difficult airway'), 'banner alert flag: ' + banner);
  check(!banner.includes('break-glass'), 'break-glass shown before any: ' + banner);
  const css = await page.evaluate(() => getComputedStyle(document.querySelector('.weft-nav')).backgroundColor);
  check(css === 'rgb(0, 94, 184)', 'styles not applied (nav colour ' + css + ')');
  // Every summary item has a source and a date.
  const rows = await page.locator('main table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.innerText));
  check(rows.length >= 5, 'summary has few rows: ' + rows.length);
  for (const row of rows) {
    check(/Marsh Lane Surgery|Kent Valley Hospital/.test(row), 'summary row without source: ' + row);
    check(/\d{1,2} [A-Z][a-z]{2} \d{4}/.test(row), 'summary row without date: ' + row);
  }
  const sum = await text(page);
  for (const want of ['Alerts and risks', 'Allergies and intolerances', 'Current medications', 'Active problems',
    'Recent encounters', 'Upcoming appointments', 'Latest key observations', 'End of life care and preferences',
    '62 mmol/mol', 'Kent Valley Hospital'])
    check(sum.includes(want), 'summary lacks ' + want);
  await snap(page, 'summary');
  await axe(page, 'summary');

  // Every section in the navigation, then the timeline.
  const nav = await page.locator('nav.weft-nav a').evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('href')]));
  check(nav.length >= 8, 'navigation: ' + JSON.stringify(nav));
  for (const [label, href] of nav) {
    resp = await page.goto(BASE + href);
    check(resp.status() === 200, `${label} ${href}: ${resp.status()}`);
    const h1 = await page.locator('h1').first().innerText();
    check(h1.length > 0, 'no heading on ' + href);
    const t = await text(page);
    check(t.includes(fmtNhs(NHS_A)), 'banner missing on ' + href);
    await snap(page, label);
    await axe(page, label);
  }
  // Keyboard: the skip link is the first thing focused and moves to main.
  await page.goto(`${BASE}/patient/${personA}/timeline`);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement.textContent);
  check(/Skip to main content/.test(focused), 'first tab stop: ' + focused);
  // Paging: the largest record has more than one page of timeline; pages do not overlap.
  const page1 = await page.locator('#items tbody tr a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  check(page1.length === 100, 'timeline page size: ' + page1.length);
  await Promise.all([page.waitForNavigation(), page.click('a[rel=next]')]);
  const page2 = await page.locator('#items tbody tr a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  check(page2.length > 0 && page2.every((h) => !page1.includes(h)), 'timeline page 2 overlaps page 1');
  await page.goto(`${BASE}/patient/${personA}/timeline`);
  // Assets: nhsuk-frontend's images are served where its CSS looks for them.
  const icon = await request('GET', '/assets/images/nhsuk-icon-arrow-right.svg');
  check(icon.status === 200 && icon.body.includes('<svg'), 'nhsuk icon not served: ' + icon.status);
  // Filters: organisation.
  await page.click('details.weft-filter-box summary'); // the filters fold away (issue 11)
  await page.selectOption('#f-org', HOSP);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  const filtered = await page.locator('#items tbody tr').evaluateAll((trs) => trs.map((tr) => tr.innerText));
  check(filtered.length > 0 && filtered.every((t) => t.includes('Kent Valley Hospital')), 'org filter: ' + filtered.slice(0, 3));
  await snap(page, 'timeline-filtered');
  // Bad filter input: clear error, form keeps the value.
  resp = await page.goto(`${BASE}/patient/${personA}/timeline?from=2024-02-31`);
  check(resp.status() === 400 && (await text(page)).includes('There is a problem'), 'bad date not reported');
  check((await page.inputValue('#f-from')) === '2024-02-31', 'bad date lost');
  await axe(page, 'timeline-error');

  // Results: trend chart.
  await page.goto(`${BASE}/patient/${personA}/results`);
  check(await page.locator('svg.weft-chart[role=img]').count() >= 1, 'no chart on results');
  const rt = await text(page);
  check(rt.includes('20 to 41') && /High/.test(rt), 'results table lacks range/flag');
  // The HL7 v2 lab result, with its source, units, range and flag.
  const potassium = await page.locator('#results-table tr', { hasText: 'Potassium' }).first().innerText();
  check(potassium.includes('6.1 mmol/L') && potassium.includes('Kent Valley Hospital') && /High/.test(potassium),
    'HL7 potassium row: ' + potassium);
  await page.goto(`${BASE}/patient/${personA}/chart?m=hba1c`);
  const desc = (await page.locator('svg.weft-chart desc').allTextContents()).join(' | ');
  check(/values from .* Latest: 62 mmol\/mol/.test(desc), 'chart description: ' + desc);
  check(await page.locator('svg.weft-chart circle').count() >= 3, 'chart points');
  await snap(page, 'chart-hba1c');
  await axe(page, 'chart-hba1c');
  await page.goto(`${BASE}/patient/${personA}/chart?m=bp`);
  check(await page.locator('svg.weft-chart polyline').count() === 2, 'blood pressure chart needs 2 series');
  await snap(page, 'chart-bp');

  // Documents: the reader.
  await page.goto(`${BASE}/patient/${personA}/documents`);
  await Promise.all([page.waitForNavigation(), page.click('main a:has-text("Discharge summary")')]);
  const doc = await text(page);
  check(doc.includes('troponin negative') && doc.includes('GP review in 2 weeks'), 'document text: ' + doc.slice(0, 500));
  check(doc.includes('Kent Valley Hospital') && doc.includes('Dr A Example'), 'document source/author');
  await snap(page, 'document');
  await axe(page, 'document');
  await page.goto(`${BASE}/patient/${personA}/end-of-life`);
  await Promise.all([page.waitForNavigation(), page.click('main a:has-text("ReSPECT")')]);
  check((await text(page)).includes('not for CPR'), 'care plan reader');
  await snap(page, 'careplan');

  // ---- another patient: refused, then break-glass --------------------------------------
  let personBId = null;
  // Person B's id: launch another clinician on B, then come back as the first.
  {
    const pageB = await freshPage();
    await pageB.goto(`${BASE}/launch?token=${token('R8000', NHS_B, { sub: 'other-doc' })}`);
    personBId = new URL(pageB.url()).pathname.split('/')[2];
  }
  page = await freshPage();
  resp = await page.goto(`${BASE}/launch?token=${token('R8000', NHS_A)}`);
  check(resp.status() === 200, 'second launch: ' + resp.status());
  resp = await page.goto(`${BASE}/patient/${personBId}`);
  check(resp.status() === 403, 'other patient not refused: ' + resp.status());
  const refused = await text(page);
  check(refused.includes('What to do next') && !refused.includes(fmtNhs(NHS_B)), 'refusal page: ' + refused.slice(0, 300));
  await snap(page, 'refused');
  await axe(page, 'refused');
  await Promise.all([page.waitForNavigation(), page.click('#next-link')]);
  await snap(page, 'break-glass-form');
  await axe(page, 'break-glass-form');
  await page.check('input[value="emergency-care"]');
  await page.fill('#reason-text', 'Collapsed in the emergency department, no history available');
  await Promise.all([page.waitForNavigation(), page.click('#break-glass-form button[type=submit]')]);
  check(new URL(page.url()).pathname === `/patient/${personBId}`, 'after break-glass: ' + page.url() + ' ' + (await text(page)).slice(0, 600));
  const bg = await text(page);
  check(bg.includes(fmtNhs(NHS_B)), 'break-glass did not open patient B');
  check(await page.locator('#break-glass-active').count() === 1, 'break-glass indicator missing');
  await snap(page, 'break-glass-active');
  await axe(page, 'break-glass-active');

  // ---- an upheld objection: only the user's own organisation's items, until break-glass -----
  weft('objection', 'set', '--db', DB, '--nhs', NHS_A, '--status', 'upheld', '--date', '2025-03-01');
  page = await freshPage();
  resp = await page.goto(`${BASE}/launch?token=${token('R8000', NHS_A, { sub: 'doc-objection' })}`);
  check(resp.status() === 200, 'launch with objection: ' + resp.status());
  await page.goto(`${BASE}/patient/${personA}/timeline`);
  let tl = await text(page);
  check(tl.includes('Kent Valley Hospital') && !tl.includes('Marsh Lane Surgery'),
    'objection upheld: items of another organisation shown');
  check((await page.locator('#objection-banner').count()) === 1 && (await text(page)).includes('objected to sharing'),
    'objection: no objection banner');
  await snap(page, 'objection-upheld');
  await Promise.all([page.waitForNavigation(), page.click('#objection-banner a')]);
  await page.check('input[value="urgent-clinical-need"]');
  await page.fill('#reason-text', 'Needs GP medication history before emergency surgery');
  await Promise.all([page.waitForNavigation(), page.click('#break-glass-form button[type=submit]')]);
  check(await page.locator('#break-glass-active').count() === 1, 'objection break-glass indicator');
  await page.goto(`${BASE}/patient/${personA}/timeline`);
  tl = await text(page);
  check(tl.includes('Marsh Lane Surgery'), 'break-glass did not show the other organisation\'s items');
  await snap(page, 'objection-break-glass');
  weft('objection', 'set', '--db', DB, '--nhs', NHS_A, '--status', 'withdrawn', '--date', '2025-03-02');

  // ---- a role that may not see results ----------------------------------------------------
  const rp = await freshPage();
  resp = await rp.goto(`${BASE}/launch?token=${token('R8009', NHS_A, { sub: 'reception-1' })}`);
  check(resp.status() === 200, 'receptionist summary: ' + resp.status());
  const forbidden = ['mmol/mol', 'HbA1c', 'Hemoglobin A1c', 'Discharge summary', 'troponin', 'Glucose'];
  const rnav = await rp.locator('nav.weft-nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  const visits = [...rnav, `/patient/${personA}/chart?m=hba1c`, `/patient/${personA}/results`,
    `/patient/${personA}/observations`, `/patient/${personA}/timeline?category=results`];
  for (const href of visits) {
    await rp.goto(BASE + href);
    const t = await text(rp);
    for (const f of forbidden) check(!t.includes(f), `receptionist sees "${f}" on ${href}`);
    check((await rp.locator('svg.weft-chart').count()) === 0, 'receptionist sees a chart on ' + href);
  }
  await rp.goto(`${BASE}/patient/${personA}`);
  check((await text(rp)).includes('Some information may not be shown'), 'withheld notice for receptionist');
  await snap(rp, 'receptionist-summary');
  await axe(rp, 'receptionist-summary');

  // ---- error pages -------------------------------------------------------------------------
  const ep = await freshPage();
  resp = await ep.goto(`${BASE}/patient/${personA}`);
  check(resp.status() === 401 && (await text(ep)).includes('open the shared care record for the patient again'), 'no session page');
  await snap(ep, 'error-no-session');
  await axe(ep, 'error-no-session');
  const old = Math.floor(Date.now() / 1000) - 3600;
  resp = await ep.goto(`${BASE}/launch?token=${token('R8000', NHS_A, { iat: old, nbf: old, exp: old + 60 })}`);
  check(resp.status() >= 400, 'expired launch accepted: ' + resp.status());
  await snap(ep, 'error-expired-launch');
  resp = await ep.goto(`${BASE}/launch?token=${token('R8000', NHS_NONE, { sub: 'doc-nf' })}`);
  // a launch for someone Weft holds nothing about: a clear page, no session, no person created
  check(resp.status() === 404 && (await text(ep)).includes('No shared record for this person'), 'patient not found: ' + resp.status());
  await snap(ep, 'error-not-found');
  await axe(ep, 'error-not-found');
} catch (e) {
  failures++;
  console.error(e.stack || e);
} finally {
  await browser.close();
}
console.log(axeSummary.join('\n'));

// ---- audit: the break-glass and page views are recorded ------------------------------------
server.kill('SIGTERM');
for (let i = 0; exited === null && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
const serveLog = fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8');
if (exited !== 0) { failures++; console.error(`weft serve exited ${exited}:\n${serveLog.slice(-4000)}`); }
if (/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.test(serveLog)) { failures++; console.error('sanitizer report in serve log:\n' + serveLog.slice(-4000)); }
for (const nhs of [NHS_A, NHS_B]) if (serveLog.includes(nhs)) { failures++; console.error('NHS number in the operational log'); }
if (failures === 0) {
  try {
    const bgList = weft('audit', 'breakglass', '--db', DB);
    check(/emergency-care/.test(bgList), 'break-glass not in the audit review list: ' + bgList);
    const reads = weft('audit', 'list', '--db', DB, '--action', 'read', '--limit', '1000');
    check(/page:summary/.test(reads) && /page:chart/.test(reads) && /page:item/.test(reads), 'page views not audited: ' + reads.slice(0, 500));
    weft('audit', 'verify', '--db', DB);
  } catch (e) { failures++; console.error(e.message); }
}
if (failures) process.exit(1);
console.log('web_record: all checks passed; screenshots in ' + ART);
