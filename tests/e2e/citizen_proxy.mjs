// weft-test-backends: sqlite postgres
// citizen_proxy.mjs - proxy access on the citizen's pages (issue 17), end to
// end: staff grant a parent proxy access to their child's record with
// `weft proxy grant` (the grant id alone on stdout; a role without the
// policy's proxy-grant capability refused and audited); the parent signs in
// through a real OpenID provider (oidc-provider from npm, in place of NHS
// login) in real Chromium (playwright-core), sees "records you can view",
// switches to the child's record under a clear banner, sees it with the
// citizen-withhold rules applied, is refused (403, audited) what the grant's
// scope leaves out (objections, copies), and switches back; a carer whose
// grant holds the copy scope asks for a copy of the person's record.  Every proxied
// view is audited as the proxy acting for the child (`weft audit list`:
// client=proxy-grant:ID, purpose FAMRQT), and the child's "who viewed my
// record" page shows it as a proxy view.  A revoked grant and an expired one
// are refused at once with a clear page and audited; a switch to someone
// else's grant and a switch without the CSRF token are refused.  axe-core on
// every page.
import {
  CHROMIUM_ARGS, ROOT, BIN, CHROMIUM, skip, fail, check, ASSETS, tmpDir, artDir, loadBrowser, weft,
} from './lib/browser.mjs';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const TMP = tmpDir('weft-proxy-');
const ART = artDir('proxy');

const { chromium, axeSource, require } = loadBrowser();
let Provider;
try {
  Provider = (await import(require.resolve('oidc-provider'))).default;
} catch (e) {
  skip('skip: npm package oidc-provider missing (npm install): ' + e.message);
}

// the database: a PostgreSQL one when the runner gives it (WEFT_TEST_DB), else a file
const DB = process.env.WEFT_TEST_DB || path.join(TMP, 'weft.db');
const PG = /^postgres(ql)?:/.test(DB);
const GP = 'G82001';
function run(...args) { return spawnSync(BIN, args, { encoding: 'utf8', timeout: 120000 }); }
// Only to move a grant's end day into the past (time passing): either backend.
function sql(q) {
  const r = PG ? spawnSync('psql', [DB, '-At', '-c', q], { encoding: 'utf8' })
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
const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
const NHS_PARENT = nhsNumber(710000), NHS_CHILD = nhsNumber(720000), NHS_OTHER = nhsNumber(730000), NHS_NAN = nhsNumber(740000);

// ---- Weft: a GP practice, records of the parent, the child and two others -----------------------
weft('init', '--db', DB);
weft('org', 'add', '--db', DB, '--ods', GP, '--name', 'Elm Street Surgery', '--type', 'gp');
weft('org', 'agreement', '--db', DB, '--ods', GP, '--kind', 'jca', '--from', '2020-01-01');
const obs = (pid, id, text, cat) => ({ resource: { resourceType: 'Observation', id, status: 'final', code: { text },
  subject: { reference: 'Patient/' + pid }, effectiveDateTime: '2025-03-01T09:00:00Z',
  meta: { tag: [{ system: 'urn:weft:category', code: cat }] } }, request: { method: 'PUT', url: 'Observation/' + id } });
const patient = (pid, nhs, given) => ({ resource: { resourceType: 'Patient', id: pid,
  identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs }], name: [{ family: 'Citizen', given: [given] }],
  birthDate: '2015-02-02' }, request: { method: 'PUT', url: 'Patient/' + pid } });
const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [
  patient('pat-parent', NHS_PARENT, 'Alex'), obs('pat-parent', 'p-1', 'PARENT-OWN-READING', 'observations'),
  patient('pat-child', NHS_CHILD, 'Sam'), obs('pat-child', 'c-1', 'CHILD-WEIGHT-31KG', 'observations'),
  obs('pat-child', 'c-2', 'CHILD-SAFEGUARDING-TEXT', 'safeguarding'),
  patient('pat-other', NHS_OTHER, 'Jo'), patient('pat-nan', NHS_NAN, 'Nan')] };
