// identity_match.mjs - FHIR Patient/$match (issue 13) called with a real FHIR
// weft-test-backends: sqlite postgres
// client from npm (fhir-kit-client) against a running weft server: a
// Parameters body with a Patient, onlyCertainMatches and count; a searchset
// Bundle of candidate Patients with search.score and the match-grade
// extension (certain, probable, possible, certainly-not); a client without
// the scope system/Patient.$match refused (403, audited); each candidate
// shown audited; bad input a 400 OperationOutcome.  Skips (exit 77) when
// fhir-kit-client is not installed.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';

const root = process.env.WEFT_ROOT || process.cwd();
const bin = process.env.WEFT_BIN || path.join(root, 'build/san/weft');
const tmp = process.env.WEFT_TMP || '/tmp';

let Client;
try {
  ({ Client } = await import('fhir-kit-client'));
} catch (e) {
  console.log('skip: fhir-kit-client is not installed (run npm install in the repository)');
  process.exit(77);
}

let failures = 0;
function check(cond, msg) {
  if (!cond) {
    console.log('FAIL: ' + msg);
    failures++;
  }
}

const db = process.env.WEFT_TEST_DB || path.join(tmp, 'match.db');
const weft = (...args) => execFileSync(bin, args, { encoding: 'utf8' }).trim();
weft('init', '--db', db);
weft('org', 'add', '--db', db, '--ods', 'RYR', '--name', 'Org RYR', '--type', 'acute');
weft('org', 'agreement', '--db', db, '--ods', 'RYR', '--kind', 'jca', '--from', '2020-01-01');
const writer = weft('client', 'add', '--db', db, '--name', 'loader', '--org', 'RYR', '--write');
const matcher = weft('client', 'add', '--db', db, '--name', 'tracer', '--org', 'RYR',
  '--scope', 'system/*.rs system/Patient.$match');
const reader = weft('client', 'add', '--db', db, '--name', 'plain-reader', '--org', 'RYR');

const portFile = path.join(tmp, 'match.port');
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
const load = new Client({ baseUrl: base, bearerToken: writer });
const tracer = new Client({ baseUrl: base, bearerToken: matcher });
const plain = new Client({ baseUrl: base, bearerToken: reader });

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const GRADE = 'http://hl7.org/fhir/StructureDefinition/match-grade';
const patient = (id, family, given, birthDate, gender, postalCode, nhs) => ({
  resourceType: 'Patient', id,
  identifier: nhs ? [{ system: NHS, value: nhs }] : [{ system: 'urn:weft:id:RYR:mrn', value: 'M-' + id }],
  name: [{ family, given: [given] }], birthDate, gender,
  address: [{ line: ['12 Larch Road'], city: 'Leeds', postalCode }],
});
const people = [
  patient('amara', 'Okafor', 'Amara', '2013-07-07', 'female', 'LS6 2QT', '9434765005'),
  patient('chidi', 'Okafor', 'Chidi', '2013-07-07', 'male', 'LS6 2QT', '9434765013'), // her twin
  patient('john', 'Smith', 'John', '1950-01-01', 'male', 'BD1 1AA', null),
  patient('jo', 'Smyth', 'Jon', '1950-01-01', 'male', 'BD1 1AA', null),
];
const tx = await load.transaction({
  body: {
    resourceType: 'Bundle', type: 'transaction',
    entry: people.map((r, i) => ({
      fullUrl: `urn:uuid:7b5cf4c1-0000-4000-8000-00000000000${i}`,
      resource: r, request: { method: 'POST', url: 'Patient' },
    })),
  },
});
check(tx.entry.every((e) => e.response.status.startsWith('201')), 'patients created');

const params = (pt, extra = []) => ({
  resourceType: 'Parameters',
  parameter: [{ name: 'resource', resource: pt }, ...extra],
});
const match = (client, body) => client.operation({ name: '$match', resourceType: 'Patient', input: body });
const grade = (e) => (e.search.extension || []).find((x) => x.url === GRADE)?.valueCode;
const matches = (b) => (b.entry || []).filter((e) => e.search && e.search.mode === 'match');
const given = (e) => e.resource.name[0].given[0];

