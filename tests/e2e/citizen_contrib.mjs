// citizen_contrib.mjs - the person's own contributions (issue 17) end to end:
// a citizen signed in with a real OpenID provider (oidc-provider, in place of
// NHS login) adds home readings, a care preference and what matters to them
// on /my/contribute in real Chromium (playwright-core, axe-core on every
// page); a clinician launched for the person sees them marked "Entered by the
// patient" and never mixed with the clinical values.
// weft-test-backends: sqlite postgres
//
// Checks: implausible values (blood pressure upside down, 55 mmol/L glucose,
// "70kg"), a date in the future, an empty text and a form without the CSRF
// token are refused with the reason, the values typed kept, nothing stored;
// six additions are listed on /my/contribute and in /my/record as "entered by
// you"; through the FHIR API they are Observations / a Goal with the person as
// performer / expressedBy, the patient-entered tag and category, UCUM units,
// LOINC codes and meta.source urn:weft:feed:patient:my; on the clinician's
// observations page the person's blood pressure is a row of its own with the
// mark, and its trend a chart of its own; the blood pressure chart page keeps
// the clinical values and the person's readings in separate charts and
// tables; the item page names the source "Entered by the patient"; each
// addition is audited as a write by the person.
import {
  CHROMIUM_ARGS, ROOT, BIN, CHROMIUM, skip, fail, check, ASSETS, tmpDir, artDir, loadBrowser, weft,
} from './lib/browser.mjs';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const TMP = tmpDir('weft-contrib-');
const ART = artDir('contrib');

const { chromium, axeSource, require } = loadBrowser();
let Provider;
try {
  Provider = (await import(require.resolve('oidc-provider'))).default;
} catch (e) {
  skip('skip: npm package oidc-provider missing (npm install): ' + e.message);
}

const DB = process.env.WEFT_TEST_DB || path.join(TMP, 'weft.db'); // PostgreSQL under --backend postgres
const GP = 'G82001', HOSP = 'RVV';
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
const NHS = nhsNumber(910000);
const now = new Date();
const today = now.toISOString().slice(0, 10);
const yesterday = new Date(now.getTime() - 86400000).toISOString().slice(0, 10);
const tomorrow = new Date(now.getTime() + 2 * 86400000).toISOString().slice(0, 10);

// ---- data: a GP record with clinical blood pressures ----------------------------------------------
weft('init', '--db', DB);
for (const [ods, type, name] of [[GP, 'gp', 'Elm Street Surgery'], [HOSP, 'acute', 'Kent Valley Hospital']]) {
  weft('org', 'add', '--db', DB, '--ods', ods, '--name', name, '--type', type);
  weft('org', 'agreement', '--db', DB, '--ods', ods, '--kind', 'jca', '--from', '2020-01-01');
}
const SECRET = crypto.randomBytes(32).toString('hex');
fs.writeFileSync(path.join(TMP, 'epr.secret'), SECRET);
weft('launcher', 'add', '--db', DB, '--name', 'epr', '--org', HOSP, '--issuer', 'iss-epr', '--alg', 'HS256', '--secret-file', path.join(TMP, 'epr.secret'));
const q = (v, u, c) => ({ value: v, unit: u, system: 'http://unitsofmeasure.org', code: c });
const bp = (id, when, sys, dia) => ({ resource: { resourceType: 'Observation', id, status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure' }], text: 'Blood pressure' },
  subject: { reference: 'Patient/pat-1' }, effectiveDateTime: when,
  component: [{ code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: q(sys, 'mmHg', 'mm[Hg]') },
    { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: q(dia, 'mmHg', 'mm[Hg]') }] },
request: { method: 'PUT', url: 'Observation/' + id } });
fs.writeFileSync(path.join(TMP, 'gp.json'), JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [
  { resource: { resourceType: 'Patient', id: 'pat-1', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: NHS }],
    name: [{ family: 'Citizen', given: ['Alex'] }], birthDate: '1960-04-04' }, request: { method: 'PUT', url: 'Patient/pat-1' } },
  bp('bp-1', '2025-01-10T09:00:00Z', 131, 81), bp('bp-2', '2025-06-10T09:00:00Z', 127, 79),
  // withheld from the person by the default policy: the summary on /my must not count them
  { resource: { resourceType: 'Observation', id: 'sg-1', status: 'final', code: { text: 'SAFEGUARDING-TEXT' },
    subject: { reference: 'Patient/pat-1' }, effectiveDateTime: '2025-07-01T09:00:00Z',
    meta: { tag: [{ system: 'urn:weft:category', code: 'safeguarding' }] } }, request: { method: 'PUT', url: 'Observation/sg-1' } },
  { resource: { resourceType: 'Observation', id: 'np-1', status: 'final', code: { text: 'NOT-FOR-PATIENT-TEXT' },
    subject: { reference: 'Patient/pat-1' }, effectiveDateTime: '2025-08-01T09:00:00Z',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'NOPAT' }] } }, request: { method: 'PUT', url: 'Observation/np-1' } }] }));
