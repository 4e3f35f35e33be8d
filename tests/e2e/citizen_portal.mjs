// citizen_portal.mjs - citizen sign-in and the /my/ pages (issue 17), end to
// end: a real OpenID provider from npm (oidc-provider, in place of NHS login)
// and real Chromium (playwright-core), axe-core on every page.
// weft-test-backends: sqlite postgres
//
// The provider requires PKCE and private_key_jwt (Weft's public key is
// registered with it), gives nhs_number and identity_proofing_level through
// userinfo ("profile" scope), and signs ID tokens with a key that is later
// rotated (a new key first in its JWKS) without telling Weft.  A second,
// hostile provider (a few lines of node below) answers with ID tokens that are
// expired, forged, for another audience, for another nonce, or unsigned;
// each must be refused with a clear page and audited.
//
// Checks: P9 sign-in; session cookie HttpOnly + SameSite; the record by
// category with each item's source, withheld items absent with a general
// notice; who viewed (a clinician's view, an emergency view marked with its
// reason category, no refused attempt); lodging an objection, the clinician's
// decision and rationale shown, withdrawal; asking for a copy; a P5 identity
// sees general pages and is told why not the record (403, audited); forms
// without the CSRF token refused (403, audited); a replayed callback and a
// wrong state refused; idle and absolute timeouts end the session; provider
// key rotation picked up.
import {
  CHROMIUM_ARGS, ROOT, BIN, CHROMIUM, skip, fail, check, ASSETS, tmpDir, artDir, loadBrowser, weft,
} from './lib/browser.mjs';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const TMP = tmpDir('weft-my-');
const ART = artDir('my');

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
// Rows read, and session times moved into the past (time passing): SQLite
// through python's sqlite3, PostgreSQL through psql (fields joined with |).
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
const weftId = (org, type, id) => crypto.createHash('sha256').update(`${org}\x1f${type}\x1f${id}`).digest('hex').slice(0, 32);
const NHS_P9 = nhsNumber(610000), NHS_P5 = nhsNumber(620000), NHS_OTHER = nhsNumber(630000);

// ---- Weft: organisations, a launcher for staff, a record from two organisations ----------------
weft('init', '--db', DB);
for (const [ods, type, name] of [[GP, 'gp', 'Elm Street Surgery'], [HOSP, 'acute', 'Kent Valley Hospital']]) {
  weft('org', 'add', '--db', DB, '--ods', ods, '--name', name, '--type', type);
  weft('org', 'agreement', '--db', DB, '--ods', ods, '--kind', 'jca', '--from', '2020-01-01');
}
const SECRET = crypto.randomBytes(32).toString('hex');
fs.writeFileSync(path.join(TMP, 'epr.secret'), SECRET);
weft('launcher', 'add', '--db', DB, '--name', 'epr', '--org', HOSP, '--issuer', 'iss-epr', '--alg', 'HS256', '--secret-file', path.join(TMP, 'epr.secret'));
const obs = (id, text, cat, meta) => ({ resource: { resourceType: 'Observation', id, status: 'final', code: { text },
  subject: { reference: 'Patient/pat-p9' }, effectiveDateTime: '2025-03-01T09:00:00Z',
  meta: { ...(meta || {}), tag: [...((meta && meta.tag) || []), ...(cat ? [{ system: 'urn:weft:category', code: cat }] : [])] } },
request: { method: 'PUT', url: 'Observation/' + id } });
function bundle(org, nhs, pid, extra) {
  return { resourceType: 'Bundle', type: 'transaction', entry: [
    { resource: { resourceType: 'Patient', id: pid, identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs }],
      name: [{ family: 'Citizen', given: ['Pat'] }], birthDate: '1980-02-02' }, request: { method: 'PUT', url: 'Patient/' + pid } },
    ...extra] };
}
const files = {
  gp: bundle(GP, NHS_P9, 'pat-p9', [obs('bp-1', 'Blood pressure 128/84', 'observations'),
    obs('sg-1', 'SAFEGUARDING-CONCERN-TEXT', 'safeguarding'),
    obs('np-1', 'NOT-FOR-PATIENT-TEXT', 'results', { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'NOPAT' }] }),
    obs('tp-1', 'THIRD-PARTY-TEXT', 'documents', { tag: [{ system: 'https://weft.nhs.uk/CodeSystem/information-source', code: 'third-party' }] })]),
  hosp: bundle(HOSP, NHS_P9, 'pat-p9', [obs('hb-1', 'Haemoglobin 131 g/L', 'results')]),
  p5: bundle(GP, NHS_P5, 'pat-p5', []),
  other: bundle(HOSP, NHS_OTHER, 'pat-other', []),
};
for (const [k, b] of Object.entries(files)) fs.writeFileSync(path.join(TMP, k + '.json'), JSON.stringify(b));
weft('load', '--db', DB, '--org', GP, path.join(TMP, 'gp.json'), path.join(TMP, 'p5.json'));
weft('load', '--db', DB, '--org', HOSP, path.join(TMP, 'hosp.json'), path.join(TMP, 'other.json'));

