// interop_fhirkit.mjs - a real FHIR client from npm (fhir-kit-client) against
// weft-test-backends: sqlite postgres
// the running weft server: CapabilityStatement, transaction, read, vread,
// history, search (GET and POST), paging with nextPage, Patient/$everything,
// and errors surfacing as OperationOutcomes.  Needs `npm install` (skips with
// exit 77 when fhir-kit-client is not installed).
import { check, fail, finish, loadClient, serve, store } from './lib/fhirkit.mjs';

const Client = await loadClient();
// an organisation sends and reads only with an agreement in force
const { db, token } = store('interop', 'RYR');
const srv = await serve(db, 'interop');
const port = srv.port;
const client = new Client({ baseUrl: `http://127.0.0.1:${port}/fhir`, bearerToken: token });

try {
  // metadata
  const cs = await client.capabilityStatement();
  check(cs.resourceType === 'CapabilityStatement' && cs.fhirVersion === '4.0.1', 'capability statement');
  const types = cs.rest[0].resource.map((r) => r.type);
  check(types.includes('Patient') && types.includes('Observation'), 'types listed: ' + types.join(','));

  // transaction: a patient and 23 observations
  const entries = [{
    fullUrl: 'urn:uuid:6b5cf4c1-0000-4000-8000-000000000001',
    resource: {
      resourceType: 'Patient', id: 'kit-p1',
      identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000026' }],
      name: [{ family: 'Kitclient', given: ['Fhir'] }], birthDate: '1980-07-15',
    },
    request: { method: 'POST', url: 'Patient' },
  }];
  for (let i = 0; i < 23; i++) {
    entries.push({
      fullUrl: `urn:uuid:6b5cf4c1-0000-4000-8000-1000000000${String(i).padStart(2, '0')}`,
      resource: {
        resourceType: 'Observation', id: `kit-o${i}`, status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: i % 2 ? '8867-4' : '9279-1' }] },
        subject: { reference: 'urn:uuid:6b5cf4c1-0000-4000-8000-000000000001' },
        effectiveDateTime: `2023-${String(1 + (i % 12)).padStart(2, '0')}-10T08:00:00Z`,
        valueQuantity: { value: 60 + i, unit: '/min' },
      },
      request: { method: 'POST', url: 'Observation' },
    });
  }
  const tx = await client.transaction({ body: { resourceType: 'Bundle', type: 'transaction', entry: entries } });
  check(tx.type === 'transaction-response' && tx.entry.length === 24, 'transaction-response');
  check(tx.entry.every((e) => e.response.status.startsWith('201')), 'all created');

  // find the patient by identifier, read it
  const found = await client.search({ resourceType: 'Patient', searchParams: { identifier: 'https://fhir.nhs.uk/Id/nhs-number|9990000026' } });
  check(found.total === 1, 'identifier search total ' + found.total);
  const pid = found.entry[0].resource.id;
  const patient = await client.read({ resourceType: 'Patient', id: pid });
  check(patient.name[0].family === 'Kitclient', 'read patient');
  const v1 = await client.vread({ resourceType: 'Patient', id: pid, version: '1' });
  check(v1.id === pid && v1.meta.versionId === '1', 'vread');
  const hist = await client.history({ resourceType: 'Patient', id: pid });
  check(hist.type === 'history' && hist.entry.length === 1, 'history');

  // search with paging through nextPage
  let page = await client.search({ resourceType: 'Observation', searchParams: { patient: pid, _count: 5, _sort: 'date' } });
  check(page.total === 23, 'search total ' + page.total);
  const seen = new Set();
  let pages = 0;
  while (page) {
    pages++;
    for (const e of page.entry || []) {
      if (e.search.mode !== 'match') continue;
      check(!seen.has(e.resource.id), 'duplicate on page ' + pages);
      seen.add(e.resource.id);
    }
    page = await client.nextPage({ bundle: page });
  }
  check(seen.size === 23 && pages === 5, `paged ${seen.size} in ${pages} pages`);

  // POST _search and a code search
  const posted = await client.search({ resourceType: 'Observation', searchParams: { patient: `Patient/${pid}`, code: 'http://loinc.org|8867-4' }, options: { postSearch: true } });
  check(posted.total === 11, 'POST _search total ' + posted.total);

  // $everything
  const all = await client.operation({ name: 'everything', resourceType: 'Patient', id: pid, method: 'GET' });
  check(all.type === 'searchset' && all.total === 24, '$everything total ' + all.total);

  // errors come back as OperationOutcome
  try {
    await client.read({ resourceType: 'Observation', id: 'no-such-thing' });
    check(false, 'read of an unknown id succeeded');
  } catch (e) {
    check(e.response && e.response.status === 404 && e.response.data.resourceType === 'OperationOutcome', 'unknown id 404 OperationOutcome');
  }
  try {
    await client.search({ resourceType: 'Observation', searchParams: { colour: 'red' } });
    check(false, 'unknown parameter accepted');
  } catch (e) {
    check(e.response && e.response.status === 400 && JSON.stringify(e.response.data).includes('colour'), 'unknown parameter 400');
  }
  const anon = new Client({ baseUrl: `http://127.0.0.1:${port}/fhir` });
  try {
    await anon.read({ resourceType: 'Patient', id: pid });
    check(false, 'unauthenticated read succeeded');
  } catch (e) {
    check(e.response && e.response.status === 401, 'unauthenticated 401');
  }
} catch (e) {
  fail(e);
}

await finish(srv);
