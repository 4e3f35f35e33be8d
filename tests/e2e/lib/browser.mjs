// browser.mjs - the Chromium arguments every browser test uses.
//
// The pages' Content-Security-Policy allows fonts only from Weft itself, so
// in use the browser never fetches nhsuk-frontend's web fonts from
// assets.nhs.uk.  The tests turn the policy off (bypassCSP, to inject
// axe-core), and without this a page's "load" event then waits for those
// font requests to fail: about 5 s on a machine with no internet, on every
// other page.  --host-resolver-rules makes every name but the loopback
// server's fail at once, which also keeps the tests from reaching out.
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run',
  '--disable-component-update', '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];