// ---- keys: Weft's client key; the provider's signing keys (the second comes later) -------------
const genKey = (kid, alg = 'RS256') => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    priv: { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg },
    pub: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg }, privateKey };
};
const weftKey = genKey('weft-1', 'RS512'), opKey1 = genKey('op-1'), opKey2 = genKey('op-2'), rogue = genKey('rogue');
fs.writeFileSync(path.join(TMP, 'weft-key.pem'), weftKey.pem);

// ---- Weft serve ---------------------------------------------------------------------------------
const portFile = path.join(TMP, 'port');
const log = fs.openSync(path.join(TMP, 'serve.log'), 'w');
const server = spawn(BIN, ['serve', '--db', DB, '--http', '127.0.0.1:0', '--port-file', portFile, '--assets', ASSETS], { stdio: ['ignore', log, log] });
let exited = null;
server.on('exit', (code) => { exited = code; });
for (let i = 0; !fs.existsSync(portFile); i++) {
  if (exited !== null || i > 1200) fail('weft serve did not start: ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8'));
  await new Promise((r) => setTimeout(r, 50));
}
const BASE = `http://127.0.0.1:${Number(fs.readFileSync(portFile, 'utf8').trim())}`;

// ---- the OpenID provider (oidc-provider) ----------------------------------------------------------
const accounts = { p9user: { nhs_number: NHS_P9, identity_proofing_level: 'P9' },
  p5user: { nhs_number: NHS_P5, identity_proofing_level: 'P5' } };