fs.writeFileSync(path.join(TMP, 'gp.json'), JSON.stringify(bundle));
weft('load', '--db', DB, '--org', GP, path.join(TMP, 'gp.json'));

// ---- grants on the command line --------------------------------------------------------------------
const grant = (...extra) => run('proxy', 'grant', '--db', DB, '--proxy-nhs', NHS_PARENT, '--for-nhs', NHS_CHILD,
  '--basis', 'parent', '--reason', 'parent of a child under 11', '--by', 'gp-1', ...extra);
let r = grant('--scope', 'view', '--until', day(30), '--role', 'R8009');
check(r.status === 1 && r.stderr.includes('proxy-grant') && r.stdout === '', 'a receptionist granted: ' + r.status + r.stderr);
r = grant('--scope', 'view,edit', '--until', day(30), '--role', 'R8000');
check(r.status === 2 && r.stderr.includes('scope'), 'a bad scope: ' + r.status + r.stderr);
r = grant('--scope', 'view', '--until', day(-1), '--role', 'R8000');
check(r.status === 2 && r.stderr.includes('end date'), 'an end date in the past: ' + r.status + r.stderr);
r = grant('--scope', 'view', '--until', day(30), '--role', 'R8000', '--name', 'Sam Citizen');
check(r.status === 0 && /^\d+\n$/.test(r.stdout), 'grant prints the id alone: ' + JSON.stringify(r.stdout) + r.stderr);
const G1 = r.stdout.trim();
// the parent also cares for Nan (with her consent); a grant between two others
const G2 = weft('proxy', 'grant', '--db', DB, '--proxy-nhs', NHS_PARENT, '--for-nhs', NHS_NAN, '--scope', 'view,copy',
  '--basis', 'consent', '--reason', 'her carer, with her written consent', '--until', day(0), '--by', 'gp-1', '--role', 'R8000').trim();
const G3 = weft('proxy', 'grant', '--db', DB, '--proxy-nhs', NHS_OTHER, '--for-nhs', NHS_CHILD, '--scope', 'view',
  '--basis', 'lpa', '--reason', 'attorney', '--until', day(30), '--by', 'gov-1', '--role', 'R0001').trim();
let list = weft('proxy', 'list', '--db', DB, '--nhs', NHS_PARENT);
check(list.includes(`${G1} `) && list.includes(`${G2} `) && !list.includes(`\n${G3} `) && list.includes('active'), 'proxy list: ' + list);
check(weft('audit', 'list', '--db', DB, '--nhs', NHS_CHILD).includes('reason="proxy access change refused'), 'refused grant audited');

// ---- Weft serve and the OpenID provider ---------------------------------------------------------------
const genKey = (kid, alg = 'RS256') => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    priv: { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg },
    pub: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg } };
};
const weftKey = genKey('weft-1', 'RS512'), opKey = genKey('op-1');
fs.writeFileSync(path.join(TMP, 'weft-key.pem'), weftKey.pem);
const portFile = path.join(TMP, 'port');
const log = fs.openSync(path.join(TMP, 'serve.log'), 'w');
const server = spawn(BIN, ['serve', '--db', DB, '--http', '127.0.0.1:0', '--port-file', portFile, '--assets', ASSETS], { stdio: ['ignore', log, log] });
let exited = null;
server.on('exit', (code) => { exited = code; });
for (let i = 0; !fs.existsSync(portFile); i++) {
  if (exited !== null || i > 1200) fail('weft serve did not start: ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8'));
  await new Promise((res) => setTimeout(res, 50));
}
const BASE = `http://127.0.0.1:${Number(fs.readFileSync(portFile, 'utf8').trim())}`;
const accounts = { parent: { nhs_number: NHS_PARENT, identity_proofing_level: 'P9' },
  child: { nhs_number: NHS_CHILD, identity_proofing_level: 'P9' } };
