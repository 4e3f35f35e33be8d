// web_admin.mjs - the data-quality pages and the governance console in a
// weft-test-backends: sqlite postgres
// real browser (Debian's chromium via playwright-core, axe-core on every page).
//
// A 150-person synthetic region (its GP and community FHIR feeds loaded with
// weft load), two data-quality runs (a trend of two), weft serve, and staff
// launched by a registered host system (HS256 tokens signed here):
//   - a Privacy Officer (R0001): /admin/dq lists every organisation's scores;
//     an organisation's report has the scores, the trend chart (server-drawn
//     SVG with a title), the checks and the failing records with the
//     sources' identifiers; the CSV download has the contract's header;
//   - an Information Officer (R8012) of one practice: sent straight to their
//     own organisation's report; another organisation's report and the
//     governance console are refused (403); a clinician (R8000) is refused;
//   - break-glass by a clinician, then the Privacy Officer records the review
//     (inappropriate + note) and the page shows the outcome and reviewer;
//   - who viewed a record by NHS number lists the clinician's emergency
//     access; agreements, feeds health, the policy matrix (restricted
//     categories marked) and its history; verify the audit chain now;
//   - objections and subject access requests (logged with weft objection /
//     weft sar): the open objections and the requests with their due dates,
//     the overdue ones (lodged / received 2026-09-10) flagged; refused to the
//     Information Officer; the page views audited.
// Screenshots in $WEFT_ARTIFACTS/web-admin/.  Skips (77) without chromium or npm packages.
import {
  CHROMIUM_ARGS, ROOT, BIN, CHROMIUM, skip, fail, check, ASSETS, tmpDir, artDir, loadBrowser, weft,
} from './lib/browser.mjs';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const TMP = tmpDir('weft-admin-');
const ART = artDir('web-admin');
const HEADER = 'check,dimension,resource_type,source_id,patient_local_id,message_control_id,detail';

const { chromium, axeSource, require } = loadBrowser();

// ---- data: a small region, its FHIR feeds loaded, two data-quality runs -------------------
const DB = process.env.WEFT_TEST_DB || path.join(TMP, 'weft.db'); // PostgreSQL under --backend postgres
const REG = path.join(TMP, 'region');
weft('synth', '--people', '150', '--seed', '5', '--out', REG, '--quiet');
weft('init', '--db', DB);
weft('synth', 'register', '--db', DB, '--in', REG, '--drop-root', path.join(TMP, 'drop'));
const manifest = JSON.parse(fs.readFileSync(path.join(REG, 'manifest.json'), 'utf8'));
const gps = [];
for (const o of manifest.organisations)
  for (const f of o.feeds)
    if (f.kind === 'fhir' && f.files.length && (o.type === 'gp' || o.type === 'community')) {
      // each NDJSON line is one bundle as the feed POSTs it: one file each for weft load
      const dir = path.join(TMP, 'bundles', o.ods);
      fs.mkdirSync(dir, { recursive: true });
      let k = 0;
      for (const file of f.files)
        for (const line of fs.readFileSync(path.join(REG, file), 'utf8').split('\n'))
          if (line.trim()) fs.writeFileSync(path.join(dir, `${String(++k).padStart(5, '0')}.json`), line);
      const r = spawnSync(BIN, ['load', '--db', DB, '--org', o.ods, '--feed', f.name, '--quiet', dir], { encoding: 'utf8' });
      check(r.status === 0 || r.status === 1, `load ${o.ods}: ${r.stderr}`); // 1: the injected malformed bundles
      if (o.type === 'gp') gps.push(o.ods);
    }
