// web_absence.mjs - issue 11: the clinician's view never says "none recorded"
// weft-test-backends: sqlite postgres
// when it cannot know, never invents a date, and reads as people read it.
//
// Starts the real (sanitized) weft server on a free port with a fresh
// database.  A GP practice (A81001) loads its record for one person (a
// problem list, an allergy, medicines, observations in UCUM units, HbA1c
// over four years) with `weft load`; a hospital (RVV) sends episode
// diagnoses, unnamed encounters and a Goal with no date over the FHIR REST
// feed, and an HL7 v2 ADT^A31 with an AL1 allergy that carries no date over
// MLLP.  Launch tokens are signed HS256 with node's crypto for three
// organisations: the GP, the hospital, and another practice (A81002) that
// holds nothing for the person.  Chromium (playwright-core) checks, with
// axe-core on every page and screenshots of every page at 1280x1000 and
// 390x844 in $WEFT_ARTIFACTS/web_absence/:
//   1. an upheld objection: every page (summary, timeline, every section,
//      chart) carries the objection banner naming the reason and the
//      break-glass route, no page says "recorded" of an empty list, the
//      banner never says "Name not available", and the GP's own record
//      still names the person when the GP launches;
//   2. an item with no clinical date reads "Date not recorded" (with when it
//      was received, labelled) and sorts after dated items;
//   3. the timeline's header is markup, one heading per data column;
//   4. units as people read them (mmHg, mL/min/1.73m², ×10⁹/L, score), an
//      unknown unit as sent, on pages, tables and charts;
//   5. the HbA1c chart's date ticks never repeat a label;
//   6. the summary's active problems come from the problem list, hospital
//      episode diagnoses in their own list;
//   7. each page's main content starts in the first screen at both sizes;
//      the "Some information may not be shown" box only where something is
//      withheld (not for the patient's own GP);
//   8. break-glass offered only to roles the policy lets use it, and not
//      while it is active;
//   9. encounters named from what they hold.
// Skips (exit 77) when chromium, the npm packages or the binary are missing.
import {
  CHROMIUM_ARGS, ROOT, BIN, CHROMIUM, skip, ASSETS, tmpDir, artDir, loadBrowser,
} from './lib/browser.mjs';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const TMP = tmpDir('weft-absence-');
const ART = artDir('web_absence');

const { chromium, axeSource, require } = loadBrowser();
if (!fs.existsSync(path.join(ASSETS, 'nhsuk-frontend.min.css'))) skip('skip: nhsuk-frontend not installed (npm install)');
fs.rmSync(ART, { recursive: true, force: true });

// Checks collect failures and carry on, so one run reports every fault.
const failures = [];
function check(cond, msg) { if (!cond) { failures.push(msg); console.error('FAIL: ' + msg); } return !!cond; }
function must(cond, msg) { if (!cond) throw new Error(msg); }

const DB = process.env.WEFT_TEST_DB || path.join(TMP, 'weft.db'); // PostgreSQL under --backend postgres
const GP = 'A81001', GP2 = 'A81002', HOSP = 'RVV';
const NAMES = { [GP]: 'Marsh Lane Surgery', [GP2]: 'Hill Street Practice', [HOSP]: 'Kent Valley Hospital' };
function weft(...args) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: 120000 });
  must(r.status === 0, `weft ${args.join(' ')} exited ${r.status}: ${r.stdout} ${r.stderr}`);
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
const NHS = nhsNumber(424200);
const NHS_SYS = 'https://fhir.nhs.uk/Id/nhs-number';

// ---- the GP's record ------------------------------------------------------------
const ucum = (v, code) => ({ value: v, unit: code, system: 'http://unitsofmeasure.org', code });
const obs = (id, loinc, display, date, q, extra = {}) => ({ resource: { resourceType: 'Observation', id, status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: extra.cat || 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: loinc, display }] }, subject: { reference: 'Patient/gp-pat' },
  effectiveDateTime: date, ...(q ? { valueQuantity: q } : {}), ...(extra.res || {}) } });