const opServer = http.createServer();
await new Promise((res) => opServer.listen(0, '127.0.0.1', res));
const ISS = `http://127.0.0.1:${opServer.address().port}`;
const provider = new Provider(ISS, {
  clients: [{ client_id: 'weft', redirect_uris: [BASE + '/my/callback'], grant_types: ['authorization_code'],
    response_types: ['code'], token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'RS512', jwks: { keys: [weftKey.pub] } }],
  jwks: { keys: [opKey.priv] },
  claims: { openid: ['sub'], profile: ['nhs_number', 'identity_proofing_level'] },
  findAccount: async (ctx, id) => accounts[id] ? { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) } : undefined,
  pkce: { required: () => true },
  enabledJWA: { clientAuthSigningAlgValues: ['RS512', 'RS256'] },
  cookies: { keys: ['test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
});
opServer.on('request', provider.callback());
weft('citizen-idp', 'add', '--db', DB, '--name', 'nhs', '--issuer', ISS, '--client-id', 'weft',
  '--key-file', path.join(TMP, 'weft-key.pem'), '--key-id', 'weft-1', '--redirect-uri', BASE + '/my/callback');

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
async function signIn(who) {
  const ctx = await browser.newContext({ viewport: { width: 375, height: 740 }, bypassCSP: true });
  const page = await ctx.newPage();
  await page.goto(BASE + '/my');
  await page.click('#signin-nhs');
  await page.fill('input[name=login]', who);
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  await page.click('button[type=submit]'); // consent
  await page.waitForURL(BASE + '/my');
  return { ctx, page };
}
const auditChild = () => weft('audit', 'list', '--db', DB, '--nhs', NHS_CHILD, '--limit', '1000');
const auditLines = (want) => auditChild().split('\n').filter((l) => want.every((w) => l.includes(w)));

try {
  // ---- the parent: records they can view, the switch, the banner ------------------------------------
  const { ctx, page } = await signIn('parent');
  check(await page.locator('#records-you-can-view').count() === 1, 'no "records you can view"');
  check(await page.locator(`#switch-${G1}`).count() === 1 && await page.locator(`#switch-${G2}`).count() === 1, 'switch buttons');
  check(await page.locator(`#switch-${G3}`).count() === 0, "another proxy's grant offered");
  check((await page.textContent(`#switch-${G1}`)).includes("Sam Citizen's record"), 'named by the grant');
  check(await page.locator('#proxy-banner').count() === 0, 'banner on their own home page');
  await axe(page, 'home-with-grants');
  await page.click(`#switch-${G1}`);
  await page.waitForURL(BASE + '/my');
  const asCookie = (await ctx.cookies()).find((c) => c.name === 'weft_citizen_as');
  check(asCookie && asCookie.httpOnly && asCookie.sameSite === 'Lax', 'switch cookie flags: ' + JSON.stringify(asCookie));
  check((await page.textContent('#proxy-banner')).includes("You are viewing Sam Citizen's record as their proxy"), 'banner');
  await axe(page, 'home-as-proxy');
  // the menu offers what the scope allows (view only)
  const nav = await page.textContent('nav.weft-nav');
  check(nav.includes('Your record') && !nav.includes('Objecting') && !nav.includes('Get a copy'), 'menu by scope: ' + nav);
  let resp = await page.goto(BASE + '/my/record');
  check(resp.status() === 200, 'proxied record: ' + resp.status());
  let text = await page.textContent('main');
  check(text.includes("You are viewing Sam Citizen's record as their proxy"), 'banner on the record');
  check(text.includes('CHILD-WEIGHT-31KG') && text.includes('Elm Street Surgery'), 'the child\'s record');
  check(!text.includes('PARENT-OWN-READING'), "the parent's own record shown as the child's");
  check(!text.includes('CHILD-SAFEGUARDING-TEXT') && text.includes('Some information is not shown'), 'withholding rules for the proxy');
  await axe(page, 'record-as-proxy');
  const viewLines = auditLines(['\tread\tsuccess\t', `client=proxy-grant:${G1}`, 'purpose=FAMRQT', 'user=parent']);
  check(viewLines.length >= 1, 'proxied view not audited as the proxy acting for the child:\n' + auditChild());

  // ---- outside the scope: objections, copies ------------------------------------------------------------
  resp = await page.goto(BASE + '/my/objection');
  check(resp.status() === 403 && (await page.textContent('#proxy-refused')).includes('objections'), 'objection page: ' + resp.status());
  await axe(page, 'objection-refused');
  const csrf = await page.getAttribute('#proxy-banner input[name=csrf]', 'value');
  r = await page.request.post(BASE + '/my/objection', { form: { csrf, org: GP, reason: 'FORGED-OBJECTION' } });
  check(r.status() === 403, 'objection lodged without the objection scope: ' + r.status());
  r = await page.request.post(BASE + '/my/copy', { form: { csrf } });
  check(r.status() === 403 && (await r.text()).includes('asking for a copy'), 'copy without the copy scope: ' + r.status());
  check(weft('sar', 'list', '--db', DB).split('\n').filter((l) => /^\d/.test(l)).length === 0, 'a copy was requested');
  // a person's own contributions are theirs alone: no grant lets a proxy add to them
  resp = await page.goto(BASE + '/my/contribute');
  check(resp.status() === 403 && (await page.textContent('#proxy-refused')).includes('Only the person'), 'contribute page as a proxy: ' + resp.status());
  check(!(await page.content()).includes('href="/my/contribute"'), 'the menu offers a proxy "Add to it"');
  r = await page.request.post(BASE + '/my/contribute', { form: { csrf, kind: 'weight', value: '70', when: '2026-01-01T10:00' } });
  check(r.status() === 403, 'a contribution posted as a proxy: ' + r.status());
  check(!weft('objection', 'show', '--db', DB, '--nhs', NHS_CHILD).includes('FORGED-OBJECTION'), 'an objection was lodged');
  check(auditLines(['\tdenial\tdenied\t', `client=proxy-grant:${G1}`, 'outside the grant']).length >= 3, 'scope refusals audited');

  // ---- CSRF, someone else's grant ---------------------------------------------------------------------------
  r = await page.request.post(BASE + '/my/switch', { form: { grant: G1 } });
  check(r.status() === 403 && (await r.text()).includes('csrf-refused'), 'switch without csrf: ' + r.status());
  r = await page.request.post(BASE + '/my/switch', { form: { csrf, grant: G3 }, maxRedirects: 0 });
  const body3 = await r.text();
  check(r.status() === 403 && body3.includes('proxy-refused') && !body3.includes('proxy-banner'), "switch to another's grant: " + r.status());

  // ---- back to their own record -------------------------------------------------------------------------------
  await page.goto(BASE + '/my');
  check(await page.locator('#proxy-banner').count() === 0, 'the refused switch left the banner');
  await page.click(`#switch-${G1}`);
  await page.waitForURL(BASE + '/my');
  await page.click('#switch-own');
  await page.waitForURL(BASE + '/my');
  check(await page.locator('#proxy-banner').count() === 0, 'banner after switching back');
  await page.goto(BASE + '/my/record');
  text = await page.textContent('main');
  check(text.includes('PARENT-OWN-READING') && !text.includes('CHILD-WEIGHT-31KG'), 'own record after switching back');

  // ---- the child sees the proxy's view on "who viewed my record" ----------------------------------------------
  const child = await signIn('child');
  resp = await child.page.goto(BASE + '/my/viewers');
  const rows = await child.page.locator('#viewers tbody tr').allTextContents();
  check(rows.some((x) => x.includes('Your proxy') && x.includes('a parent acting for you')), 'proxy view on the viewers page: ' + JSON.stringify(rows));
  await axe(child.page, 'viewers-proxy-view');

  // ---- revoked: refused at once ---------------------------------------------------------------------------------
  await page.goto(BASE + '/my');
  await page.click(`#switch-${G1}`);
  await page.waitForURL(BASE + '/my');
  check((await page.goto(BASE + '/my/record')).status() === 200, 'before revocation');
  const revoked = weft('proxy', 'revoke', '--db', DB, '--id', G1, '--by', 'gp-1', '--role', 'R8000', '--reason', 'the court gave sole responsibility to the other parent');
  check(revoked.includes('revoked'), 'revoke: ' + revoked);
  resp = await page.goto(BASE + '/my/record');
  check(resp.status() === 403 && (await page.textContent('#proxy-refused')).includes('revoked'), 'revoked grant: ' + resp.status());
  check(!(await page.textContent('main')).includes('CHILD-WEIGHT-31KG'), 'revoked grant still shows the record');
  await axe(page, 'revoked');
  check(auditLines(['\tdenial\tdenied\t', `client=proxy-grant:${G1}`, 'the grant was revoked']).length >= 1, 'revoked refusal audited');
  resp = await page.goto(BASE + '/my/record');
  text = await page.textContent('main');
  check(resp.status() === 200 && text.includes('PARENT-OWN-READING') && await page.locator('#proxy-banner').count() === 0, 'back on their own record after the refusal');
  await page.goto(BASE + '/my');
  check(await page.locator(`#switch-${G1}`).count() === 0, 'a revoked grant still offered');
  r = await page.request.post(BASE + '/my/switch', { form: { csrf, grant: G1 }, maxRedirects: 0 });
  check(r.status() === 403 && (await r.text()).includes('revoked'), 'switch to a revoked grant: ' + r.status());

  // ---- expired: the end day passes while the proxy is acting ------------------------------------------------------
  await page.click(`#switch-${G2}`);
  await page.waitForURL(BASE + '/my');
  check((await page.textContent('#proxy-banner')).includes('NHS number'), 'a grant without a name is named by NHS number');
  check((await page.goto(BASE + '/my/record')).status() === 200, 'consent grant, last day today');
  // this grant holds the copy scope: the carer asks for a copy of Nan's record
  check((await page.textContent('nav.weft-nav')).includes('Get a copy'), 'copy offered by the copy scope');
  await page.goto(BASE + '/my/copy');
  await axe(page, 'copy-as-proxy');
  await page.click('#ask-copy');
  check((await page.textContent('#copy-message')).includes('has been sent'), 'copy asked for as a proxy');
  const sars = weft('sar', 'list', '--db', DB, '--nhs', NHS_NAN).split('\n').filter((l) => /^\d/.test(l));
  check(sars.length === 1, 'the copy request is for Nan: ' + sars.join('\n'));
  sql(`UPDATE proxy_grant SET until = '${day(-1)}' WHERE id = ${G2}`);
  resp = await page.goto(BASE + '/my/record');
  check(resp.status() === 403 && (await page.textContent('#proxy-refused')).includes('ended'), 'expired grant: ' + resp.status());
  await axe(page, 'expired');
  const nanAudit = weft('audit', 'list', '--db', DB, '--nhs', NHS_NAN, '--limit', '1000');
  check(nanAudit.split('\n').some((l) => l.includes('\tdenial\tdenied\t') && l.includes(`client=proxy-grant:${G2}`) && l.includes('expired')), 'expired refusal audited:\n' + nanAudit);
  check(nanAudit.split('\n').some((l) => l.includes('\tread\tsuccess\t') && l.includes(`client=proxy-grant:${G2}`) && l.includes('purpose=SUPNWK')), 'consent view audited');
  list = weft('proxy', 'list', '--db', DB);
  check(new RegExp(`^${G1} .* revoked`, 'm').test(list) && new RegExp(`^${G2} .* expired`, 'm').test(list) &&
        new RegExp(`^${G3} .* active`, 'm').test(list) && list.includes('the court gave sole responsibility'), 'list statuses: ' + list);
} finally {
  await browser.close();
  opServer.closeAllConnections();
  await new Promise((res) => opServer.close(res));
}
server.kill('SIGTERM');
const code = await new Promise((res) => (exited !== null ? res(exited) : server.on('exit', res)));
check(code === 0, 'weft serve exit ' + code + ': ' + fs.readFileSync(path.join(TMP, 'serve.log'), 'utf8').slice(-2000));
check(spawnSync(BIN, ['audit', 'verify', '--db', DB], { encoding: 'utf8' }).status === 0, 'audit log intact');
console.log(axeSummary.join('\n'));
console.log('ok');