check(gps.length >= 2, 'region has fewer than two GP practices');
weft('dq', 'run', '--db', DB, '--as-of', '2026-11-01');
weft('dq', 'run', '--db', DB, '--as-of', '2026-11-01');
// two people registered at the first practice with an NHS number
const recs = fs.readFileSync(path.join(REG, 'truth/records.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
const nhsAt = recs.filter((r) => r[1] === gps[0] && /^\d{10}$/.test(r[5]) && r[6] !== '1').map((r) => r[5]);
check(nhsAt.length >= 2, 'no NHS numbers at ' + gps[0]);
const [NHS_A, NHS_B] = nhsAt;

// ---- objections and subject access requests, logged on the command line ------------------
// NHS_C: an objection lodged today (due in a month); NHS_D: an objection recorded as lodged
// on 2026-09-10 (due 2026-10-10, so overdue); NHS_C: a request received today, extended a
// month; NHS_D: a request received 2026-09-10 (due 2026-10-10, overdue).
check(nhsAt.length >= 4, 'fewer than four NHS numbers at ' + gps[0]);
const [, , NHS_C, NHS_D] = nhsAt;
const fmtNhs = (n) => `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
weft('objection', 'lodge', '--db', DB, '--nhs', NHS_C, '--org', gps[0], '--reason', 'Does not want the hospital to see GP notes');
weft('objection', 'set', '--db', DB, '--nhs', NHS_D, '--status', 'lodged', '--date', '2026-09-10');
const objC = weft('objection', 'show', '--db', DB, '--nhs', NHS_C).match(/lodged (\S+) with \S+ {2}due (\d{4}-\d\d-\d\d)/);
check(objC, 'objection show: no lodged case');
const [, lodgedC, dueObjC] = objC;
check(new Date(dueObjC) > new Date(lodgedC.slice(0, 10)), `objection due ${dueObjC} not after lodging ${lodgedC}`);
const todayUtc = new Date().toISOString().slice(0, 10);
const sarC = weft('sar', 'create', '--db', DB, '--nhs', NHS_C, '--received', todayUtc).trim();
const dueSarC = weft('sar', 'extend', '--db', DB, '--id', sarC, '--months', '1', '--reason', 'Records held by many sources').match(/due (\S+)/)[1];
weft('sar', 'create', '--db', DB, '--nhs', NHS_D, '--received', '2026-09-10');
const SECRET = crypto.randomBytes(32).toString('hex');
fs.writeFileSync(path.join(TMP, 'epr.secret'), SECRET);
const HOSP = 'RVV';
weft('launcher', 'add', '--db', DB, '--name', 'epr', '--org', HOSP, '--issuer', 'iss-epr', '--alg', 'HS256', '--secret-file', path.join(TMP, 'epr.secret'));
weft('launcher', 'add', '--db', DB, '--name', 'gp-system', '--org', gps[0], '--issuer', 'iss-gp', '--alg', 'HS256', '--secret-file', path.join(TMP, 'epr.secret'));

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
function token(role, patient, over = {}) {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = { iss: 'iss-epr', aud: 'weft', iat: now, nbf: now, exp: now + 240, jti: `adm-${process.pid}-${now}-${++jti}`,
    sub: 'user-' + role, name: 'Test ' + role, role, org: HOSP, patient, purpose: 'TREAT', ...over };
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

  // ---- a clinician opens a record, then breaks glass for another person -------------------
  let page = await freshPage();
  let resp = await page.goto(`${BASE}/launch?token=${token('R8000', NHS_B, { sub: 'doc-b' })}`);
  check(resp.status() === 200, 'clinician launch B: ' + resp.status());
  const personB = new URL(page.url()).pathname.split('/')[2];
  page = await freshPage();
  resp = await page.goto(`${BASE}/launch?token=${token('R8000', NHS_A, { sub: 'doc-glass', name: 'Dr Glass' })}`);
  check(resp.status() === 200, 'clinician launch A: ' + resp.status());
  await visit(page, '/admin/dq', 403, 'clinician-dq-refused');
  resp = await page.goto(`${BASE}/patient/${personB}/break-glass`);
  check(resp.status() === 200, 'break-glass form: ' + resp.status());
  await page.check('input[value="emergency-care"]');
  await page.fill('#reason-text', 'Unconscious in the emergency department');
  await Promise.all([page.waitForNavigation(), page.click('#break-glass-form button[type=submit]')]);
  check(new URL(page.url()).pathname === `/patient/${personB}`, 'break-glass did not open B: ' + page.url());

  // ---- the Privacy Officer ------------------------------------------------------------------
  page = await freshPage();
  resp = await page.goto(`${BASE}/launch?token=${token('R0001', NHS_A, { sub: 'po-1', name: 'Pat Privacy' })}`);
  check(resp.status() === 200 || resp.status() === 403, 'privacy officer launch: ' + resp.status());
  let t = await visit(page, '/admin/dq', 200, 'dq-index');
  for (const ods of gps) check(t.includes(ods), 'dq index lacks ' + ods);
  t = await visit(page, `/admin/dq/${gps[0]}`, 200, 'dq-report');
  for (const want of ['Scores', 'Overall', 'completeness', 'Trend', 'Checks', 'nhs-present', 'Failing records'])
    check(t.includes(want), 'report lacks ' + want);
  check(await page.locator('svg[role=img] title').count() >= 1, 'no trend chart (svg with title)');
  const points = await page.locator('svg[role=img] circle, svg[role=img] path, svg[role=img] rect').count();
  check(points >= 2, 'trend chart has no marks');
  const csv = await page.request.get(`${BASE}/admin/dq/${gps[0]}/failures.csv`);
  check(csv.status() === 200, 'csv status ' + csv.status());
  const csvText = await csv.text();
  check(csvText.split('\n')[0] === HEADER, 'csv header: ' + csvText.split('\n')[0]);
  t = await visit(page, '/admin/governance', 200, 'gov-index');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/admin/governance/audit/verify"] button')]);
  t = await text(page);
  check(/intact, \d+ entries/.test(await page.locator('#last-verify').innerText()), 'verify now: ' + t.slice(0, 400));
  await axe(page, 'gov-verified');
  t = await visit(page, '/admin/governance/breakglass', 200, 'gov-breakglass');
  check(/1 emergency access event\(s\); 1 not reviewed/.test(t), 'break-glass list: ' + t.slice(0, 400));
  check(t.includes('Dr Glass') && t.includes('Unconscious in the emergency department'), 'break-glass entry: ' + t.slice(0, 600));
  const card = page.locator('.nhsuk-card').first();
  await card.locator('input[value="inappropriate"]').check();
  await card.locator('textarea').fill('No emergency recorded at that time; referred to line manager');
  await Promise.all([page.waitForNavigation(), card.locator('button[type=submit]').click()]);
  t = await text(page);
  check(/0 not reviewed/.test(t) && t.includes('inappropriate') && t.includes('Pat Privacy') && t.includes('referred to line manager'), 'review not shown: ' + t.slice(0, 800));
  await snap(page, 'gov-breakglass-reviewed');
  await axe(page, 'gov-breakglass-reviewed');
  t = await visit(page, `/admin/governance/access?nhs=${NHS_B}`, 200, 'gov-access');
  check(t.includes('break-glass') && t.includes('Dr Glass') && t.includes('emergency access'), 'who viewed: ' + t.slice(0, 800));
  t = await visit(page, '/admin/governance/access?nhs=1234567890', 200, 'gov-access-invalid');
  check(t.includes('is not a valid NHS number'), 'invalid NHS number not reported');
  t = await visit(page, '/admin/governance/agreements', 200, 'gov-agreements');
  check(t.includes('All agreements') && t.includes(gps[0]), 'agreements page: ' + t.slice(0, 300));
  t = await visit(page, '/admin/governance/feeds', 200, 'gov-feeds');
  check(t.includes(gps[0].toLowerCase() + '-fhir'), 'feeds page lacks the GP feed');
  t = await visit(page, '/admin/governance/policy', 200, 'gov-policy');
  check(t.includes('mental-health-act (restricted)') && t.includes('R0001') && t.includes('dq-review'), 'policy matrix: ' + t.slice(0, 400));
  check(await page.locator('#history tbody tr').count() >= 1, 'policy history empty');
  t = await visit(page, '/admin/governance/requests', 200, 'gov-requests');
  check(/2 open objection\(s\), 1 overdue/.test(t) && /2 request\(s\), 1 overdue/.test(t), 'requests summary: ' + t.slice(0, 600));
  const cells = async (table, nhs) => {
    const row = page.locator(`#${table} tbody tr`, { hasText: fmtNhs(nhs) });
    check(await row.count() === 1, `${table}: no single row for ${nhs}`);
    return row.locator('th, td').allInnerTexts();
  };
  let c = await cells('objections', NHS_C);
  check(c[1] === gps[0] && c[2] === 'Does not want the hospital to see GP notes' && c[3] === lodgedC.slice(0, 10) && c[4] === dueObjC && c[5] === 'No', 'objection C row: ' + c.join(' | '));
  c = await cells('objections', NHS_D);
  check(c[3] === '2026-09-10' && c[4] === '2026-10-10' && c[5] === 'OVERDUE', 'objection D row: ' + c.join(' | '));
  check(await page.locator('#objections tbody tr.weft-overdue strong').count() === 1, 'overdue objection not flagged in bold');
  c = await cells('sars', NHS_C);
  check(c[1] === todayUtc && c[2] === dueSarC && c[3] === 'extended' && c[4] === 'Records held by many sources' && c[5] === 'No', 'SAR C row: ' + c.join(' | '));
  c = await cells('sars', NHS_D);
  check(c[1] === '2026-09-10' && c[2] === '2026-10-10' && c[3] === 'open' && c[5] === 'OVERDUE', 'SAR D row: ' + c.join(' | '));

  // ---- an Information Officer of one practice --------------------------------------------
  page = await freshPage();
  resp = await page.goto(`${BASE}/launch?token=${token('R8012', NHS_A, { sub: 'io-1', org: gps[0], iss: 'iss-gp' })}`);
  check(resp.status() === 200, 'information officer launch: ' + resp.status());
  resp = await page.goto(`${BASE}/admin/dq`);
  check(resp.status() === 200 && new URL(page.url()).pathname === `/admin/dq/${gps[0]}`, 'information officer not sent to own report: ' + page.url());
  await axe(page, 'dq-own');
  await visit(page, `/admin/dq/${gps[1]}`, 403, 'dq-other-refused');
  const other = await page.request.get(`${BASE}/admin/dq/${gps[1]}/failures.csv`);
  check(other.status() === 403, 'other org csv: ' + other.status());
  await visit(page, '/admin/governance', 403, 'gov-refused');
  t = await visit(page, '/admin/governance/requests', 403, 'gov-requests-refused');
  check(![NHS_C, NHS_D].some((n) => t.includes(fmtNhs(n)) || t.includes(n)) && !t.includes('2026-10-10') && !t.includes('GP notes'), 'refused role saw requests: ' + t.slice(0, 400));

  // ---- no session ---------------------------------------------------------------------------
  page = await freshPage();
  await visit(page, '/admin/dq', 401, 'dq-no-session');
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
    const reads = weft('audit', 'list', '--db', DB, '--limit', '1000');
    check(/what=dq:/.test(reads), 'data-quality page views not audited');
    check(/breakglass-review/.test(reads), 'break-glass review not audited');
    check(/what=audit-log/.test(reads), 'who-viewed lookup not audited');
    check(/what=objections-queue/.test(reads) && /what=subject-access-requests/.test(reads), 'objections / requests page view not audited');
    weft('audit', 'verify', '--db', DB);
  } catch (e) { failures++; console.error(e.message); }
}
if (failures) process.exit(1);
console.log('web_admin: all checks passed; screenshots in ' + ART);
