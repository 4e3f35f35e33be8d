// search_fhirkit.mjs - the FHIR R4 search parameters as a real client from npm
// weft-test-backends: sqlite postgres
// (fhir-kit-client) uses them: the common app queries (vital signs by
// category and date, active conditions, immunisations by vaccine code,
// value-quantity, chaining, _has, name:contains, family:exact) against two
// Synthea bundles loaded by the same client's transaction, each answer
// compared, all pages followed with nextPage, with the set this script
// computes from the bundles itself.  Skips (77) without fhir-kit-client or
// the Synthea data.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { check, fail, finish, loadClient, root, serve, store } from './lib/fhirkit.mjs';

const src = path.join(process.env.WEFT_DATA || path.join(root, '..', 'shared', 'data'), 'synthea-r4');
const Client = await loadClient();
if (!existsSync(src)) {
  console.log('skip: no Synthea data at ' + src);
  process.exit(77);
}

const ORG = 'SYN01';
const weftId = (type, id) => createHash('sha256').update(`${ORG}\x1f${type}\x1f${id}`).digest('hex').slice(0, 32);
const { db, token } = store('search_fhirkit', ORG);
const srv = await serve(db, 'search_fhirkit');
const client = new Client({ baseUrl: `http://127.0.0.1:${srv.port}/fhir`, bearerToken: token });

// the two smallest bundles, and what they hold by Weft id
const files = readdirSync(src).filter((f) => f.endsWith('.json'))
  .map((f) => path.join(src, f)).sort((a, b) => statSync(a).size - statSync(b).size).slice(0, 2);
const res = []; // {type, id, pid, r}
const patients = {};
for (const f of files) {
  const b = JSON.parse(readFileSync(f, 'utf8'));
  const pat = b.entry.map((e) => e.resource).find((r) => r.resourceType === 'Patient');
  const pid = weftId('Patient', pat.id);
  patients[pid] = pat;
  for (const e of b.entry) res.push({ type: e.resource.resourceType, id: weftId(e.resource.resourceType, e.resource.id), pid, r: e.resource });
}
const of = (type, pid) => res.filter((x) => x.type === type && (!pid || x.pid === pid));
const codes = (cc) => ((cc || {}).coding || []).map((c) => [c.system, c.code]);

async function all(resourceType, searchParams) {
  let page = await client.search({ resourceType, searchParams });
  const ids = [];
  let pages = 0;
  while (page && pages < 1000) {
    pages++;
    for (const e of page.entry || []) if (e.search.mode === 'match') ids.push(e.resource.id);
    page = await client.nextPage({ bundle: page });
  }
  return ids;
}

async function same(label, resourceType, searchParams, want) {
  const got = await all(resourceType, { ...searchParams, _count: 7 });
  const g = new Set(got);
  const w = new Set(want);
  check(got.length === g.size, `${label}: duplicates`);
  check(w.size > 0, `${label}: the test expects nothing: pick another value`);
  check(g.size === w.size && [...w].every((x) => g.has(x)), `${label}: got ${g.size}, want ${w.size}`);
  console.log(`ok ${label} (${g.size})`);
}

try {
  for (const f of files) {
    const tx = await client.transaction({ body: JSON.parse(readFileSync(f, 'utf8')) });
    check(tx.type === 'transaction-response', 'transaction ' + path.basename(f));
  }
  const P = Object.keys(patients).sort((a, b) => of('Observation', b).length - of('Observation', a).length)[0];
  const obs = of('Observation', P);

  const dates = obs.map((x) => x.r.effectiveDateTime).filter(Boolean).sort();
  const year = dates[Math.floor(dates.length / 2)].slice(0, 4);
  await same('vital signs by category and date', 'Observation', { patient: P, category: 'vital-signs', date: 'ge' + year },
    obs.filter((x) => (x.r.category || []).some((c) => codes(c).some(([, k]) => k === 'vital-signs')) &&
      (x.r.effectiveDateTime || '').slice(0, 19) >= year).map((x) => x.id));

  const PC = Object.keys(patients).sort((a, b) =>
    of('Condition', b).filter((x) => codes(x.r.clinicalStatus).some(([, k]) => k === 'active')).length -
    of('Condition', a).filter((x) => codes(x.r.clinicalStatus).some(([, k]) => k === 'active')).length)[0];
  await same('active conditions', 'Condition', { patient: PC, 'clinical-status': 'active' },
    of('Condition', PC).filter((x) => codes(x.r.clinicalStatus).some(([, k]) => k === 'active')).map((x) => x.id));

  const PI = Object.keys(patients).sort((a, b) => of('Immunization', b).length - of('Immunization', a).length)[0];
  const vc = codes(of('Immunization', PI)[0].r.vaccineCode)[0];
  await same('immunisations by vaccine code', 'Immunization', { patient: PI, 'vaccine-code': `${vc[0]}|${vc[1]}` },
    of('Immunization', PI).filter((x) => codes(x.r.vaccineCode).some(([s, k]) => s === vc[0] && k === vc[1])).map((x) => x.id));

  await same('value-quantity=gt100', 'Observation', { patient: P, 'value-quantity': 'gt100' },
    obs.filter((x) => x.r.valueQuantity && x.r.valueQuantity.value > 100).map((x) => x.id));

  const ident = patients[P].identifier.find((i) => i.system && i.value);
  await same('chained subject:Patient.identifier', 'Observation', { 'subject:Patient.identifier': `${ident.system}|${ident.value}` },
    obs.map((x) => x.id));

  const byCode = {};
  for (const x of of('Observation')) for (const [, k] of codes(x.r.code)) (byCode[k] = byCode[k] || new Set()).add(x.pid);
  const code = Object.keys(byCode).sort().find((k) => byCode[k].size === 1);
  await same('_has:Observation:patient:code', 'Patient', { '_has:Observation:patient:code': code }, [...byCode[code]]);

  const fam = patients[P].name[0].family;
  const part = fam.slice(1, 4);
  const strings = (p) => (p.name || []).flatMap((n) => [n.family, ...(n.given || []), ...(n.prefix || []), ...(n.suffix || []), n.text]).filter(Boolean);
  await same('name:contains', 'Patient', { 'name:contains': part.toUpperCase() },
    Object.keys(patients).filter((id) => strings(patients[id]).some((s) => s.toLowerCase().includes(part.toLowerCase()))));
  await same('family:exact', 'Patient', { 'family:exact': fam },
    Object.keys(patients).filter((id) => (patients[id].name || []).some((n) => n.family === fam)));
  const lower = await all('Patient', { 'family:exact': fam.toLowerCase() });
  check(fam === fam.toLowerCase() || lower.length === 0, 'family:exact is case-sensitive');

  try {
    await client.search({ resourceType: 'Observation', searchParams: { 'code:in': 'http://example.org/vs' } });
    check(false, 'unsupported modifier accepted');
  } catch (e) {
    check(e.response && e.response.status === 400 && JSON.stringify(e.response.data).includes('code:in'), 'unsupported modifier 400');
  }
} catch (e) {
  fail(e);
}

await finish(srv);
