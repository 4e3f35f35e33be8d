// interop_search_shape.mjs - result shaping of FHIR search (issue 21) with
// weft-test-backends: sqlite postgres
// two real clients from npm: the SMART JavaScript client (fhirclient, its
// Node entry, with a bearer token) and fhir-kit-client, against the running
// server: medications with their Medication (_include), an encounter with
// its observations (_revinclude), :iterate, $everything?_type=Condition and
// start/end, _summary=count/true, _elements=id,code (SUBSETTED, mandatory
// status kept).  Then the scope: a launched social care practitioner (whose
// role does not cover results or observations) asking for the same
// _revinclude gets the encounter without the observations, a clinician gets
// them, and the audit entries list exactly what each was sent.
import { createHmac, randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = process.env.WEFT_ROOT || process.cwd();
const bin = process.env.WEFT_BIN || path.join(root, 'build/san/weft');
const tmp = process.env.WEFT_TMP || '/tmp';

let Client, smart;
try {
  ({ Client } = await import('fhir-kit-client'));
  smart = (await import('fhirclient')).default;
} catch (e) {
  console.log('skip: fhir-kit-client or fhirclient is not installed (run npm install)');
  process.exit(77);
}

let failures = 0;
function check(cond, msg) {
  if (!cond) {
    console.log('FAIL: ' + msg);
    failures++;
  }
}

const db = process.env.WEFT_TEST_DB || path.join(tmp, 'shape.db');
const weft = (...args) => execFileSync(bin, args, { encoding: 'utf8' }).trim();
weft('init', '--db', db);
weft('org', 'add', '--db', db, '--ods', 'RYR', '--name', 'Org RYR', '--type', 'acute');
weft('org', 'agreement', '--db', db, '--ods', 'RYR', '--kind', 'jca', '--from', '2020-01-01');
const token = weft('client', 'add', '--db', db, '--name', 'shape', '--org', 'RYR', '--write');
const secret = randomBytes(32).toString('hex');
const secretFile = path.join(tmp, 'launcher.secret');
writeFileSync(secretFile, secret);
weft('launcher', 'add', '--db', db, '--name', 'epr', '--org', 'RYR', '--issuer', 'https://epr.example',
  '--alg', 'HS256', '--secret-file', secretFile);

const portFile = path.join(tmp, 'shape.port');
if (existsSync(portFile)) unlinkSync(portFile);
const server = spawn(bin, ['serve', '--db', db, '--http', '127.0.0.1:0', '--port-file', portFile], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
let exitCode = null;
server.on('exit', (code) => { exitCode = code; });
process.on('exit', () => { if (exitCode === null) server.kill('SIGKILL'); });
process.on('uncaughtException', (e) => { console.log('FAIL: ' + (e.stack || e)); process.exit(1); });
const deadline = Date.now() + 60000;
while (!existsSync(portFile)) {
  if (exitCode !== null || Date.now() > deadline) {
    console.log('FAIL: weft serve did not start');
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 50));
}
const port = Number(readFileSync(portFile, 'utf8').trim());
const base = `http://127.0.0.1:${port}/fhir`;
const kit = new Client({ baseUrl: base, bearerToken: token });
const req = { headers: { host: `127.0.0.1:${port}` }, url: '/', method: 'GET', connection: {} };
const resp = { writeHead() {}, end() {}, setHeader() {} };
const fc = smart(req, resp).client({ serverUrl: base, tokenResponse: { access_token: token } });

const NHS = '9990000018';
const u = (n) => `urn:uuid:7c5cf4c1-0000-4000-8000-${String(n).padStart(12, '0')}`;
const obsCat = (c) => [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: c }] }];
const entries = [
  { fullUrl: u(1), resource: { resourceType: 'Patient', id: 'shape-p', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: NHS }], name: [{ family: 'Shape', given: ['Sam'] }], birthDate: '1970-01-02' } },
  { fullUrl: u(2), resource: { resourceType: 'Medication', id: 'shape-med', code: { coding: [{ system: 'http://snomed.info/sct', code: '322236009', display: 'Paracetamol 500mg tablets' }] } } },
  { fullUrl: u(3), resource: { resourceType: 'Encounter', id: 'shape-enc', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: u(1) }, period: { start: '2024-03-01T09:00:00Z', end: '2024-03-01T10:00:00Z' } } },
  { fullUrl: u(4), resource: { resourceType: 'MedicationRequest', id: 'shape-mr1', status: 'active', intent: 'order', medicationReference: { reference: u(2) }, subject: { reference: u(1) }, encounter: { reference: u(3) }, authoredOn: '2024-03-01' } },
  { fullUrl: u(5), resource: { resourceType: 'MedicationRequest', id: 'shape-mr2', status: 'stopped', intent: 'order', medicationCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '387207008' }] }, subject: { reference: u(1) }, authoredOn: '2023-01-01' } },
  { fullUrl: u(6), resource: { resourceType: 'Observation', id: 'shape-o1', status: 'final', category: obsCat('vital-signs'), code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: u(1) }, encounter: { reference: u(3) }, effectiveDateTime: '2024-03-01T09:10:00Z', valueQuantity: { value: 72, unit: '/min' }, note: [{ text: 'resting' }] } },
  { fullUrl: u(7), resource: { resourceType: 'Observation', id: 'shape-o2', status: 'final', category: obsCat('laboratory'), code: { coding: [{ system: 'http://loinc.org', code: '2339-0' }] }, subject: { reference: u(1) }, encounter: { reference: u(3) }, effectiveDateTime: '2024-03-01T09:20:00Z', valueQuantity: { value: 5.4, unit: 'mmol/L' } } },
  { fullUrl: u(8), resource: { resourceType: 'Condition', id: 'shape-c1', clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] }, code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003' }] }, subject: { reference: u(1) }, encounter: { reference: u(3) }, onsetDateTime: '2024-03-01' } },
  { fullUrl: u(9), resource: { resourceType: 'Condition', id: 'shape-c2', code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006' }] }, subject: { reference: u(1) }, onsetDateTime: '2015-06-01' } },
].map((e) => ({ ...e, request: { method: 'POST', url: e.resource.resourceType } }));

const matches = (b) => (b.entry || []).filter((e) => e.search && e.search.mode === 'match').map((e) => e.resource);
const included = (b) => (b.entry || []).filter((e) => e.search && e.search.mode === 'include').map((e) => e.resource);
const types = (list) => list.map((r) => r.resourceType).sort().join(',');

// the launch of a member of staff for the patient: a weft_session cookie
async function launchAs(role, sub) {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64({ iss: 'https://epr.example', aud: 'weft', iat: now, exp: now + 120, jti: randomBytes(8).toString('hex'), sub, role, org: 'RYR', patient: NHS });
  const jwt = body + '.' + createHmac('sha256', secret).update(body).digest('base64url');
  const r = await fetch(`http://127.0.0.1:${port}/launch`, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'token=' + encodeURIComponent(jwt) });
  const sc = r.headers.get('set-cookie') || '';
  check(r.status === 303 && sc.startsWith('weft_session='), `launch as ${role}: ${r.status}`);
  return sc.split(';')[0];
}
async function getAs(cookie, pathq) {
  const r = await fetch(base + '/' + pathq, { headers: { Cookie: cookie, Accept: 'application/fhir+json' } });
  return { status: r.status, body: await r.json() };
}
// the newest audit entries of a user or client (text of `weft audit list`)
function auditOf(who) {
  return weft('audit', 'list', '--db', db, '--user', who, '--action', 'search', '--limit', '5');
}

