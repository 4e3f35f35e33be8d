// weft-test-backends: sqlite postgres
// citizen_tls.mjs - citizen sign-in against an OpenID provider served over
// https (issue 17: NHS login is HTTPS only), end to end: oidc-provider from
// npm behind node's https server, with a throwaway CA and server
// certificates made here with the openssl command; Weft trusts that CA
// through `weft serve --oidc-ca-file`; real Chromium (playwright-core).
//
// Checks: sign-in completes through discovery, token, JWKS and userinfo over
// https; a provider whose certificate names another host, and one whose
// certificate comes from a CA Weft does not trust, are refused with the clear
// "could not be signed in" page (502), the reason logged at WARN
// ("hostname mismatch", "certificate verify failed: ...") and nobody signed
// in; serve refuses an --oidc-ca-file that holds no certificate.
import {
  CHROMIUM_ARGS, ROOT, BIN, CHROMIUM, skip, fail, check, ASSETS, tmpDir, loadBrowser,
} from './lib/browser.mjs';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';

const TMP = tmpDir('weft-citls-');

const { chromium, axeSource, require } = loadBrowser();
let Provider;
try {
  Provider = (await import(require.resolve('oidc-provider'))).default;
} catch (e) {
  skip('skip: npm package oidc-provider missing (npm install): ' + e.message);
}
const DB = process.env.WEFT_TEST_DB || path.join(TMP, 'weft.db'); // PostgreSQL under --backend postgres
const GP = 'G82001';
function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stdout} ${r.stderr}`);
  return r;
}
const weft = (...args) => run(BIN, args).stdout;
const T = (f) => path.join(TMP, f);

// ---- certificates: a CA Weft trusts, one it does not; a cert for localhost and one for another name ----
function makeCa(name) {
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', T(name + '.key'), '-out', T(name + '.pem'),
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
}
function makeCert(name, ca, dns) {
  run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', T(name + '.key'), '-out', T(name + '.csr'), '-subj', `/CN=${dns}`]);
  fs.writeFileSync(T(name + '.ext'), `subjectAltName=DNS:${dns}\nextendedKeyUsage=serverAuth\n`);
  run('openssl', ['x509', '-req', '-in', T(name + '.csr'), '-CA', T(ca + '.pem'), '-CAkey', T(ca + '.key'), '-CAcreateserial',
    '-out', T(name + '.pem'), '-days', '2', '-extfile', T(name + '.ext')]);
}
makeCa('test-ca');
makeCa('other-ca');
makeCert('good', 'test-ca', 'localhost');
makeCert('wronghost', 'test-ca', 'op.invalid');
makeCert('untrusted', 'other-ca', 'localhost');

// ---- data: a GP record for the person ------------------------------------------------------------------
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
const NHS = nhsNumber(940000);
weft('init', '--db', DB);
weft('org', 'add', '--db', DB, '--ods', GP, '--name', 'Elm Street Surgery', '--type', 'gp');
weft('org', 'agreement', '--db', DB, '--ods', GP, '--kind', 'jca', '--from', '2020-01-01');
fs.writeFileSync(T('gp.json'), JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [
  { resource: { resourceType: 'Patient', id: 'pat-1', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: NHS }],
    name: [{ family: 'Secure', given: ['Sam'] }], birthDate: '1970-02-02' }, request: { method: 'PUT', url: 'Patient/pat-1' } }] }));
weft('load', '--db', DB, '--org', GP, T('gp.json'));

// ---- serve: an --oidc-ca-file without a certificate is refused at start ----------------------------------
fs.writeFileSync(T('empty.pem'), 'not a certificate\n');
const bad = spawnSync(BIN, ['serve', '--db', DB, '--http', '127.0.0.1:0', '--oidc-ca-file', T('empty.pem')], { encoding: 'utf8', timeout: 60000 });
check(bad.status !== 0 && /--oidc-ca-file: cannot read CA certificates/.test(bad.stderr), 'bad --oidc-ca-file: ' + bad.status + ' ' + bad.stderr);

const portFile = T('port');
const logPath = T('serve.log');
const log = fs.openSync(logPath, 'w');
const server = spawn(BIN, ['serve', '--db', DB, '--http', '127.0.0.1:0', '--port-file', portFile, '--assets', ASSETS,
  '--drop-interval', '0', '--dq-interval', '0', '--oidc-ca-file', T('test-ca.pem')], { stdio: ['ignore', log, log] });
let exited = null;
server.on('exit', (code) => { exited = code; });
for (let i = 0; !fs.existsSync(portFile); i++) {
  if (exited !== null || i > 1200) fail('weft serve did not start: ' + fs.readFileSync(logPath, 'utf8'));
  await new Promise((r) => setTimeout(r, 50));
}
const BASE = `http://127.0.0.1:${Number(fs.readFileSync(portFile, 'utf8').trim())}`;

