// medplum_load.mjs DIR [LIMIT] - baseline peer for bench/bench_load.sh: loads every
// transaction bundle in DIR through Medplum's FHIR router (@medplum/fhir-router) into
// its in-memory repository (MemoryRepository), one POST / per bundle, as a FHIR server
// would.  Prints "resources SECONDS": wall time of reading, parsing and loading, the same
// work `weft load` is timed for (weft also writes it durably to disk).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const dir = process.argv[2];
const limit = Number(process.argv[3] || 0);
let files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
if (limit > 0) files = files.slice(0, limit);
const router = new FhirRouter();
const repo = new MemoryRepository();
let resources = 0;
let ms = 0;
for (const f of files) {
  const t0 = performance.now();
  const bundle = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const [outcome] = await router.handleRequest(
    { method: 'POST', url: '/', pathname: '', body: bundle, params: {}, query: {} },
    repo
  );
  ms += performance.now() - t0;
  if (outcome.issue?.[0]?.severity === 'error') {
    console.error(`${f}: ${JSON.stringify(outcome.issue[0]).slice(0, 300)}`);
    process.exit(1);
  }
  resources += bundle.entry.length;
}
console.log(`${resources} ${(ms / 1000).toFixed(3)}`);
