// bulk_export_fhirkit.mjs - FHIR Bulk Data export driven by a real FHIR
// weft-test-backends: sqlite postgres
// client library from npm (fhir-kit-client): the kick-off as the client's
// $export operation with Prefer: respond-async, the status URL polled with the
// client's request() until the manifest, each NDJSON file fetched with the
// bearer token the manifest requires and counted; then a second export
// cancelled with the client's DELETE.  No dedicated Bulk Data client is
// packaged for npm or Debian; fhir-kit-client is a general FHIR client, and
// the headers it hands back (Client.httpFor) carry Content-Location and
// X-Progress.  Skips (77) without fhir-kit-client.
import path from 'node:path';
import { check, fail, finish, loadClient, serve, store, tmp } from './lib/fhirkit.mjs';

const Client = await loadClient();
const ORG = 'SYN01';
const { db, token } = store('bulk_fhirkit', ORG);
const srv = await serve(db, 'bulk_fhirkit', ['--export-dir', path.join(tmp, 'bulk_fhirkit_exports')]);
const port = srv.port;
const client = new Client({ baseUrl: `http://127.0.0.1:${port}/fhir`, bearerToken: token });

try {
  // 30 people, each with 3 observations, sent by the client's transaction
  const entry = [];
  for (let i = 0; i < 30; i++) {
    entry.push({ fullUrl: `urn:uuid:p${i}`, resource: { resourceType: 'Patient', id: `p${i}`,
      name: [{ family: `Person${i}` }], birthDate: '1960-01-01' }, request: { method: 'PUT', url: `Patient/p${i}` } });
    for (let k = 0; k < 3; k++) {
      entry.push({ fullUrl: `urn:uuid:o${i}-${k}`, resource: { resourceType: 'Observation', id: `o${i}-${k}`,
        status: 'final', code: { text: 'weight' }, subject: { reference: `urn:uuid:p${i}` },
        valueQuantity: { value: 50 + k, unit: 'kg' } }, request: { method: 'PUT', url: `Observation/o${i}-${k}` } });
    }
  }
  await client.transaction({ body: { resourceType: 'Bundle', type: 'transaction', entry } });

  const kick = async (type) => {
    const r = await client.operation({ name: '$export', resourceType: 'Patient', method: 'GET',
      input: { _type: type }, options: { headers: { prefer: 'respond-async', accept: 'application/fhir+json' } } });
    const { response } = Client.httpFor(r);
    check(response.status === 202, 'kick-off status ' + response.status);
    return response.headers.get('content-location');
  };
  const loc = await kick('Patient,Observation');
  check(loc && loc.includes('/$export-status/'), 'Content-Location: ' + loc);
  let manifest = null;
  let progress = 0;
  for (let n = 0; n < 240 && !manifest; n++) {
    const r = await client.request(loc);
    const { response } = Client.httpFor(r);
    if (response.status === 202) {
      progress += response.headers.get('x-progress') ? 1 : 0;
      await new Promise((res) => setTimeout(res, Number(response.headers.get('retry-after') || 1) * 100));
    } else {
      check(response.status === 200, 'status ' + response.status);
      manifest = r;
    }
  }
  check(manifest && manifest.requiresAccessToken === true && Array.isArray(manifest.output), 'manifest ' + JSON.stringify(manifest));
  const counts = {};
  for (const o of manifest.output) {
    const noAuth = await fetch(o.url);
    check(noAuth.status === 401, 'file without the token: ' + noAuth.status);
    const res = await fetch(o.url, { headers: { authorization: `Bearer ${token}` } });
    check(res.status === 200 && res.headers.get('content-type').startsWith('application/fhir+ndjson'), 'file ' + res.status);
    const lines = (await res.text()).split('\n').filter((l) => l);
    check(lines.length === o.count, `${o.type}: ${lines.length} lines, manifest ${o.count}`);
    for (const l of lines) check(JSON.parse(l).resourceType === o.type, 'a line of another type in ' + o.type);
    counts[o.type] = (counts[o.type] || 0) + lines.length;
  }
  check(counts.Patient === 30 && counts.Observation === 90, 'counts ' + JSON.stringify(counts));

  // cancel: the client's DELETE on the status URL
  const loc2 = await kick('Observation');
  const del = await client.request(loc2, { method: 'DELETE' });
  check(Client.httpFor(del).response.status === 202, 'cancel status');
  try {
    await client.request(loc2);
    check(false, 'a cancelled export still answers');
  } catch (e) {
    check(e.response && e.response.status === 404, 'cancelled export: ' + (e.response && e.response.status));
  }
} catch (e) {
  fail(e);
}

await finish(srv);
