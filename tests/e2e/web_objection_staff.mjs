// web_objection_staff.mjs - the staff pages of the objection workflow (issue 17)
// in real Chromium (playwright-core), axe-core on every page, with a real
// OpenID provider (oidc-provider) for the citizen who reads the decision.
// weft-test-backends: sqlite postgres
//
// A person (P9) has items from a GP practice and a hospital.  Staff sign in
// as they do today (a launch from their own system, HS256 tokens signed here):
//   - a GP receptionist (R8009) lodges an objection for the person at
//     /admin/objections/lodge (bad NHS number, unknown person, no reason and
//     a form without its CSRF token are refused and lodge nothing); the
//     objection is lodged with the receptionist's organisation and audited as
//     theirs; the receptionist is refused the review queue (403, audited);
//   - a hospital nurse (R8001) is refused the queue and the case (403) and a
//     decision posted with a valid CSRF token is refused (403, audited) and
//     changes nothing;
//   - a hospital clinician (R8000) launched for the person sees the queue
//     (due one month after lodging), the case with the person's record
//     context (items per organisation, read through the scoped-read path and
//     audited), is refused a decision without reasons, and upholds it: the
//     GP's items leave their FHIR view at once; the decider is the session's
//     user; an overdue objection is flagged in the queue;
//   - the citizen sees the decision and the clinician's reasons on
//     /my/objection.
import {
  CHROMIUM_ARGS, ROOT, BIN, CHROMIUM, skip, fail, check, ASSETS, tmpDir, artDir, loadBrowser, weft,
} from './lib/browser.mjs';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const TMP = tmpDir('weft-objstaff-');
const ART = artDir('objection-staff');

const { chromium, axeSource, require } = loadBrowser();
let Provider;
try {
  Provider = (await import(require.resolve('oidc-provider'))).default;
} catch (e) {
  skip('skip: npm package oidc-provider missing (npm install): ' + e.message);
}

const DB = process.env.WEFT_TEST_DB || path.join(TMP, 'weft.db'); // PostgreSQL under --backend postgres
const PG = /^postgres(ql)?:/.test(DB);
const GP = 'G82001', HOSP = 'RVV';
function run(...args) { return spawnSync(BIN, args, { encoding: 'utf8', timeout: 120000 }); }
// Rows of the objection cases, and the due date moved into the past (time
// passing): SQLite through python's sqlite3, PostgreSQL through psql (fields
// joined with | by both).
function sql(q) {
  const r = PG ? spawnSync('psql', [DB, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', q], { encoding: 'utf8' })
    : spawnSync('python3', ['-c', 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); ' +
      'rows=c.execute(sys.argv[2]).fetchall(); c.commit(); print("\\n".join("|".join(map(str,r)) for r in rows))', DB, q],
    { encoding: 'utf8' });
  if (r.status !== 0) fail('sql: ' + r.stderr);
  return r.stdout.trim();
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
const NHS_P9 = nhsNumber(710000), NHS_OTHER = nhsNumber(730000);

// ---- data: the person's record from two organisations ----------------------------------------------
weft('init', '--db', DB);
for (const [ods, type, name] of [[GP, 'gp', 'Elm Street Surgery'], [HOSP, 'acute', 'Kent Valley Hospital']]) {
  weft('org', 'add', '--db', DB, '--ods', ods, '--name', name, '--type', type);
  weft('org', 'agreement', '--db', DB, '--ods', ods, '--kind', 'jca', '--from', '2020-01-01');
}
const secrets = {};
for (const [name, org] of [['epr', HOSP], ['gpsys', GP]]) {
  secrets[name] = crypto.randomBytes(32).toString('hex');
  fs.writeFileSync(path.join(TMP, name + '.secret'), secrets[name]);
  weft('launcher', 'add', '--db', DB, '--name', name, '--org', org, '--issuer', 'iss-' + name, '--alg', 'HS256', '--secret-file', path.join(TMP, name + '.secret'));
}
const obs = (pid, id, text) => ({ resource: { resourceType: 'Observation', id, status: 'final', code: { text },
  subject: { reference: 'Patient/' + pid }, effectiveDateTime: '2025-03-01T09:00:00Z',
  meta: { tag: [{ system: 'urn:weft:category', code: 'observations' }] } }, request: { method: 'PUT', url: 'Observation/' + id } });
function bundle(nhs, pid, extra) {
  return { resourceType: 'Bundle', type: 'transaction', entry: [
    { resource: { resourceType: 'Patient', id: pid, identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs }],
      name: [{ family: 'Citizen', given: ['Pat'] }], birthDate: '1980-02-02' }, request: { method: 'PUT', url: 'Patient/' + pid } },
    ...extra] };
}
fs.writeFileSync(path.join(TMP, 'gp.json'), JSON.stringify(bundle(NHS_P9, 'pat-p9', [obs('pat-p9', 'gp-1', 'GP-BP-TEXT'), obs('pat-p9', 'gp-2', 'GP-WEIGHT-TEXT')])));
fs.writeFileSync(path.join(TMP, 'hosp.json'), JSON.stringify(bundle(NHS_P9, 'pat-p9', [obs('pat-p9', 'h-1', 'HOSP-TEXT')])));
fs.writeFileSync(path.join(TMP, 'other.json'), JSON.stringify(bundle(NHS_OTHER, 'pat-o', [obs('pat-o', 'o-1', 'OTHER-TEXT')])));
weft('load', '--db', DB, '--org', GP, path.join(TMP, 'gp.json'), path.join(TMP, 'other.json'));
weft('load', '--db', DB, '--org', HOSP, path.join(TMP, 'hosp.json'));