try {
  // the CapabilityStatement lists includes and revincludes per type
  const cs = await kit.capabilityStatement();
  const res = (t) => cs.rest[0].resource.find((r) => r.type === t) || {};
  check((res('MedicationRequest').searchInclude || []).includes('MedicationRequest:medication'), 'CapabilityStatement: MedicationRequest:medication include');
  check((res('Encounter').searchRevInclude || []).includes('Observation:encounter'), 'CapabilityStatement: Observation:encounter revinclude on Encounter');
  const tx = await kit.transaction({ body: { resourceType: 'Bundle', type: 'transaction', entry: entries } });
  check(tx.type === 'transaction-response' && tx.entry.every((e) => e.response.status.startsWith('201')), 'transaction stored');
  const idOf = {};
  tx.entry.forEach((e, i) => { idOf[entries[i].resource.id] = e.response.location.split('/')[1]; });
  const P = idOf['shape-p'];

  // 1. medications with their Medication (fhirclient)
  let b = await fc.request(`MedicationRequest?patient=${P}&_include=MedicationRequest:medication`);
  check(types(matches(b)) === 'MedicationRequest,MedicationRequest', 'MedicationRequest matches: ' + types(matches(b)));
  check(included(b).length === 1 && included(b)[0].resourceType === 'Medication' && included(b)[0].id === idOf['shape-med'], '_include brings the Medication once: ' + JSON.stringify(included(b).map((r) => r.id)));
  check(b.total === 2, 'total counts matches only: ' + b.total);
  // without _include: no Medication
  b = await fc.request(`MedicationRequest?patient=${P}`);
  check(included(b).length === 0, 'no include unasked');

  // 2. the encounter with its observations (fhir-kit-client)
  b = await kit.search({ resourceType: 'Encounter', searchParams: { patient: P, _revinclude: 'Observation:encounter' } });
  check(types(matches(b)) === 'Encounter', 'Encounter match');
  check(types(included(b)) === 'Observation,Observation', '_revinclude brings both observations: ' + types(included(b)));
  // a target type that does not match brings nothing
  b = await kit.search({ resourceType: 'Encounter', searchParams: { patient: P, _revinclude: 'Observation:encounter:EpisodeOfCare' } });
  check(included(b).length === 0, '_revinclude with another target type: nothing');

  // 3. :iterate - from an observation to its encounter, then the encounter's conditions
  b = await fc.request(`Observation?_id=${idOf['shape-o1']}&_include=Observation:encounter&_revinclude:iterate=Condition:encounter`);
  check(types(included(b)) === 'Condition,Encounter', ':iterate follows the included encounter: ' + types(included(b)));
  b = await fc.request(`Observation?_id=${idOf['shape-o1']}&_include=Observation:encounter&_revinclude=Condition:encounter`);
  check(types(included(b)) === 'Encounter', 'without :iterate only one step: ' + types(included(b)));

  // 4. $everything?_type=Condition, and start
  b = await fc.request(`Patient/${P}/$everything?_type=Condition`);
  check(types(matches(b)) === 'Condition,Condition' && b.total === 2, '$everything?_type=Condition: ' + types(matches(b)));
  b = await fc.request(`Patient/${P}/$everything?_type=Condition,Encounter&start=2020-01-01`);
  check(types(matches(b)) === 'Condition,Encounter', '$everything _type two types and start: ' + types(matches(b)));
  b = await fc.request(`Patient/${P}/$everything?end=2016`);
  // the clinical date decides (a Patient's is its birth date, 1970)
  check(types(matches(b)) === 'Condition,Patient', '$everything end=2016: ' + types(matches(b)));

  // 5. _summary=count, _summary=true, _elements=id,code
  b = await kit.search({ resourceType: 'Observation', searchParams: { patient: P, _summary: 'count' } });
  check(b.total === 2 && matches(b).length === 0, '_summary=count: total only');
  b = await fc.request(`Observation?patient=${P}&_total=none&_revinclude=Condition:evidence-detail`);
  check(b.total === undefined && matches(b).length === 2, '_total=none: no total');
  b = await fc.request(`Observation?patient=${P}&_total=accurate`);
  check(b.total === 2, '_total=accurate: ' + b.total);
  b = await fc.request(`Observation?patient=${P}&_elements=id,code`);
  const el = matches(b);
  check(el.length === 2 && el.every((r) => r.code && r.status && !r.valueQuantity && !r.subject), '_elements keeps id, code and mandatory status: ' + JSON.stringify(el[0]));
  check(el.every((r) => (r.meta.tag || []).some((t) => t.code === 'SUBSETTED')), '_elements tags SUBSETTED');
  b = await kit.search({ resourceType: 'Observation', searchParams: { patient: P, _summary: 'true' } });
  const sm = matches(b);
  check(sm.length === 2 && sm.every((r) => r.code && r.subject && r.valueQuantity && !r.note && !r.category), '_summary=true keeps the isSummary elements only');
  check(sm.every((r) => (r.meta.tag || []).some((t) => t.code === 'SUBSETTED')), '_summary=true tags SUBSETTED');
  // errors: a parameter the source type does not have
  try {
    await kit.search({ resourceType: 'Encounter', searchParams: { patient: P, _include: 'Encounter:colour' } });
    check(false, 'unknown _include accepted');
  } catch (e) {
    check(e.response && e.response.status === 400 && JSON.stringify(e.response.data).includes('colour'), 'unknown _include 400 names it');
  }

  // 6. the scope: a role without results/observations gets no observations by _revinclude
  const sw = await launchAs('SOCIAL-CARE-PRACTITIONER', 'sw-1');
  let r = await getAs(sw, `Encounter?patient=${P}&_revinclude=Observation:encounter`);
  check(r.status === 200 && types(matches(r.body)) === 'Encounter' && included(r.body).length === 0, 'social care: encounter without observations: ' + types(included(r.body)));
  r = await getAs(sw, `Condition?patient=${P}&_include=Condition:encounter&_revinclude:iterate=Observation:encounter`);
  check(r.status === 200 && types(included(r.body)) === 'Encounter', 'social care: iterate brings no observations: ' + types(included(r.body)));
  const gp = await launchAs('R8000', 'gp-1');
  r = await getAs(gp, `Encounter?patient=${P}&_revinclude=Observation:encounter`);
  check(r.status === 200 && types(included(r.body)) === 'Observation,Observation', 'clinician: observations included');
  // the audit lists what each was sent
  let swAudit = '', gpAudit = '';
  for (let i = 0; i < 50 && !(swAudit.includes(idOf['shape-enc']) && gpAudit.includes(idOf['shape-o1'])); i++) {
    await new Promise((res2) => setTimeout(res2, 100));
    swAudit = auditOf('sw-1');
    gpAudit = auditOf('gp-1');
  }
  check(swAudit.includes(idOf['shape-enc']) && !swAudit.includes(idOf['shape-o1']) && !swAudit.includes(idOf['shape-o2']), 'social care audit: the encounter, no observation:\n' + swAudit);
  check(gpAudit.includes(idOf['shape-o1']) && gpAudit.includes(idOf['shape-o2']) && gpAudit.includes(idOf['shape-enc']), 'clinician audit lists the included observations:\n' + gpAudit);
} catch (e) {
  console.log('FAIL: ' + (e.stack || e) + (e.response ? ' ' + JSON.stringify(e.response.data) : ''));
  failures++;
}

server.kill('SIGTERM');
const deadline2 = Date.now() + 60000;
while (exitCode === null && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 50));
check(exitCode === 0, 'weft serve exit status after SIGTERM: ' + exitCode);
if (failures) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log('ok');