// ---- three providers over https: good, wrong host name, untrusted CA ------------------------------------
const genKey = (kid, alg = 'RS256') => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    priv: { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg }, pub: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg } };
};
const weftKey = genKey('weft-1', 'RS512'), opKey = genKey('op-1');
fs.writeFileSync(T('weft-key.pem'), weftKey.pem);
const servers = [];
for (const name of ['good', 'wronghost', 'untrusted']) {
  const srv = https.createServer({ key: fs.readFileSync(T(name + '.key')), cert: fs.readFileSync(T(name + '.pem')) });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  servers.push(srv);
  const issuer = `https://localhost:${srv.address().port}`;
  const provider = new Provider(issuer, {
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
  provider.proxy = false;
  srv.on('request', provider.callback());
  weft('citizen-idp', 'add', '--db', DB, '--name', name, '--issuer', issuer, '--client-id', 'weft',
    '--key-file', T('weft-key.pem'), '--key-id', 'weft-1', '--redirect-uri', BASE + '/my/callback');
}

const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  // the browser is not what is under test: it may visit the providers' pages whatever their certificates
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await ctx.newPage();

  // refused: the provider's certificate names another host; then one from an untrusted CA
  for (const [name, logged] of [['wronghost', /WARN.*provider wronghost: hostname mismatch: the certificate of 'localhost:\d+' is not for 'localhost'/],
    ['untrusted', /WARN.*provider untrusted: certificate verify failed: [^\n]*from 'localhost:\d+'/]]) {
    const resp = await page.goto(BASE + '/my/login?idp=' + name);
    check(resp.status() === 502, `${name}: status ${resp.status()}`);
    const t = await page.textContent('#signin-error');
    check(t.includes('cannot be reached'), `${name}: ${t}`);
    check(logged.test(fs.readFileSync(logPath, 'utf8')), `${name}: no WARN with the reason in the log: ` + fs.readFileSync(logPath, 'utf8').slice(-2000));
    await page.goto(BASE + '/my');
    check(await page.locator('#signin-good').count() === 1, `${name}: someone is signed in`);
    check(!(await ctx.cookies()).some((c) => /session/i.test(c.name)), `${name}: a session cookie was set`);
  }
  check(!fs.readFileSync(logPath, 'utf8').includes(NHS), 'the NHS number is in the log');

  // signed in through the provider whose certificate Weft trusts
  await page.goto(BASE + '/my');
  await page.click('#signin-good');
  await page.fill('input[name=login]', 'p9user');
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  await page.click('button[type=submit]');
  await page.waitForURL(BASE + '/my');
  check(await page.locator('#signin-good').count() === 0, 'still offered sign-in after signing in');
  const body = await page.textContent('body');
  check(body.includes('Sign out') && body.includes('Your record at a glance'), 'not signed in: ' + body.slice(0, 500));
  console.log('citizen_tls: ok (https sign-in with the operator CA; wrong host and untrusted CA refused)');
} finally {
  await browser.close();
  for (const s of servers) s.close();
  server.kill('SIGTERM');
}