try {
  const cs = await tracer.capabilityStatement();
  const ops = cs.rest[0].resource.find((r) => r.type === 'Patient').operation.map((o) => o.name);
  check(ops.includes('match') && ops.includes('everything'), 'CapabilityStatement lists $match: ' + ops);

  // her details, as a host system holds them: no NHS number, a different address line
  const q = { resourceType: 'Patient', name: [{ family: 'Okafor', given: ['Amara'] }],
    birthDate: '2013-07-07', gender: 'female', address: [{ postalCode: 'LS6 2QT' }] };
  let b = await match(tracer, params(q));
  check(b.resourceType === 'Bundle' && b.type === 'searchset', 'a searchset Bundle');
  let m = matches(b);
  check(m.length >= 1 && given(m[0]) === 'Amara', 'Amara first: ' + m.map(given).join(','));
  check(m.every((e) => typeof e.search.score === 'number' && e.search.score >= 0 && e.search.score <= 1),
    'scores in [0,1]');
  check(['certain', 'probable'].includes(grade(m[0])), 'Amara graded ' + grade(m[0]));
  check(!m.some((e) => e.resource.name[0].family.startsWith('Sm')), 'the Smiths are not candidates');
  check(m.every((e, i) => i === 0 || e.search.score <= m[i - 1].search.score || grade(m[i - 1]) === 'certain'),
    'sorted by score');
  const twin = m.find((e) => given(e) === 'Chidi');
  check(!twin || grade(twin) !== 'certain', 'her twin is never certain: ' + (twin && grade(twin)));

  // her NHS number: certain, score 1
  b = await match(tracer, params({ resourceType: 'Patient', identifier: [{ system: NHS, value: '943 476 5005' }] }));
  m = matches(b);
  check(m.length === 1 && given(m[0]) === 'Amara' && grade(m[0]) === 'certain' && m[0].search.score === 1,
    'NHS number: certain, score 1: ' + JSON.stringify(m.map((e) => [given(e), grade(e), e.search.score])));

  // her details with another valid NHS number: she is certainly not that person
  b = await match(tracer, params({ ...q, identifier: [{ system: NHS, value: '9434765021' }] }));
  m = matches(b);
  const her = m.find((e) => given(e) === 'Amara');
  check(her && grade(her) === 'certainly-not' && her.search.score === 0,
    'other NHS number: certainly-not: ' + JSON.stringify(m.map((e) => [given(e), grade(e)])));

  // count and onlyCertainMatches
  b = await match(tracer, params({ resourceType: 'Patient', name: [{ family: 'Smith', given: ['John'] }],
    birthDate: '1950-01-01', gender: 'male', address: [{ postalCode: 'BD1 1AA' }] }));
  const smiths = matches(b).length;
  b = await match(tracer, params({ resourceType: 'Patient', name: [{ family: 'Smith', given: ['John'] }],
    birthDate: '1950-01-01', gender: 'male', address: [{ postalCode: 'BD1 1AA' }] },
  [{ name: 'count', valueInteger: 1 }]));
  check(smiths >= 1 && matches(b).length === 1, `count 1: ${matches(b).length} of ${smiths}`);
  b = await match(tracer, params({ resourceType: 'Patient', identifier: [{ system: NHS, value: '9434765005' }],
    name: [{ family: 'Okafor', given: ['Amara'] }], birthDate: '2013-07-07' },
  [{ name: 'onlyCertainMatches', valueBoolean: true }]));
  m = matches(b);
  check(m.length === 1 && grade(m[0]) === 'certain' && given(m[0]) === 'Amara', 'onlyCertainMatches: one certain');
  b = await match(tracer, params({ resourceType: 'Patient', name: [{ family: 'Nobody', given: ['Known'] }],
    birthDate: '1901-02-03' }));
  check(matches(b).length === 0 && b.total === 0, 'no one: an empty Bundle');

  // bad input: a clear 400 OperationOutcome
  for (const [body, what] of [
    [{ resourceType: 'Parameters', parameter: [{ name: 'count', valueInteger: 2 }] }, 'no resource'],
    [{ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Observation' } }] }, 'not a Patient'],
    [{ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient' } }] }, 'nothing to match on'],
    [{ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: q }, { name: 'count', valueInteger: 0 }] }, 'count 0'],
  ]) {
    let status = 0, oo = null;
    try { await match(tracer, body); } catch (e) { status = e.response?.status; oo = e.response?.data; }
    check(status === 400 && oo && oo.resourceType === 'OperationOutcome', `${what}: ${status}`);
  }

  // a client without the scope is refused, and the refusal audited
  let status = 0, oo = null;
  try { await match(plain, params(q)); } catch (e) { status = e.response?.status; oo = e.response?.data; }
  check(status === 403 && oo?.resourceType === 'OperationOutcome' &&
    /system\/Patient\.\$match/.test(oo.issue[0].diagnostics), 'plain reader refused: ' + status);
} catch (e) {
  console.log('FAIL: ' + (e.stack || e) + ' ' + JSON.stringify(e.response?.data || ''));
  failures++;
}

// audited: the tracer's look-ups name the Patients they returned, the refusal is a denial
let audit = '';
for (let i = 0; i < 50; i++) {
  audit = weft('audit', 'list', '--db', db, '--limit', '200');
  if (/plain-reader/.test(audit) && /tracer/.test(audit)) break;
  await new Promise((r) => setTimeout(r, 100));
}
const lines = audit.split('\n');
check(lines.some((l) => /tracer/.test(l) && /search/.test(l) && /Patient\//.test(l)), 'candidates shown are audited');
check(lines.some((l) => /tracer/.test(l) && /Patient\/\$match: total 0/.test(l)), 'an empty look-up is audited');
check(lines.some((l) => /plain-reader/.test(l) && /denial/.test(l) && /Patient\.\$match/.test(l)), 'the refusal is audited');
if (failures) console.log(audit);

server.kill('SIGTERM');
console.log(failures ? `${failures} failure(s)` : 'ok');
process.exit(failures ? 1 : 0);