let opServer = null, opPort = 0;
async function startProvider(signingKeys) {
  opServer = http.createServer();
  await new Promise((r) => opServer.listen(opPort, '127.0.0.1', r));
  opPort = opServer.address().port;
  const provider = new Provider(`http://127.0.0.1:${opPort}`, {
    clients: [{ client_id: 'weft', redirect_uris: [BASE + '/my/callback'], grant_types: ['authorization_code'],
      response_types: ['code'], token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS512', jwks: { keys: [weftKey.pub] } }],
    jwks: { keys: signingKeys.map((k) => k.priv) },
    claims: { openid: ['sub'], profile: ['nhs_number', 'identity_proofing_level'] },
    findAccount: async (ctx, id) => accounts[id] ? { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) } : undefined,
    pkce: { required: () => true },
    // NHS login's client assertions are RS512
    enabledJWA: { clientAuthSigningAlgValues: ['RS512', 'RS256'] },
    cookies: { keys: ['test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
  });
  provider.on('server_error', (ctx, e) => console.error('provider error', e));
  provider.on('grant.error', (ctx, e) => console.error('provider grant error', e.message, e.error_description));
  opServer.on('request', provider.callback());
}
async function stopProvider() {
  opServer.closeAllConnections();
  await new Promise((r) => opServer.close(r));
}
await startProvider([opKey1]);
console.log(weft('citizen-idp', 'add', '--db', DB, '--name', 'nhs', '--issuer', `http://127.0.0.1:${opPort}`, '--client-id', 'weft',
  '--key-file', path.join(TMP, 'weft-key.pem'), '--key-id', 'weft-1', '--redirect-uri', BASE + '/my/callback').trim());
check(weft('citizen-idp', 'list', '--db', DB).includes(`http://127.0.0.1:${opPort}`), 'citizen-idp list');

// ---- a hostile provider: bad ID tokens --------------------------------------------------------------
const nonces = new Map();
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function signJwt(header, claims, key) {
  const u = b64(header) + '.' + b64(claims);
  return u + '.' + (key ? crypto.sign('sha256', Buffer.from(u), key.privateKey).toString('base64url') : '');
}
const hostile = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  const [, mode, what] = u.pathname.split('/');
  const iss = `http://127.0.0.1:${hostile.address().port}/${mode}`;
  const json = (o) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(o)); };
  if (what === '.well-known') return json({ issuer: iss, authorization_endpoint: iss + '/auth', token_endpoint: iss + '/token', jwks_uri: iss + '/jwks', userinfo_endpoint: iss + '/userinfo' });
  if (what === 'jwks') return json({ keys: [rogue.pub] });
  if (what === 'auth') {
    const code = 'code-' + crypto.randomBytes(8).toString('hex');
    nonces.set(code, u.searchParams.get('nonce'));
    res.writeHead(302, { Location: `${u.searchParams.get('redirect_uri')}?code=${code}&state=${u.searchParams.get('state')}` });
    return res.end();
  }
  if (what === 'token') {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const code = new URLSearchParams(body).get('code');
      const now = Math.floor(Date.now() / 1000);
      const c = { iss, sub: 'p9user', aud: 'weft', iat: now, exp: now + 300, nonce: nonces.get(code),
        nhs_number: NHS_P9, identity_proofing_level: 'P9' };
      const h = { alg: 'RS256', kid: 'rogue' };
      let tok;
      if (mode === 'expired') tok = signJwt(h, { ...c, iat: now - 7200, exp: now - 3600 }, rogue);
      else if (mode === 'forged') tok = signJwt(h, c, opKey2); // signed by a key the JWKS does not hold, under its kid
      else if (mode === 'audience') tok = signJwt(h, { ...c, aud: 'another-service' }, rogue);
      else if (mode === 'nonce') tok = signJwt(h, { ...c, nonce: 'not-the-one-weft-sent' }, rogue);
      else if (mode === 'unsigned') tok = signJwt({ alg: 'none' }, c, null);
      else tok = signJwt(h, c, rogue);
      json({ access_token: 'at', token_type: 'Bearer', id_token: tok });
    });
    return undefined;
  }
  res.writeHead(404); res.end();
});
await new Promise((r) => hostile.listen(0, '127.0.0.1', r));
const BAD = ['expired', 'forged', 'audience', 'nonce', 'unsigned'];
for (const m of BAD) {
  weft('citizen-idp', 'add', '--db', DB, '--name', 'bad-' + m, '--issuer', `http://127.0.0.1:${hostile.address().port}/${m}`,
    '--client-id', 'weft', '--key-file', path.join(TMP, 'weft-key.pem'), '--redirect-uri', BASE + '/my/callback');
}

// ---- the browser ---------------------------------------------------------------------------------------
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
const axeSummary = [];
async function axe(page, label) {
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  axeSummary.push(`${label}: ${res.violations.length} violations, ${bad.length} serious/critical`);
  check(bad.length === 0, `axe ${label}: ${JSON.stringify(bad.map((v) => [v.id, v.nodes.map((n) => n.target)]))}`);
  await page.screenshot({ path: path.join(ART, label + '.png'), fullPage: true });
}
async function signIn(ctx, who, idp = 'nhs') {
  const page = await ctx.newPage();
  let callback = null;
  page.on('request', (r) => { if (r.url().startsWith(BASE + '/my/callback')) callback = r.url(); });
  await page.goto(BASE + '/my');
  await page.click("#signin-" + idp);
  if (!(await page.locator("input[name=login]").count())) console.log("provider page:", page.url(), (await page.textContent("body")).slice(0, 600));
  await page.fill('input[name=login]', who);
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  await page.click('button[type=submit]'); // consent
  await page.waitForURL(BASE + '/my');
  return { page, callback };
}
const phone = { viewport: { width: 375, height: 740 }, bypassCSP: true };