const bp = (id, date, s, d) => obs(id, '85354-9', 'Blood pressure', date, null, { cat: 'vital-signs', res: { component: [
  { code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic' }] }, valueQuantity: ucum(s, 'mm[Hg]') },
  { code: { coding: [{ system: 'http://loinc.org', code: '8462-4', display: 'Diastolic' }] }, valueQuantity: ucum(d, 'mm[Hg]') }] } });
const problem = (id, display, onset) => ({ resource: { resourceType: 'Condition', id, subject: { reference: 'Patient/gp-pat' },
  clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
  code: { text: display }, onsetDateTime: onset } });
const gpBundle = { resourceType: 'Bundle', type: 'collection', entry: [
  { resource: { resourceType: 'Patient', id: 'gp-pat', identifier: [{ system: NHS_SYS, value: NHS }],
    name: [{ use: 'official', family: 'Okafor', given: ['Grace'] }], gender: 'female', birthDate: '1950-03-04',
    address: [{ use: 'home', line: ['1 Test Road'], city: 'Gillingham', postalCode: 'ME7 1AA' }] } },
  problem('p-lung', 'Malignant tumour of lung', '2017-12-27'),
  problem('p-dm', 'Type 2 diabetes mellitus', '2015-01-02'),
  { resource: { resourceType: 'AllergyIntolerance', id: 'alg-latex', patient: { reference: 'Patient/gp-pat' },
    clinicalStatus: { coding: [{ code: 'active' }] }, code: { text: 'Latex allergy' }, recordedDate: '2024-10-22' } },
  { resource: { resourceType: 'MedicationRequest', id: 'med-met', status: 'active', intent: 'order', subject: { reference: 'Patient/gp-pat' },
    medicationCodeableConcept: { text: 'Metformin 500mg tablets' }, authoredOn: '2025-01-24', dosageInstruction: [{ text: 'One twice a day' }] } },
  bp('bp-1', '2025-03-01', 133, 84), bp('bp-2', '2025-06-01', 128, 80),
  obs('egfr-1', '33914-3', 'eGFR', '2025-05-01', ucum(45, 'mL/min/{1.73_m2}')),
  obs('wbc-1', '6690-2', 'White cell count', '2025-05-01', ucum(7.2, '10*9/L')),
  obs('phq-1', '44261-6', 'PHQ-9 score', '2025-05-01', ucum(7, '{score}'), { cat: 'survey' }),
  obs('odd-1', '2345-7', 'Glucose', '2025-05-01', ucum(5.1, 'mmol/L{fasting}')),
  // One item in each of the other sections a rich record has, so the
  // navigation is as long as a real one's (issue 11 measured the demo's).
  { resource: { resourceType: 'RiskAssessment', id: 'risk-1', status: 'final', subject: { reference: 'Patient/gp-pat' },
    code: { text: 'Falls risk assessment' }, occurrenceDateTime: '2025-09-25',
    prediction: [{ outcome: { text: 'At risk for falls' }, qualitativeRisk: { text: 'moderate' } }] } },
  { resource: { resourceType: 'Consent', id: 'dnacpr-1', status: 'active', patient: { reference: 'Patient/gp-pat' },
    scope: { text: 'Advance care directive' }, category: [{ text: 'Do Not Resuscitate' }], dateTime: '2025-10-18' } },
  { resource: { resourceType: 'Immunization', id: 'imm-1', status: 'completed', patient: { reference: 'Patient/gp-pat' },
    vaccineCode: { text: 'Influenza vaccine' }, occurrenceDateTime: '2025-10-01' } },
  { resource: { resourceType: 'Procedure', id: 'proc-1', status: 'completed', subject: { reference: 'Patient/gp-pat' },
    code: { text: 'Cataract extraction' }, performedDateTime: '2019-04-01' } },
  { resource: { resourceType: 'Appointment', id: 'appt-1', status: 'booked', description: 'Diabetes review',
    start: '2030-01-15T09:00:00Z', participant: [{ actor: { reference: 'Patient/gp-pat' }, status: 'accepted' }] } },
  { resource: { resourceType: 'RelatedPerson', id: 'nok-1', patient: { reference: 'Patient/gp-pat' },
    name: [{ family: 'Okafor', given: ['Daniel'] }], relationship: [{ text: 'Son' }] } },
  { resource: { resourceType: 'QuestionnaireResponse', id: 'qr-1', status: 'completed', subject: { reference: 'Patient/gp-pat' },
    authored: '2025-02-02', questionnaire: 'urn:weft:care-needs' } },
  { resource: { resourceType: 'ImagingStudy', id: 'img-1', status: 'available', subject: { reference: 'Patient/gp-pat' },
    started: '2024-11-11', description: 'Chest X-ray' } },
  { resource: { resourceType: 'HealthcareService', id: 'svc-1', name: 'District nursing', active: true } },
  obs('a1c-1', '4548-4', 'HbA1c', '2022-01-10', ucum(48, 'mmol/mol')),
  obs('a1c-2', '4548-4', 'HbA1c', '2023-02-10', ucum(52, 'mmol/mol')),
  obs('a1c-3', '4548-4', 'HbA1c', '2024-03-10', ucum(58, 'mmol/mol')),
  obs('a1c-4', '4548-4', 'HbA1c', '2025-06-10', ucum(55, 'mmol/mol')),
] };
fs.writeFileSync(path.join(TMP, 'gp.json'), JSON.stringify(gpBundle));

weft('init', '--db', DB);
for (const [ods, type] of [[GP, 'gp'], [GP2, 'gp'], [HOSP, 'acute']]) {
  weft('org', 'add', '--db', DB, '--ods', ods, '--name', NAMES[ods], '--type', type);
  weft('org', 'agreement', '--db', DB, '--ods', ods, '--kind', 'jca', '--from', '2020-01-01');
}
const SECRET = crypto.randomBytes(32).toString('hex');
fs.writeFileSync(path.join(TMP, 'launch.secret'), SECRET);
for (const ods of [GP, GP2, HOSP])
  weft('launcher', 'add', '--db', DB, '--name', 'host-' + ods, '--org', ods, '--issuer', 'iss-' + ods, '--alg', 'HS256',
    '--secret-file', path.join(TMP, 'launch.secret'));
const NHS_OTHER = nhsNumber(434300);
fs.writeFileSync(path.join(TMP, 'other.json'), JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [
  { resource: { resourceType: 'Patient', id: 'gp-other', identifier: [{ system: NHS_SYS, value: NHS_OTHER }],
    name: [{ family: 'Other', given: ['Person'] }] } }] }));