// ---- weft serve ------------------------------------------------------------------------------------
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

// ---- the OpenID provider for the citizen --------------------------------------------------------------
const genKey = (kid, alg = 'RS256') => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    priv: { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg }, pub: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg } };
};
const weftKey = genKey('weft-1', 'RS512'), opKey = genKey('op-1');
fs.writeFileSync(path.join(TMP, 'weft-key.pem'), weftKey.pem);
const opServer = http.createServer();
await new Promise((r) => opServer.listen(0, '127.0.0.1', r));
const opPort = opServer.address().port;
const provider = new Provider(`http://127.0.0.1:${opPort}`, {
  clients: [{ client_id: 'weft', redirect_uris: [BASE + '/my/callback'], grant_types: ['authorization_code'],
    response_types: ['code'], token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'RS512', jwks: { keys: [weftKey.pub] } }],
  jwks: { keys: [opKey.priv] },
  claims: { openid: ['sub'], profile: ['nhs_number', 'identity_proofing_level'] },
  findAccount: async (ctx, id) => (id === 'p9user' ? { accountId: id, claims: async () => ({ sub: id, nhs_number: NHS_P9, identity_proofing_level: 'P9' }) } : undefined),
  pkce: { required: () => true },
  enabledJWA: { clientAuthSigningAlgValues: ['RS512', 'RS256'] },
  cookies: { keys: ['test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
});
opServer.on('request', provider.callback());
weft('citizen-idp', 'add', '--db', DB, '--name', 'nhs', '--issuer', `http://127.0.0.1:${opPort}`, '--client-id', 'weft',
  '--key-file', path.join(TMP, 'weft-key.pem'), '--key-id', 'weft-1', '--redirect-uri', BASE + '/my/callback');

// ---- staff launch tokens -----------------------------------------------------------------------------
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
let jti = 0;
function token(launcher, org, sub, role, patient) {
  const now = Math.floor(Date.now() / 1000);
  const u = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64({ iss: 'iss-' + launcher, aud: 'weft', iat: now, nbf: now, exp: now + 240,
    jti: `obj-${process.pid}-${++jti}`, sub, name: 'Staff ' + sub, role, org, patient, purpose: 'TREAT' });
  return u + '.' + crypto.createHmac('sha256', secrets[launcher]).update(u).digest('base64url');
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
async function staff(launcher, org, sub, role, patient) {
  const ctx = await browser.newContext({ bypassCSP: true });
  const page = await ctx.newPage();
  const resp = await page.goto(`${BASE}/launch?token=${token(launcher, org, sub, role, patient)}`);
  check(resp.status() === 200, `launch ${sub}: ${resp.status()}`);
  const csrf = (await (await page.request.get(BASE + '/session', { headers: { Accept: 'application/json' } })).json()).csrf;
  return { page, csrf };
}
async function visit(page, url, want, label) {
  const resp = await page.goto(BASE + url);
  check(resp.status() === want, `${label}: ${url} answered ${resp.status()}, wanted ${want}: ${(await page.textContent('body')).slice(0, 400)}`);
  await axe(page, label);
  return page.textContent('main');
}
const cases = () => Number(sql('SELECT count(*) FROM objection_case'));
const fhirTexts = async (page, pid) => {
  const r = await page.request.get(`${BASE}/fhir/Patient/${pid}/$everything`);
  check(r.status() === 200, '$everything: ' + r.status());
  return JSON.stringify(await r.json());
};

try {
  // ---- a GP receptionist lodges for the person ------------------------------------------------------
  const recep = await staff('gpsys', GP, 'sds-recep-1', 'R8009', NHS_P9);
  let t = await visit(recep.page, '/admin/objections/lodge', 200, 'lodge-form');
  check((await recep.page.textContent('#lodge-org')).includes(GP), 'lodged-with organisation not shown: ' + t.slice(0, 300));
  await recep.page.fill('#nhs', '1234567890');
  await recep.page.fill('#reason', 'I do not want the hospital to see my GP record');
  let [resp] = await Promise.all([recep.page.waitForNavigation(), recep.page.click('#lodge')]);
  check(resp.status() === 400 && (await recep.page.textContent('#form-error')).includes('valid NHS number'), 'bad NHS number: ' + resp.status());
  await axe(recep.page, 'lodge-bad-nhs');
  check(await recep.page.inputValue('#reason') === 'I do not want the hospital to see my GP record', 'the reason was lost on a bad NHS number');
  await recep.page.fill('#nhs', nhsNumber(790000));
  [resp] = await Promise.all([recep.page.waitForNavigation(), recep.page.click('#lodge')]);
  check(resp.status() === 400 && (await recep.page.textContent('#form-error')).includes('No person'), 'unknown person: ' + resp.status());
  await recep.page.fill('#nhs', NHS_P9);
  await recep.page.fill('#reason', '   ');
  [resp] = await Promise.all([recep.page.waitForNavigation(), recep.page.click('#lodge')]);
  check(resp.status() === 400 && (await recep.page.textContent('#form-error')).includes('reason'), 'no reason: ' + resp.status());
  let r = await recep.page.request.post(BASE + '/admin/objections/lodge', { form: { nhs: NHS_P9, reason: 'forged' } });
  check(r.status() === 403, 'lodge without csrf: ' + r.status());
  check(cases() === 0, 'a refused form lodged something');
  await recep.page.fill('#reason', 'I do not want the hospital to see my GP record');
  [resp] = await Promise.all([recep.page.waitForNavigation(), recep.page.click('#lodge')]);
  check(resp.status() === 200 && (await recep.page.textContent('#lodged')).includes('lodged'), 'lodge: ' + resp.status());
  await axe(recep.page, 'lodged');
  const oid = sql('SELECT id FROM objection_case ORDER BY id DESC LIMIT 1');
  check(sql(`SELECT org, status, lodged_by FROM objection_case WHERE id = ${oid}`) === `${GP}|lodged|sds-recep-1 (R8009, ${GP})`,
    'lodged case: ' + sql(`SELECT org, status, lodged_by FROM objection_case WHERE id = ${oid}`));
  // the same person again: one open objection at a time
  await recep.page.fill('#nhs', NHS_P9);
  await recep.page.fill('#reason', 'again');
  [resp] = await Promise.all([recep.page.waitForNavigation(), recep.page.click('#lodge')]);
  check(resp.status() === 400 && (await recep.page.textContent('#form-error')).includes('already open'), 'second open objection: ' + resp.status());
  await visit(recep.page, '/admin/objections', 403, 'receptionist-queue-refused');

  // ---- a nurse: refused ---------------------------------------------------------------------------------
  const nurse = await staff('epr', HOSP, 'sds-nurse-1', 'R8001', NHS_P9);
  t = await visit(nurse.page, '/admin/objections', 403, 'nurse-queue-refused');
  check(t.includes('objection-decide'), 'the refusal does not say why: ' + t.slice(0, 300));
  await visit(nurse.page, `/admin/objections/${oid}`, 403, 'nurse-case-refused');
  r = await nurse.page.request.post(`${BASE}/admin/objections/${oid}`, { form: { csrf: nurse.csrf, decision: 'upheld', rationale: 'nurse tries' }, maxRedirects: 0 });
  check(r.status() === 403 && (await r.text()).includes('may not decide'), 'nurse decision: ' + r.status());
  check(sql(`SELECT status FROM objection_case WHERE id = ${oid}`) === 'lodged', 'a refused decision changed the case');

  // ---- the clinician: queue, case with record context, decision ----------------------------------------------
  const doc = await staff('epr', HOSP, 'sds-doctor-1', 'R8000', NHS_P9);
  const pid = crypto.createHash('sha256').update(`${GP}\x1fPatient\x1fpat-p9`).digest('hex').slice(0, 32);
  let before = await fhirTexts(doc.page, pid);
  check(before.includes('GP-BP-TEXT') && before.includes('HOSP-TEXT'), 'before: both organisations shared');
  t = await visit(doc.page, '/admin/objections', 200, 'queue');
  check(/1 objection\(s\) waiting for a decision, 0 overdue/.test(t), 'queue summary: ' + t.slice(0, 400));
  const lodgedDay = sql(`SELECT substr(lodged, 1, 10), due FROM objection_case WHERE id = ${oid}`).split('|');
  const want = new Date(lodgedDay[0] + 'T00:00:00Z');
  const m = new Date(Date.UTC(want.getUTCFullYear(), want.getUTCMonth() + 1, 1));
  const last = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 0)).getUTCDate();
  const dueWant = `${m.getUTCFullYear()}-${String(m.getUTCMonth() + 1).padStart(2, '0')}-${String(Math.min(want.getUTCDate(), last)).padStart(2, '0')}`;
  const row = await doc.page.textContent(`#case-${oid}`);
  check(row.includes(dueWant) && row.includes(GP) && row.includes('No'), `queue row (due ${dueWant}): ${row}`);
  await Promise.all([doc.page.waitForNavigation(), doc.page.click(`a[href="/admin/objections/${oid}"]`)]);
  await axe(doc.page, 'case');
  t = await doc.page.textContent('main');
  for (const w of ['I do not want the hospital to see my GP record', dueWant, 'Elm Street Surgery', 'Kent Valley Hospital', 'sds-doctor-1'])
    check(t.includes(w), 'case page lacks ' + w + ': ' + t.slice(0, 1200));
  const ctxRows = await doc.page.locator('#context-table tbody tr').allTextContents();
  check(ctxRows.some((x) => x.includes(GP) && x.includes('observations') && x.endsWith('2')) &&
        ctxRows.some((x) => x.includes(HOSP) && x.endsWith('1')), 'record context: ' + JSON.stringify(ctxRows));
  // no reasons: refused, nothing recorded
  await doc.page.check('#d-upheld');
  [resp] = await Promise.all([doc.page.waitForNavigation(), doc.page.click('#decide button[type=submit]')]);
  check(resp.status() === 400, 'decision without reasons: ' + resp.status());
  check(sql(`SELECT status FROM objection_case WHERE id = ${oid}`) === 'lodged', 'a decision without reasons was recorded');
  r = await doc.page.request.post(`${BASE}/admin/objections/${oid}`, { form: { decision: 'upheld', rationale: 'x' }, maxRedirects: 0 });
  check(r.status() === 403, 'decision without csrf: ' + r.status());
  await doc.page.goto(`${BASE}/admin/objections/${oid}`);
  await doc.page.check('#d-upheld');
  await doc.page.fill('#rationale', 'Your reasons outweigh the benefit of sharing');
  [resp] = await Promise.all([doc.page.waitForNavigation(), doc.page.click('#decide button[type=submit]')]);
  check(resp.status() === 200 && (await doc.page.textContent('#decided')).includes('upheld'), 'decision: ' + resp.status());
  await axe(doc.page, 'decided');
  check(sql(`SELECT status, decided_by, decided_role FROM objection_case WHERE id = ${oid}`) === 'upheld|sds-doctor-1|R8000', 'decided case');
  const after = await fhirTexts(doc.page, pid);
  check(!after.includes('GP-BP-TEXT') && after.includes('HOSP-TEXT'), 'upheld: the GP items are still shared with the hospital');
  r = await doc.page.request.post(`${BASE}/admin/objections/${oid}`, { form: { csrf: doc.csrf, decision: 'not-upheld', rationale: 'twice' }, maxRedirects: 0 });
  check(r.status() === 409, 'deciding twice: ' + r.status());

  // ---- overdue flagged ------------------------------------------------------------------------------------
  const [resp2] = await Promise.all([recep.page.waitForNavigation(), (async () => {
    await recep.page.goto(BASE + '/admin/objections/lodge');
    await recep.page.fill('#nhs', NHS_OTHER);
    await recep.page.fill('#reason', 'please do not share');
    await recep.page.click('#lodge');
  })()]);
  check(resp2.status() === 200, 'second lodge: ' + resp2.status());
  const oid2 = sql('SELECT id FROM objection_case ORDER BY id DESC LIMIT 1');
  sql(`UPDATE objection_case SET lodged = '2020-01-10T10:00:00.000Z', due = '2020-02-10' WHERE id = ${oid2}`);
  t = await visit(doc.page, '/admin/objections', 200, 'queue-overdue');
  check(/1 objection\(s\) waiting for a decision, 1 overdue/.test(t), 'overdue summary: ' + t.slice(0, 400));
  check((await doc.page.getAttribute(`#case-${oid2}`, 'class')).includes('weft-overdue') &&
        (await doc.page.textContent(`#case-${oid2}`)).includes('OVERDUE'), 'overdue row not flagged');
  t = await visit(doc.page, `/admin/objections/${oid2}`, 200, 'case-other-person');
  check((await doc.page.textContent('#due')).includes('OVERDUE'), 'case page: overdue not flagged');
  check(t.includes('cannot see this person') && !t.includes('OTHER-TEXT'), 'a person outside the launch context: ' + t.slice(0, 800));

  // ---- the citizen sees the decision ------------------------------------------------------------------------
  const cctx = await browser.newContext({ viewport: { width: 375, height: 740 }, bypassCSP: true });
  const cp = await cctx.newPage();
  await cp.goto(BASE + '/my');
  await cp.click('#signin-nhs');
  await cp.fill('input[name=login]', 'p9user');
  await cp.fill('input[name=password]', 'any');
  await cp.click('button[type=submit]');
  await cp.click('button[type=submit]');
  await cp.waitForURL(BASE + '/my');
  await cp.goto(BASE + '/my/objection');
  check((await cp.textContent('.objection-status')).includes('upheld'), 'citizen: status');
  check((await cp.textContent('.objection-rationale')).includes('Your reasons outweigh'), 'citizen: rationale');
  await axe(cp, 'citizen-objection');
} finally {
  await browser.close();
  opServer.closeAllConnections();
  opServer.close();
}

// ---- audit --------------------------------------------------------------------------------------------------
const steps = sql("SELECT outcome || ' ' || coalesce(user_id, '') || ' ' || substr(reason, 1, 18) FROM audit_entry WHERE what = 'objection 1' ORDER BY seq").split('\n');
check(JSON.stringify(steps) === JSON.stringify(['success sds-recep-1 objection lodged: ', 'denied sds-nurse-1 objection decision', 'success sds-doctor-1 objection decided:']),
  'audit of the steps: ' + JSON.stringify(steps));
check(Number(sql("SELECT count(*) FROM audit_entry WHERE outcome = 'denied' AND reason LIKE 'objection queue: role without objection-decide%'")) === 2, 'queue refusals audited');
check(Number(sql("SELECT count(*) FROM audit_entry WHERE outcome = 'denied' AND reason LIKE 'objection case: role without objection-decide%'")) === 1, 'case refusal audited');
// the context counted 5 items: the two organisations' Patient resources and three observations
const ctxAudit = sql("SELECT count FROM audit_entry WHERE action = 'read' AND user_id = 'sds-doctor-1' AND what = 'objection review: record context'");
check(ctxAudit.split('\n')[0] === '5', 'record context read audited: ' + JSON.stringify(ctxAudit));
server.kill('SIGTERM');
const code = await new Promise((r) => (exited !== null ? r(exited) : server.on('exit', r)));
check(code === 0, 'weft serve exit ' + code + ': ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8').slice(-2000));
weft('audit', 'verify', '--db', DB);
console.log(axeSummary.join('\n'));
console.log('ok');
