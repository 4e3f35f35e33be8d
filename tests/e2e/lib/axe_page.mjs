// axe_page.mjs - open one page of a running weft in Chromium (playwright-core)
// with a session cookie, run axe-core on it and print the violations as JSON
// on standard output: {"status": N, "violations": [{id, impact, nodes}]}.
// For Python e2e tests that check a page's accessibility:
//   node tests/e2e/lib/axe_page.mjs URL COOKIE_VALUE [SCREENSHOT.png]
// Exits 77 when chromium or the npm packages are missing, 1 on other errors.
import { CHROMIUM_ARGS } from './browser.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const ROOT = process.env.WEFT_ROOT || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const CHROMIUM = '/usr/bin/chromium';
const [url, cookie, shot] = process.argv.slice(2);
if (!url || !cookie) {
  console.error('usage: axe_page.mjs URL COOKIE_VALUE [SCREENSHOT.png]');
  process.exit(1);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error('skip: /usr/bin/chromium is not installed');
  process.exit(77);
}
const require = createRequire(path.join(ROOT, 'package.json'));
let chromium, axeSource;
try {
  ({ chromium } = require('playwright-core'));
  axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
} catch (e) {
  console.error('skip: npm packages playwright-core / axe-core missing: ' + e.message);
  process.exit(77);
}
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
  args: CHROMIUM_ARGS });
try {
  const ctx = await browser.newContext({ bypassCSP: true }); // the pages allow no scripts: axe is injected
  const u = new URL(url);
  await ctx.addCookies([{ name: 'weft_session', value: cookie, domain: u.hostname, path: '/' }]);
  const page = await ctx.newPage();
  const resp = await page.goto(url, { timeout: 60000 });
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const violations = res.violations.map((v) => ({
    id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
  }));
  console.log(JSON.stringify({ status: resp.status(), violations }));
} finally {
  await browser.close();
}