weft('load', '--db', DB, '--org', GP, path.join(TMP, 'gp.json'), path.join(TMP, 'other.json'));
const writer = weft('feed', 'add', '--db', DB, '--org', HOSP, '--kind', 'fhir', '--name', 'rvv-fhir').trim();
weft('feed', 'add', '--db', DB, '--org', HOSP, '--kind', 'hl7v2', '--name', 'rvv-pas', '--facility', 'RVVPAS');

// ---- server ---------------------------------------------------------------------------
const portFile = path.join(TMP, 'port'), mllpPortFile = path.join(TMP, 'mllp-port');
const log = fs.openSync(path.join(TMP, 'serve.log'), 'w');
const server = spawn(BIN, ['serve', '--db', DB, '--http', '127.0.0.1:0', '--port-file', portFile, '--assets', ASSETS,
  '--mllp', '127.0.0.1:0', '--mllp-port-file', mllpPortFile], { stdio: ['ignore', log, log] });
let exited = null;
server.on('exit', (code) => { exited = code; });
for (let i = 0; !fs.existsSync(portFile) || !fs.existsSync(mllpPortFile); i++) {
  must(exited === null && i < 1200, 'weft serve did not start: ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8'));
  await new Promise((r) => setTimeout(r, 50));
}
const BASE = `http://127.0.0.1:${Number(fs.readFileSync(portFile, 'utf8').trim())}`;
function request(method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(BASE + p, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// The hospital: episode diagnoses newer than the GP's problems, encounters
// with no type, and a Goal with no date at all.
const subj = { identifier: { system: NHS_SYS, value: NHS } };
const dx = (id, text, date) => ({ resource: { resourceType: 'Condition', id, subject: subj,
  clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis' }] }],
  code: { text }, recordedDate: date }, request: { method: 'PUT', url: 'Condition/' + id } });
const enc = (id, cls, date, extra = {}) => ({ resource: { resourceType: 'Encounter', id, status: 'finished', subject: subj,
  class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', ...cls }, period: { start: date }, ...extra },
  request: { method: 'PUT', url: 'Encounter/' + id } });
const hosp = { resourceType: 'Bundle', type: 'transaction', entry: [
  dx('dx-1', 'Chest pain, unspecified', '2025-09-01'), dx('dx-2', 'Syncope and collapse', '2025-10-01'),
  dx('dx-3', 'Syncope and collapse', '2026-01-05'),
  enc('enc-1', { code: 'EMER', display: 'emergency' }, '2025-09-01T10:00:00Z',
    { location: [{ location: { display: 'RVV, AE' } }], serviceType: { coding: [{ code: '180' }] } }),
  enc('enc-2', { code: 'IMP', display: 'inpatient encounter' }, '2025-10-01T10:00:00Z',
    { serviceType: { text: 'Cardiology' }, reasonCode: [{ text: 'collapse' }] }),
  enc('enc-3', { code: 'AMB', display: 'ambulatory' }, '2026-01-05T10:00:00Z'),
  { resource: { resourceType: 'Goal', id: 'goal-1', lifecycleStatus: 'active', subject: subj,
    description: { text: 'Wound healing' } }, request: { method: 'PUT', url: 'Goal/goal-1' } },
] };
let r = await request('POST', '/fhir', JSON.stringify(hosp), { 'Content-Type': 'application/fhir+json', Authorization: 'Bearer ' + writer });
must(r.status === 200, `hospital feed POST /fhir: ${r.status} ${r.body.slice(0, 400)}`);
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
// An allergy sent in 2021 with no date of its own (AL1-6 empty).
const a31 = 'MSH|^~\\&|PAS|RVVPAS|WEFT|WEFT|20210315101500||ADT^A31^ADT_A05|ABS1|P|2.5\r' +
  'EVN|A31|20210315101500\r' +
  `PID|1||P777^^^RVVPAS^MR~${NHS}^^^NHS^NH||Okafor^Grace||19500304|F\r` +
  'AL1|1|DA|PEN^Penicillin^L|MO|Rash|\r';
const ack = await mllpCall(Number(fs.readFileSync(mllpPortFile, 'utf8').trim()), a31);
must(/MSA\|AA\|/.test(ack), 'ADT^A31 not accepted: ' + JSON.stringify(ack));

// ---- launch -----------------------------------------------------------------------------
let jti = 0;
function token(org, role, over = {}) {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = { iss: 'iss-' + org, aud: 'weft', iat: now, nbf: now, exp: now + 240, jti: `abs-${process.pid}-${++jti}`,
    sub: `user-${org}-${role}-${jti}`, name: 'Test ' + role, role, org, patient: NHS, purpose: 'TREAT', ...over };
  const unsigned = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64(claims);
  return unsigned + '.' + crypto.createHmac('sha256', SECRET).update(unsigned).digest('base64url');
}

const browser = await chromium.launchPersistentContext(path.join(TMP, 'chromium-profile'), {
  executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 1000 },
  bypassCSP: true, // the pages forbid every script; axe-core is injected by the test only
  args: CHROMIUM_ARGS });
async function launch(org, role, over) {
  await browser.clearCookies();
  for (const p of browser.pages()) await p.close();
  const page = await browser.newPage();
  const resp = await page.goto(`${BASE}/launch?token=${token(org, role, over)}`);
  must(resp.status() === 200, `launch ${org} ${role}: ${resp.status()}`);
  return page;
}
const text = (page) => page.evaluate(() => document.body.innerText);
const SIZES = [[1280, 1000], [390, 844]];
let shot = 0;
// Each page at both sizes: axe-core clean, a screenshot, and the main
// content (heading and the first list, table, chart, statement or facts)
// starting inside the first screen.
async function screens(page, label) {
  for (const [w, h] of SIZES) {
    await page.setViewportSize({ width: w, height: h });
    const top = await page.evaluate(() => {
      const main = document.querySelector('main');
      const first = main && main.querySelector('table, svg.weft-chart, .weft-empty, #no-items, #item-facts, #break-glass-form, .weft-document__text, #next-step');
      const rect = (el) => (el ? el.getBoundingClientRect().top + window.scrollY : Infinity);
      return { h1: rect(main && main.querySelector('h1')), content: rect(first) };
    });
    check(top.h1 < h && top.content < h - 40,
      `${label} at ${w}x${h}: main content starts below the first screen (heading at ${Math.round(top.h1)}, content at ${Math.round(top.content)})`);
    await page.screenshot({ path: path.join(ART, `${String(++shot).padStart(2, '0')}-${label.replace(/[^a-z0-9-]+/gi, '_')}-${w}x${h}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `axe on ${label}: ` + bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`).join('; '));
}
const navHrefs = (page) => page.locator('nav.weft-nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
const ABSENT = /No [a-z ]*recorded|None recorded|Name not available/;

try {
  // ---- the patient's own GP, nothing withheld ----------------------------------------------------
  let page = await launch(GP, 'R8000');
  const person = new URL(page.url()).pathname.split('/')[2];
  const P = `/patient/${person}`;
  let t = await text(page);
  check(await page.locator('#withheld-notice').count() === 0, '7: the "Some information may not be shown" box shown to the patient\'s own GP with nothing withheld');
  check(t.includes('OKAFOR, Grace'), 'banner name: ' + t.slice(0, 300));
  // 6: problems from the problem list first; episode diagnoses in their own list.
  const problems = await page.locator('section[aria-labelledby=problems-h] tbody tr').allInnerTexts();
  check(problems.length >= 2 && /Malignant tumour of lung/.test(problems.join('\n')) && /Type 2 diabetes/.test(problems.join('\n')),
    '6: active problems lack the problem list: ' + JSON.stringify(problems));
  check(!/Chest pain|Syncope/.test(problems.join('\n')), '6: hospital episode diagnoses among active problems: ' + JSON.stringify(problems));
  const hospDx = await page.locator('section[aria-labelledby=hospital-diagnoses-h]').innerText().catch(() => '');
  check(/Recent hospital diagnoses/.test(hospDx) && /Chest pain/.test(hospDx) && /Syncope and collapse/.test(hospDx),
    '6: no list of recent hospital diagnoses: ' + hospDx);
  // 4: units on the summary.
  check(t.includes('133/84 mmHg') || t.includes('128/80 mmHg'), '4: blood pressure unit on the summary: ' + (t.match(/Blood pressure.*$/m) || [''])[0]);
  check(!/mm\[Hg\]|\{1\.73_m2\}|10\*9\/L|\{score\}/.test(t), '4: UCUM codes on the summary');
  // 2: the undated allergy: no invented date, after the dated one.
  const allergies = await page.locator('section[aria-labelledby=allergies-h] tbody tr').allInnerTexts();
  const pen = allergies.findIndex((x) => /Penicillin/.test(x)), latex = allergies.findIndex((x) => /Latex/.test(x));
  check(pen >= 0 && /Date not recorded/.test(allergies[pen]) && /received \d{1,2} [A-Z][a-z]{2} \d{4}/.test(allergies[pen]),
    '2: undated allergy on the summary: ' + allergies[pen]);
  const today = new Date(), fmtToday = `${today.getUTCDate()} ${today.toLocaleString('en-GB', { month: 'short', timeZone: 'UTC' })} ${today.getUTCFullYear()}`;
  check(pen >= 0 && !allergies[pen].replace(/received .*/, '').includes(fmtToday), '2: the load date shown as the allergy date: ' + allergies[pen]);
  check(latex >= 0 && pen > latex, '2: undated allergy sorted before a dated one: ' + JSON.stringify(allergies));
  // 8: no break-glass offered to someone looking at their own patient, with nothing withheld.
  check(await page.locator('a[href$="/break-glass"]').count() === 0, '8: break-glass offered on an unrestricted view');
  await screens(page, 'gp-summary');

  for (const href of [...await navHrefs(page), `${P}/chart?m=hba1c`, `${P}/chart?m=bp`]) {
    const resp = await page.goto(BASE + href);
    check(resp.status() === 200, `${href}: ${resp.status()}`);
    t = await text(page);
    check(!/mm\[Hg\]|\{1\.73_m2\}|10\*9\/L|\{score\}/.test(t), '4: UCUM code shown on ' + href);
    check(await page.locator('#withheld-notice').count() === 0, '7: withheld box on ' + href + ' for the patient\'s own GP');
    await screens(page, 'gp-' + (href.split('/').slice(3).join('-') || 'summary-again'));
  }
  // 3: the timeline's header.
  await page.goto(`${BASE}${P}/timeline`);
  t = await text(page);
  check(!t.includes('<th'), '3: markup printed as text on the timeline');
  const heads = await page.locator('#items thead th').allInnerTexts();
  const cells = await page.locator('#items tbody tr').first().locator('td').count();
  check(heads.length === cells && heads[1] === 'Category', `3: timeline header ${JSON.stringify(heads)} over ${cells} data cells`);
  // 4: units in tables and charts.
  await page.goto(`${BASE}${P}/observations`);
  t = await text(page);
  check(t.includes('mmHg') && t.includes('score'), '4: observations page units');
  await page.goto(`${BASE}${P}/results`);
  t = await text(page);
  check(t.includes('45 mL/min/1.73m²') && t.includes('7.2 ×10⁹/L'), '4: results page units: ' + (t.match(/eGFR.*$/m) || [''])[0]);
  check(t.includes('5.1 mmol/L{fasting}'), '4: a unit Weft does not know is not shown as sent');
  await page.goto(`${BASE}${P}/chart?m=bp`);
  const bpTitle = (await page.locator('svg.weft-chart title').first().textContent()) || '';
  check(bpTitle.includes('mmHg') && !bpTitle.includes('[Hg]'), '4: chart unit: ' + bpTitle);
  // 5: chart ticks.
  await page.goto(`${BASE}${P}/chart?m=hba1c`);
  const svgText = await page.locator('svg.weft-chart').first().evaluate((s) => [...s.querySelectorAll('text')].map((x) => x.textContent));
  const years = svgText.filter((x) => /^(19|20)\d\d$|^[A-Z][a-z]{2} \d{4}$/.test(x));
  check(years.length >= 3 && new Set(years).size === years.length, '5: HbA1c date labels repeat: ' + JSON.stringify(years));
  // 9: encounters.
  await page.goto(`${BASE}${P}/encounters`);
  t = await text(page);
  check(!/\((ambulatory|inpatient encounter|emergency)\)/.test(t), '9: unnamed encounters: ' + t.slice(t.indexOf('Encounters'), 1200));
  check(/Emergency department attendance \(RVV, AE\) at Kent Valley Hospital/.test(t) &&
    /Hospital admission, Cardiology for collapse/.test(t) && /Outpatient or clinic appointment at Kent Valley Hospital/.test(t),
    '9: encounters not named from class, service, ward, reason and organisation');
  // 2: the documents page's Goal.
  await page.goto(`${BASE}${P}/documents`);
  const goal = await page.locator('#items tbody tr', { hasText: 'Wound healing' }).innerText().catch(() => '');
  check(/Date not recorded/.test(goal) && !goal.replace(/received .*/, '').includes(fmtToday), '2: Goal date: ' + goal);
  const docRows = await page.locator('#items tbody tr').allInnerTexts();
  check(docRows.length > 0 && /Wound healing/.test(docRows[docRows.length - 1]), '2: undated Goal not after dated documents');
  await page.click('main a:has-text("Wound healing")');
  await page.waitForLoadState();
  t = await text(page);
  check(/Date\s+Date not recorded/.test(t) && /Received by the shared record/.test(t), '2: item page date: ' + t.slice(0, 600));
  await screens(page, 'gp-item-goal');

  // ---- 8: another person's record refused: break-glass offered to a clinician only ---------------------
  page = await launch(GP, 'R8000', { patient: NHS_OTHER });
  const other = new URL(page.url()).pathname.split('/')[2];
  page = await launch(GP, 'R8000');
  let resp = await page.goto(`${BASE}/patient/${other}`);
  check(resp.status() === 403 && (await page.locator('#next-link[href$="/break-glass"]').count()) === 1,
    '8: a clinician refused another person is not offered break-glass');
  page = await launch(GP, 'R8009');
  resp = await page.goto(`${BASE}/patient/${other}`);
  check(resp.status() === 403 && (await page.locator('a[href$="/break-glass"]').count()) === 0 &&
    !/request emergency access/i.test(await text(page)), '8: a receptionist refused another person is offered break-glass');
  await screens(page, 'receptionist-refused');

  // ---- 7/8: a receptionist: results withheld, no break-glass anywhere ----------------------------------
  page = await launch(GP, 'R8009');
  t = await text(page);
  check(await page.locator('#withheld-notice').count() === 1 && t.includes('Some information may not be shown'),
    '7: receptionist: no box although results are withheld');
  check(await page.locator('a[href$="/break-glass"]').count() === 0, '8: receptionist offered break-glass on the summary');
  check(/Allergies and intolerances\s+Not available with your access/.test(t), '1: receptionist allergies section: ' + t.slice(0, 800));
  await screens(page, 'receptionist-summary');
  resp = await page.goto(`${BASE}${P}/break-glass`);
  t = await text(page);
  check(resp.status() === 403 && (await page.locator('#break-glass-form').count()) === 0,
    '8: the receptionist is offered the break-glass form: ' + resp.status());
  await screens(page, 'receptionist-break-glass');

  // ---- 1: an upheld objection -------------------------------------------------------------------------
  weft('objection', 'set', '--db', DB, '--nhs', NHS, '--status', 'upheld', '--date', '2026-12-01');
  // Another practice, which holds nothing for the person.
  page = await launch(GP2, 'R8000');
  t = await text(page);
  check(!ABSENT.test(t), '1: objection (other practice): the summary says something is absent: ' + (t.match(ABSENT) || [''])[0]);
  check(await page.locator('#objection-banner').count() === 1 && /objected to sharing/.test(t), '1: no objection banner on the summary');
  check(/None shown to you\. This person has objected to sharing/.test(t), '1: no exact absence statement on the summary');
  check(t.includes('999 ' + NHS.slice(3, 6)), '1: the NHS number from the launch is not in the banner');
  check(await page.locator('#objection-banner a[href$="/break-glass"]').count() === 1, '1: the objection banner lacks the break-glass route');
  await screens(page, 'objection-summary');
  const pages = [`${P}/timeline`, `${P}/allergies`, `${P}/medications`, `${P}/conditions`, `${P}/results`,
    `${P}/observations`, `${P}/documents`, `${P}/encounters`, `${P}/chart?m=hba1c`, ...await navHrefs(page)];
  for (const href of [...new Set(pages)]) {
    resp = await page.goto(BASE + href);
    t = await text(page);
    check(resp.status() === 200, `objection ${href}: ${resp.status()}`);
    check(await page.locator('#objection-banner').count() === 1, '1: no objection banner on ' + href);
    check(!ABSENT.test(t) && !/No items to show|No values to show|No results to show/.test(t),
      '1: objection: ' + href + ' says: ' + (t.match(/No [a-z ]*(recorded|to show)|None recorded|Name not available/) || [''])[0]);
    check(/None shown to you|Date|Item/.test(t), '1: objection: ' + href + ' says nothing about what is shown');
    await screens(page, 'objection-' + (href.split('/').slice(3).join('-') || 'summary-again'));
  }
  // The GP's own record names the person and its items are shown; the hospital's are not.
  page = await launch(GP, 'R8000');
  t = await text(page);
  check(t.includes('OKAFOR, Grace') && !ABSENT.test(t.replace(/No hospital diagnoses recorded/, '')), '1: objection (own GP): banner or absence: ' + t.slice(0, 400));
  check(t.includes('Latex allergy') && !t.includes('Penicillin'), '1: objection (own GP): wrong items');
  check(/Recent hospital diagnoses\s+None shown to you/.test(t), '1: objection (own GP): hospital diagnoses statement');
  await screens(page, 'objection-own-gp-summary');
  // A receptionist under the objection: the banner without a break-glass route.
  page = await launch(GP2, 'R8009');
  check(await page.locator('#objection-banner').count() === 1 && (await page.locator('a[href$="/break-glass"]').count()) === 0,
    '8: receptionist under objection offered break-glass');
  // ---- 8: break-glass active: the route is no longer offered -------------------------------------------
  page = await launch(GP2, 'R8000');
  await page.goto(`${BASE}${P}/break-glass`);
  await page.check('input[value="urgent-clinical-need"]');
  await page.fill('#reason-text', 'Collapsed; needs the hospital record');
  await Promise.all([page.waitForNavigation(), page.click('#break-glass-form button[type=submit]')]);
  t = await text(page);
  check(await page.locator('#break-glass-active').count() === 1, '8: break-glass not shown as active');
  check(await page.locator('a[href$="/break-glass"]').count() === 0 && !/request emergency access/i.test(t),
    '8: break-glass offered while active');
  check(t.includes('Penicillin') && t.includes('Chest pain') && await page.locator('#objection-banner').count() === 0,
    '8: break-glass did not widen the view past the objection');
  await screens(page, 'break-glass-active-summary');
  resp = await page.goto(`${BASE}${P}/break-glass`);
  check((await page.locator('#break-glass-form').count()) === 0 && /already active/.test(await text(page)),
    '8: the break-glass form offered while active');
} catch (e) {
  failures.push(String(e.stack || e));
  console.error(e.stack || e);
} finally {
  await browser.close();
}
server.kill('SIGTERM');
for (let i = 0; exited === null && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
const serveLog = fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8');
if (exited !== 0) failures.push(`weft serve exited ${exited}:\n${serveLog.slice(-4000)}`);
if (/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.test(serveLog)) failures.push('sanitizer report in serve log:\n' + serveLog.slice(-4000));
if (serveLog.includes(NHS)) failures.push('NHS number in the operational log');
if (failures.length) {
  console.error(`web_absence: ${failures.length} failure(s)`);
  process.exit(1);
}
console.log('web_absence: all checks passed; screenshots in ' + ART);