try {
  // ---- P9: the record -------------------------------------------------------------------------------
  const ctx = await browser.newContext(phone);
  const { page, callback } = await signIn(ctx, 'p9user');
  check(callback && callback.includes('code='), 'no callback seen');
  await axe(page, 'home-p9');
  const cookie = (await ctx.cookies()).find((c) => c.name === 'weft_citizen');
  check(cookie && cookie.httpOnly && cookie.sameSite === 'Lax', 'session cookie flags: ' + JSON.stringify(cookie));
  let resp = await page.goto(BASE + '/my/record');
  let r;
  check(resp.status() === 200, 'record: ' + resp.status());
  let text = await page.textContent('main');
  for (const want of ['Blood pressure 128/84', 'Haemoglobin 131 g/L', 'Elm Street Surgery', 'Kent Valley Hospital', 'Some information is not shown'])
    check(text.includes(want), `record lacks ${want}`);
  for (const gone of ['SAFEGUARDING-CONCERN-TEXT', 'NOT-FOR-PATIENT-TEXT', 'THIRD-PARTY-TEXT'])
    check(!text.includes(gone), `record shows withheld ${gone}`);
  check(await page.locator('h2#results').count() === 1 && await page.locator('h2#observations').count() === 1, 'categories as headings');
  await axe(page, 'record');

  // ---- staff views: a clinician's, an emergency one, a refused one -----------------------------------
  let jti = 0;
  const token = (sub, role, patient) => {
    const now = Math.floor(Date.now() / 1000);
    const u = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64({ iss: 'iss-epr', aud: 'weft', iat: now, nbf: now, exp: now + 240,
      jti: `my-${process.pid}-${++jti}`, sub, name: 'Staff ' + sub, role, org: HOSP, patient, purpose: 'TREAT' });
    return u + '.' + crypto.createHmac('sha256', SECRET).update(u).digest('base64url');
  };
  const staff = await browser.newContext();
  const sp = await staff.newPage();
  check((await sp.goto(`${BASE}/launch?token=${token('doc-1', 'R8000', NHS_P9)}`)).status() === 200, 'clinician launch');
  const er = await browser.newContext();
  const ep = await er.newPage();
  await ep.goto(`${BASE}/launch?token=${token('er-1', 'R8000', NHS_OTHER)}`);
  const sess = await ep.request.get(BASE + '/session', { headers: { Accept: 'application/json' } });
  const csrf = (await sess.json()).csrf;
  const bg = await ep.request.post(BASE + '/breakglass', { form: { csrf, reason_code: 'patient-unconscious', reason_text: 'found unconscious at home', nhs: NHS_P9 }, maxRedirects: 0 });
  check(bg.status() === 303, 'break-glass: ' + bg.status());
  const pidP9 = weftId(GP, 'Patient', 'pat-p9');
  check((await ep.request.get(`${BASE}/fhir/Patient/${pidP9}/$everything`)).status() === 200, 'emergency read');
  const clerk = await browser.newContext();
  const cp = await clerk.newPage();
  await cp.goto(`${BASE}/launch?token=${token('clerk-1', 'R8009', NHS_OTHER)}`);
  check((await cp.request.get(`${BASE}/fhir/Patient/${pidP9}/$everything`)).status() === 404, 'clerk refused (404: no existence leak, issue 16 item 4)');
  resp = await page.goto(BASE + '/my/viewers');
  check(resp.status() === 200, 'viewers: ' + resp.status());
  const rows = await page.locator('#viewers tbody tr').allTextContents();
  check(rows.some((r) => r.includes('Kent Valley Hospital') && r.includes('R8000') && r.includes('your care') && !r.includes('Emergency')), 'clinician view: ' + JSON.stringify(rows));
  check(rows.some((r) => r.includes('Emergency access: patient-unconscious')), 'emergency view: ' + JSON.stringify(rows));
  check(!rows.some((r) => r.includes('R8009')), 'refused attempt shown as a view: ' + JSON.stringify(rows));
  await axe(page, 'viewers');

  // ---- objection: lodge, decided by a clinician, withdraw ------------------------------------------------
  await page.goto(BASE + '/my/objection');
  await axe(page, 'objection-form');
  await page.selectOption('#org', GP);
  await page.fill('#reason', 'I do not want the hospital to see my GP record');
  await page.click('#lodge');
  check((await page.textContent('#objection-message')).includes('has been sent'), 'lodge message');
  check((await page.textContent('.objection-status')).includes('waiting for a decision'), 'lodged status');
  const oid = sql("SELECT id FROM objection_case ORDER BY id DESC LIMIT 1");
  weft('objection', 'decide', '--db', DB, '--id', oid, '--decision', 'upheld', '--by', 'doc-1', '--rationale', 'Your reasons outweigh the benefit of sharing');
  await page.goto(BASE + '/my/objection');
  check((await page.textContent('.objection-status')).includes('upheld'), 'upheld shown');
  check((await page.textContent('.objection-rationale')).includes('Your reasons outweigh'), 'rationale shown');
  await axe(page, 'objection-upheld');
  await page.click('#withdraw');
  check((await page.textContent('#objection-message')).includes('withdrawn'), 'withdrawn');
  check(weft('objection', 'show', '--db', DB, '--nhs', NHS_P9).includes(': withdrawn'), 'withdrawal reached the store');

  // ---- a copy -----------------------------------------------------------------------------------------------
  await page.goto(BASE + '/my/copy');
  await page.click('#ask-copy');
  check((await page.textContent('#copy-message')).includes('has been sent'), 'copy requested');
  check(await page.locator('#copies tbody tr').count() === 1, 'copy request listed');
  await axe(page, 'copy');
  // governance produces the package; the person reads and downloads it
  const sid = sql("SELECT id FROM sar ORDER BY id DESC LIMIT 1");
  weft('sar', 'export', '--db', DB, '--id', sid, '--out', path.join(TMP, 'package'));
  await page.goto(BASE + '/my/copy');
  await page.click('a.copy-ready');
  text = await page.textContent('body');
  check(text.includes('A copy of your health and care record') && text.includes('Haemoglobin 131 g/L') &&
        !text.includes('SAFEGUARDING-CONCERN-TEXT'), 'the copy in the portal');
  r = await page.request.get(`${BASE}/my/copy/${sid}/record.json`);
  check(r.status() === 200 && (await r.json()).resourceType === 'Bundle', 'record.json download: ' + r.status());
  check((await page.request.get(`${BASE}/my/copy/${sid}/reviewer-note.csv`)).status() === 404, "the reviewer's note offered to the person");
  check((await page.request.get(`${BASE}/my/copy/${Number(sid) + 1}/record.json`)).status() === 404, 'someone else\'s copy');
  await page.goto(BASE + '/my/about');
  check((await page.textContent('main')).includes('does not opt you out of this shared care record'), 'SCR explained');
  await axe(page, 'about');

  // ---- forms without the CSRF token ---------------------------------------------------------------------------
  r = await page.request.post(BASE + '/my/objection', { form: { action: 'lodge', org: GP, reason: 'forged' } });
  check(r.status() === 403 && (await r.text()).includes('csrf-refused'), 'objection without csrf: ' + r.status());
  r = await page.request.post(BASE + '/my/copy', { form: { csrf: 'wrong' } });
  check(r.status() === 403, 'copy with a wrong csrf: ' + r.status());
  r = await page.request.post(BASE + '/my/logout', { form: {} });
  check(r.status() === 403, 'logout without csrf: ' + r.status());
  check(sql("SELECT count(*) FROM objection_case WHERE reason = 'forged'") === '0', 'a forged form lodged something');

  // ---- a replayed callback, a wrong state ---------------------------------------------------------------------
  resp = await page.goto(callback);
  check(resp.status() === 400 && (await page.textContent('#signin-error')).includes('state'), 'replayed callback: ' + resp.status());
  resp = await page.goto(BASE + '/my/callback?code=abc&state=not-mine');
  check(resp.status() === 400, 'wrong state: ' + resp.status());
  await axe(page, 'signin-error');

  // ---- idle and absolute timeouts -------------------------------------------------------------------------------
  const again = await signIn(await browser.newContext(phone), 'p9user');
  sql("UPDATE citizen_session SET last_seen = '2000-01-01T00:00:00.000Z' WHERE revoked IS NULL");
  resp = await again.page.goto(BASE + '/my/record');
  check(resp.status() === 401 && (await again.page.textContent('#signed-out')).includes('15 minutes'), 'idle timeout: ' + resp.status());
  const third = await signIn(await browser.newContext(phone), 'p9user');
  sql("UPDATE citizen_session SET expires = '2000-01-01T00:00:00.000Z' WHERE revoked IS NULL");
  resp = await third.page.goto(BASE + '/my/record');
  check(resp.status() === 401 && (await third.page.textContent('#signed-out')).includes('an hour'), 'absolute timeout: ' + resp.status());

  // ---- P5 --------------------------------------------------------------------------------------------------------
  const p5 = await signIn(await browser.newContext(phone), 'p5user');
  check((await p5.page.textContent('#why-not-p9')).includes('level P5'), 'P5 home explains');
  await axe(p5.page, 'home-p5');
  resp = await p5.page.goto(BASE + '/my/record');
  check(resp.status() === 403 && (await p5.page.textContent('#why-not-p9')).includes('P9'), 'P5 record: ' + resp.status());
  resp = await p5.page.goto(BASE + '/my/about');
  check(resp.status() === 200, 'P5 general page');

  // ---- bad ID tokens from a hostile provider ------------------------------------------------------------------------
  const words = { expired: 'expired', forged: 'signature', audience: 'audience', nonce: 'nonce', unsigned: 'algorithm' };
  for (const m of BAD) {
    const bp = await (await browser.newContext(phone)).newPage();
    resp = await bp.goto(`${BASE}/my/login?idp=bad-${m}`);
    check(resp.status() === 401, `${m}: ${resp.status()} ${await bp.textContent('body')}`);
    const t = await bp.textContent('#signin-error');
    check(t.includes(words[m]), `${m}: ${t}`);
    check((await bp.context().cookies()).every((c) => c.name !== 'weft_citizen'), `${m}: a session was opened`);
  }

  // ---- the provider rotates its signing key ---------------------------------------------------------------------
  await stopProvider();
  await startProvider([opKey2, opKey1]);
  const rotated = await signIn(await browser.newContext(phone), 'p9user');
  check((await rotated.page.goto(BASE + '/my/record')).status() === 200, 'after key rotation');
} finally {
  await browser.close();
  hostile.close();
  if (opServer) await stopProvider().catch(() => {});
}

// ---- audit ----------------------------------------------------------------------------------------------------------
const denied = sql("SELECT count(*) FROM audit_entry WHERE action = 'launch' AND outcome = 'denied' AND client LIKE 'citizen:%'");
check(Number(denied) >= BAD.length, 'refused sign-ins audited: ' + denied);
check(Number(sql("SELECT count(*) FROM audit_entry WHERE outcome = 'denied' AND reason LIKE 'citizen form refused%'")) >= 3, 'CSRF refusals audited');
check(Number(sql("SELECT count(*) FROM audit_entry WHERE outcome = 'denied' AND reason LIKE '%without identity proofing P9%'")) >= 1, 'P5 refusal audited');
check(Number(sql("SELECT count(*) FROM audit_entry WHERE action = 'read' AND client IS NULL AND role IS NULL AND purpose = 'PATRQT'")) >= 1, 'citizen reads audited');
server.kill('SIGTERM');
const code = await new Promise((r) => (exited !== null ? r(exited) : server.on('exit', r)));
check(code === 0, 'weft serve exit ' + code + ': ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8').slice(-2000));
console.log(axeSummary.join('\n'));
console.log('ok');
