// fhirkit.mjs - what the tests that drive `weft serve` with a real FHIR client
// from npm (fhir-kit-client) share: the client library (skip, exit 77, when
// it is not installed), check/fail, a store with one organisation under an
// agreement and a writing API client, the server started on a free port
// (killed if the test dies), and the end: SIGTERM, exit status 0, the verdict.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';

export const root = process.env.WEFT_ROOT || process.cwd();
export const bin = process.env.WEFT_BIN || path.join(root, 'build/san/weft');
export const tmp = process.env.WEFT_TMP || '/tmp';

export async function loadClient() {
  try {
    return (await import('fhir-kit-client')).Client;
  } catch (e) {
    console.log('skip: fhir-kit-client is not installed (run npm install in the repository)');
    process.exit(77);
  }
}

let failures = 0;
export function check(cond, msg) {
  if (!cond) {
    console.log('FAIL: ' + msg);
    failures++;
  }
}
// an exception that ended the test's steps (with the server's answer, if any)
export function fail(e) {
  console.log('FAIL: ' + (e.stack || e) + (e.response ? ' ' + JSON.stringify(e.response.data) : ''));
  failures++;
}

export const weft = (...args) => execFileSync(bin, args, { encoding: 'utf8' }).trim();

// A fresh store (the runner's PostgreSQL database under --backend postgres,
// else NAME.db in the test's folder) where organisation ORG sends and reads
// under an agreement; its API client's bearer token.
export function store(name, org) {
  const db = process.env.WEFT_TEST_DB || path.join(tmp, name + '.db');
  weft('init', '--db', db);
  weft('org', 'add', '--db', db, '--ods', org, '--name', 'Org ' + org, '--type', 'acute');
  weft('org', 'agreement', '--db', db, '--ods', org, '--kind', 'jca', '--from', '2020-01-01');
  const token = weft('client', 'add', '--db', db, '--name', 'fhir-kit', '--org', org, '--write');
  return { db, token };
}

// `weft serve` on db (extra: more options); resolves once it listens.
export async function serve(db, name, extra = []) {
  const portFile = path.join(tmp, name + '.port');
  if (existsSync(portFile)) unlinkSync(portFile);
  const server = spawn(bin, ['serve', '--db', db, '--http', '127.0.0.1:0', '--port-file', portFile,
    ...extra], { stdio: ['ignore', 'inherit', 'inherit'] });
  const srv = { server, exitCode: null, port: 0 };
  server.on('exit', (code) => { srv.exitCode = code; });
  // never leave the server behind, whatever happens to this script
  process.on('exit', () => { if (srv.exitCode === null) server.kill('SIGKILL'); });
  process.on('uncaughtException', (e) => { console.log('FAIL: ' + (e.stack || e)); process.exit(1); });
  const deadline = Date.now() + 60000;
  while (!existsSync(portFile)) {
    if (srv.exitCode !== null || Date.now() > deadline) {
      console.log('FAIL: weft serve did not start');
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  srv.port = Number(readFileSync(portFile, 'utf8').trim());
  return srv;
}

// SIGTERM: the server must exit 0 within 60 s; then the test's verdict.
export async function finish(srv) {
  srv.server.kill('SIGTERM');
  const deadline = Date.now() + 60000;
  while (srv.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  check(srv.exitCode === 0, 'weft serve exit status after SIGTERM: ' + srv.exitCode);
  if (failures) {
    console.log(`${failures} check(s) failed`);
    process.exit(1);
  }
  console.log('ok');
}
