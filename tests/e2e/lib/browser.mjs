// browser.mjs - what every browser test (tests/e2e/*.mjs with Chromium)
// shares: where things are, skipping when Chromium or the npm packages are
// missing, failing, running the weft binary, and the Chromium arguments.
//
//   import { ROOT, BIN, ASSETS, CHROMIUM, CHROMIUM_ARGS, skip, fail, check,
//            tmpDir, artDir, loadBrowser, weft } from './lib/browser.mjs';
//
// The environment comes from tests/run-tests.sh (WEFT_ROOT, WEFT_BIN,
// WEFT_TMP, WEFT_ARTIFACTS); run by hand, the defaults below apply.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export const ROOT = process.env.WEFT_ROOT || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
export const BIN = process.env.WEFT_BIN || path.join(ROOT, 'build/san/weft');
export const ASSETS = path.join(ROOT, 'node_modules/nhsuk-frontend/dist/nhsuk');
export const CHROMIUM = '/usr/bin/chromium';
// The pages' Content-Security-Policy allows fonts only from Weft itself, so
// in use the browser never fetches nhsuk-frontend's web fonts from
// assets.nhs.uk.  The tests turn the policy off (bypassCSP, to inject
// axe-core), and without the resolver rule a page's "load" event then waits
// for those font requests to fail: about 5 s on a machine with no internet,
// on every other page.  --host-resolver-rules makes every name but the
// loopback server's fail at once, which also keeps the tests from reaching
// out.
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run',
  '--disable-component-update', '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];

// Exit 77: the runner reports the test skipped, with why.
export function skip(why) { console.log(why); process.exit(77); }
export function fail(msg) { console.error('FAIL: ' + msg); throw new Error(msg); }
export function check(cond, msg) { if (!cond) fail(msg); }

// The test's scratch folder (WEFT_TMP from the runner, else a new one).
export function tmpDir(prefix) { return process.env.WEFT_TMP || fs.mkdtempSync(path.join('/tmp', prefix)); }
// The test's folder for screenshots and logs kept after it, made here.
export function artDir(name) {
  const dir = path.join(process.env.WEFT_ARTIFACTS || path.join(ROOT, 'test-artifacts'), name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// playwright-core's chromium, axe-core's source and a require() that
// resolves from the repository's node_modules; skips (77) when Chromium,
// the weft binary or the packages are missing.
export function loadBrowser() {
  if (!fs.existsSync(CHROMIUM)) skip('skip: /usr/bin/chromium is not installed');
  if (!fs.existsSync(BIN)) skip('skip: no weft binary at ' + BIN + ' (make san)');
  const require = createRequire(path.join(ROOT, 'package.json'));
  try {
    const { chromium } = require('playwright-core');
    const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    return { chromium, axeSource, require };
  } catch (e) {
    skip('skip: npm packages playwright-core / axe-core missing (run npm install): ' + e.message);
  }
}

// Runs the weft binary; its standard output, or fail() with what it said.
export function weft(...args) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) fail(`weft ${args.join(' ')} exited ${r.status}: ${r.stdout} ${r.stderr}`);
  return r.stdout;
}