weft('load', '--db', DB, '--org', GP, path.join(TMP, 'gp.json'));

// ---- serve -----------------------------------------------------------------------------------------
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

// ---- the OpenID provider ---------------------------------------------------------------------------
const genKey = (kid, alg = 'RS256') => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    priv: { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg }, pub: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg } };
};
const weftKey = genKey('weft-1', 'RS512'), opKey = genKey('op-1');
fs.writeFileSync(path.join(TMP, 'weft-key.pem'), weftKey.pem);
const opServer = http.createServer();
await new Promise((r) => opServer.listen(0, '127.0.0.1', r));
const provider = new Provider(`http://127.0.0.1:${opServer.address().port}`, {
  clients: [{ client_id: 'weft', redirect_uris: [BASE + '/my/callback'], grant_types: ['authorization_code'],
    response_types: ['code'], token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'RS512', jwks: { keys: [weftKey.pub] } }],
  jwks: { keys: [opKey.priv] },
  claims: { openid: ['sub'], profile: ['nhs_number', 'identity_proofing_level'] },
  findAccount: async (ctx, id) => (id === 'p9user' ? { accountId: id, claims: async () => ({ sub: id, nhs_number: NHS, identity_proofing_level: 'P9' }) } : undefined),
  pkce: { required: () => true },
  enabledJWA: { clientAuthSigningAlgValues: ['RS512', 'RS256'] },
  cookies: { keys: ['test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
});
opServer.on('request', provider.callback());
weft('citizen-idp', 'add', '--db', DB, '--name', 'nhs', '--issuer', `http://127.0.0.1:${opServer.address().port}`, '--client-id', 'weft',
  '--key-file', path.join(TMP, 'weft-key.pem'), '--key-id', 'weft-1', '--redirect-uri', BASE + '/my/callback');

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
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

try {
  // ---- the citizen -------------------------------------------------------------------------------------
  const ctx = await browser.newContext({ viewport: { width: 375, height: 740 }, bypassCSP: true });
  const page = await ctx.newPage();
  await page.goto(BASE + '/my');
  await page.click('#signin-nhs');
  await page.fill('input[name=login]', 'p9user');
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  await page.click('button[type=submit]');
  await page.waitForURL(BASE + '/my');
  let resp = await page.goto(BASE + '/my/contribute');
  check(resp.status() === 200, '/my/contribute: ' + resp.status());
  check(await page.locator('#added-none').count() === 1, 'nothing added yet');
  await axe(page, 'contribute-empty');

  async function submit(kind, fields) {
    await page.goto(BASE + '/my/contribute');
    for (const [k, v] of Object.entries(fields)) await page.fill(`#${kind}-${k}`, v);
    const [r] = await Promise.all([page.waitForNavigation(), page.click(`#add-${kind}`)]);
    return r;
  }
  // refused, nothing stored, values kept
  for (const [kind, fields, words] of [
    ['bp', { value: '80', value2: '120', when: today }, 'higher than'],
    ['bp', { value: '400', value2: '80', when: today }, 'between 50 and 300'],
    ['weight', { value: '70kg', when: today }, 'kilograms'],
    ['glucose', { value: '55', when: today }, 'mmol/L'],
    ['glucose', { value: '5.5', when: tomorrow }, 'future'],
    ['matters', { text: '   ' }, 'write what you want']]) {
    resp = await submit(kind, fields);
    check(resp.status() === 400, `${kind} ${JSON.stringify(fields)}: ${resp.status()}`);
    const t = await page.textContent('#contrib-error');
    check(t.includes('Nothing was added') && t.includes(words), `${kind}: ${t}`);
    if (fields.value) check(await page.inputValue(`#${kind}-value`) === fields.value, `${kind}: the value typed was lost`);
  }
  await axe(page, 'contribute-refused');
  const csrfLess = await page.request.post(BASE + '/my/contribute', { form: { kind: 'weight', value: '70', when: today } });
  check(csrfLess.status() === 403, 'no csrf: ' + csrfLess.status());
  await page.goto(BASE + '/my/contribute');
  check(await page.locator('#added-none').count() === 1, 'a refused form stored something');

  // six additions
  for (const [kind, fields] of [
    ['bp', { value: '150', value2: '95', when: yesterday + 'T08:30' }],
    ['bp', { value: '145', value2: '92', when: today }],
    ['weight', { value: '82.5', when: today }],
    ['glucose', { value: '6.4', when: today }],
    ['matters', { text: 'Walking my dog every morning' }],
    ['preference', { text: 'Morning appointments, please' }]]) {
    resp = await submit(kind, fields);
    check(resp.status() === 200 && (await page.textContent('#contrib-added')).includes('entered by the patient'), `add ${kind}: ${resp.status()} ${await page.textContent('main')}`);
  }
  const added = await page.locator('#added tbody tr').allTextContents();
  check(added.length === 6, 'added list: ' + JSON.stringify(added));
  for (const want of ['150/95', '145/92', '82.5', '6.4', 'Walking my dog every morning', 'Morning appointments, please'])
    check(added.some((r) => r.includes(want)), `added list lacks ${want}: ${JSON.stringify(added)}`);
  await axe(page, 'contribute-added');
  // the record summary on the home page: counts per category, withheld items not counted
  resp = await page.goto(BASE + '/my');
  check(resp.status() === 200, '/my: ' + resp.status());
  const total = await page.textContent('#summary-total');
  check(/holds 8 item\(s\)/.test(total) && total.includes('not shown to you'), 'summary total: ' + total);
  const sumRows = await page.locator('#summary tbody tr').allTextContents();
  check(sumRows.some((r) => r.startsWith('Observations') && r.includes('7')) && sumRows.some((r) => r.startsWith('Documents') && r.includes('1')),
    'summary rows: ' + JSON.stringify(sumRows));
  const newest = await page.locator('#newest li').allTextContents();
  check(newest.length === 5 && newest.every((l) => l.includes('(from you)')) && !newest.join(' ').includes('NOT-FOR-PATIENT'), 'newest: ' + JSON.stringify(newest));
  check(!(await page.textContent('main')).includes('SAFEGUARDING'), 'withheld shown on /my');
  await axe(page, 'home-summary');
  await page.goto(BASE + '/my/record');
  const rec = await page.textContent('main');
  check(rec.includes('Walking my dog every morning') && rec.includes('You (entered by you)'), 'the person\'s record: ' + rec.slice(0, 800));
  await axe(page, 'record-with-contributions');

  // ---- the clinician ---------------------------------------------------------------------------------------
  const t0 = Math.floor(Date.now() / 1000);
  const u = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64({ iss: 'iss-epr', aud: 'weft', iat: t0, nbf: t0, exp: t0 + 240,
    jti: `contrib-${process.pid}`, sub: 'sds-doctor-1', name: 'Dr Test', role: 'R8000', org: HOSP, patient: NHS, purpose: 'TREAT' });
  const tok = u + '.' + crypto.createHmac('sha256', SECRET).update(u).digest('base64url');
  const sctx = await browser.newContext({ bypassCSP: true });
  const sp = await sctx.newPage();
  resp = await sp.goto(`${BASE}/launch?token=${tok}`);
  check(resp.status() === 200, 'launch: ' + resp.status());
  const person = new URL(sp.url()).pathname.split('/')[2];
  await axe(sp, 'clinician-summary');

  resp = await sp.goto(`${BASE}/patient/${person}/observations`);
  check(resp.status() === 200, 'observations page: ' + resp.status());
  const rows = await sp.locator('#results-table tbody tr').evaluateAll((trs) => trs.map((tr) => ({ cls: tr.className, text: tr.innerText })));
  const bpRows = rows.filter((r) => /Blood pressure/.test(r.text));
  check(bpRows.length === 2, 'blood pressure rows (clinical and the person\'s apart): ' + JSON.stringify(rows));
  const mine = bpRows.find((r) => r.cls.includes('weft-patient-entered'));
  const clin = bpRows.find((r) => !r.cls.includes('weft-patient-entered'));
  check(mine && mine.text.includes('Entered by the patient') && mine.text.includes('145/92'), 'the person\'s row: ' + JSON.stringify(mine));
  check(clin && !clin.text.includes('Entered by the patient') && clin.text.includes('127/79'), 'the clinical row: ' + JSON.stringify(clin));
  for (const r of rows.filter((x) => /Weight|glucose|preference/i.test(x.text)))
    check(r.cls.includes('weft-patient-entered') && r.text.includes('Entered by the patient'), 'unmarked contribution: ' + JSON.stringify(r));
  check(await sp.locator('#chart-bp-h').count() === 1 && await sp.locator('#chart-bp-patient-h').count() === 1, 'trends not kept apart: ' + await sp.locator('h3').allTextContents());
  check((await sp.textContent('section.weft-patient-entered')).includes('Entered by the patient'), 'the person\'s trend is not marked');
  await axe(sp, 'clinician-observations');

  resp = await sp.goto(`${BASE}/patient/${person}/chart?m=bp`);
  check(resp.status() === 200, 'bp chart: ' + resp.status());
  const clinVals = await sp.textContent('#chart-values');
  const myVals = await sp.textContent('#chart-values-patient');
  check(clinVals.includes('131/81') && clinVals.includes('127/79') && !clinVals.includes('150/95') && !clinVals.includes('145/92'), 'clinical table mixed: ' + clinVals);
  check(myVals.includes('150/95') && myVals.includes('145/92') && !myVals.includes('131/81') && myVals.includes('Entered by the patient'), 'the person\'s table: ' + myVals);
  check((await sp.textContent('#patient-entered')).includes('Entered by the patient'), 'heading of the person\'s readings');
  await axe(sp, 'clinician-bp-chart');

  // the FHIR shape, read as the clinician
  const pid = crypto.createHash('sha256').update(`${GP}\x1fPatient\x1fpat-1`).digest('hex').slice(0, 32);
  const ev = await sp.request.get(`${BASE}/fhir/Patient/${pid}/$everything`);
  check(ev.status() === 200, '$everything: ' + ev.status());
  const entries = (await ev.json()).entry.map((e) => e.resource);
  const contributed = entries.filter((r) => ((r.meta && r.meta.tag) || []).some((t) => t.code === 'patient-entered'));
  check(contributed.length === 6, 'patient-entered resources: ' + contributed.length);
  for (const r of contributed) {
    check(r.meta.source === 'urn:weft:feed:patient:my', 'meta.source: ' + r.meta.source);
    const ref = r.resourceType === 'Goal' ? r.expressedBy.reference : r.performer[0].reference;
    check(ref === 'Patient/' + pid && r.subject.reference === 'Patient/' + pid, 'the person as performer: ' + JSON.stringify(r));
  }
  const wt = contributed.find((r) => r.code && r.code.coding[0].code === '29463-7');
  check(wt && wt.valueQuantity.system === 'http://unitsofmeasure.org' && wt.valueQuantity.code === 'kg' && wt.valueQuantity.value === 82.5, 'weight: ' + JSON.stringify(wt));
  const gl = contributed.find((r) => r.code && r.code.coding[0].code === '15074-8');
  check(gl && gl.valueQuantity.code === 'mmol/L', 'glucose: ' + JSON.stringify(gl));
  check(contributed.some((r) => r.resourceType === 'Goal' && r.description.text === 'Walking my dog every morning'), 'Goal');

  // the item page names the source
  const wid = wt.id;
  resp = await sp.goto(`${BASE}/patient/${person}/item/Observation/${wid}`);
  check(resp.status() === 200 && (await sp.textContent('main')).includes('Entered by the patient'), 'item page source: ' + resp.status());
  await axe(sp, 'clinician-item');
} finally {
  await browser.close();
  opServer.closeAllConnections();
  opServer.close();
}

// ---- audit ---------------------------------------------------------------------------------------------
const writes = weft('audit', 'list', '--db', DB, '--nhs', NHS, '--action', 'write', '--limit', '50');
check((writes.match(/entered by the patient: (Observation|Goal)\/c-[0-9a-f]{16}/g) || []).length === 6, 'writes audited:\n' + writes);
server.kill('SIGTERM');
const code = await new Promise((r) => (exited !== null ? r(exited) : server.on('exit', r)));
check(code === 0, 'weft serve exit ' + code + ': ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8').slice(-2000));
weft('audit', 'verify', '--db', DB);
console.log(axeSummary.join('\n'));
console.log('ok');
