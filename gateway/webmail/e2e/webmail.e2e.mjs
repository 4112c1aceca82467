// End-to-end test of Sealgate web mail in a real headless Chromium, driven by playwright-core.
// Run by TestBrowserE2E (gateway/webmail/e2e_test.go), which starts the gateway, prepares the
// mail and passes everything in the environment. Prints "PASS" or throws.
import { chromium } from 'playwright-core';
import path from 'node:path';

const base = process.env.SEALGATE_URL;
const origin = new URL(base).origin;
const shots = process.env.SEALGATE_SCREENSHOTS || '';
const [alice, alicePW, bob, bobPW] = [process.env.ALICE, process.env.ALICE_PW, process.env.BOB, process.env.BOB_PW];

function check(cond, msg) { if (!cond) { throw new Error(msg); } }

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  // No --user-data-dir: playwright's launch() refuses it and always starts Chromium on a fresh
  // temporary profile of its own, removed at close.
});

// Every request any page makes, and every dialog (alert) a script opens.
const requests = [];
const dialogs = [];
function watch(page) {
  page.on('request', (r) => requests.push(r.url()));
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  page.on('frameattached', () => {});
}

async function login(ctx, user, pw) {
  const page = await ctx.newPage();
  watch(page);
  await page.goto(base + '/');
  check(page.url().endsWith('/mail/login'), 'not sent to the login page: ' + page.url());
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', pw);

  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  check(page.url() === base + '/mail/', 'login failed: ' + (await page.textContent('body')).trim());
  return page;
}

async function shot(page, name) {
  if (!shots) { return; }
  await page.screenshot({ path: path.join(shots, name + '.png'), fullPage: false });
}

try {
  for (const [label, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    const ctx = await browser.newContext({ viewport, deviceScaleFactor: label === 'phone' ? 2 : 1, isMobile: label === 'phone', hasTouch: label === 'phone' });
    const page = await login(ctx, alice, alicePW);
    check((await page.textContent('h1')).includes('INBOX'), 'the inbox is not shown after login');
    await page.waitForSelector('text=Sealed quarterly figures');
    await shot(page, `list-${label}`);

    // Read the message that arrived encrypted and signed; the gateway decrypted and verified it.
    await Promise.all([page.waitForURL(/\/mail\/read/), page.click('text=Sealed quarterly figures')]);
    const badges = await page.$$eval('.badges li', (ls) => ls.map((l) => l.textContent.trim()));
    for (const want of ['Arrived encrypted (OpenPGP)', 'Decrypted by the gateway', 'Signature valid — ' + bob]) {
      check(badges.includes(want), `badge ${want} missing: ${JSON.stringify(badges)}`);
    }
    check((await page.textContent('.textbody')).includes('Revenue is up'), 'decrypted text not shown');
    await shot(page, `read-${label}`);

    await page.goto(base + '/mail/compose');
    await page.fill('input[name=to]', bob);
    await page.fill('input[name=subject]', 'Lunch on Friday?');
    await page.fill('textarea[name=body]', 'Hi Bob,\n\nshall we have lunch on Friday?\n\nAlice');
    await shot(page, `compose-${label}`);

    await page.goto(base + '/mail/keys');
    check((await page.textContent('table.keys')).includes(process.env.ALICE_FPR), 'own fingerprint not on the keys page');
    await shot(page, `keys-${label}`);
    await ctx.close();
  }

  // Compose and send as bob; alice's open inbox shows the message without a reload.
  const actx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const apage = await login(actx, alice, alicePW);
  let navigations = 0;
  apage.on('framenavigated', (f) => { if (f === apage.mainFrame()) { navigations++; } });
  const bctx = await browser.newContext();
  const bpage = await login(bctx, bob, bobPW);
  await bpage.click('text=Compose');
  await bpage.fill('input[name=to]', alice);
  await bpage.fill('input[name=subject]', 'Sent from the browser');
  await bpage.fill('textarea[name=body]', 'Hello Alice, this went through the submission pipeline.');
  await bpage.setInputFiles('input[name=attach]', { name: 'agenda.txt', mimeType: 'text/plain', buffer: Buffer.from('1. lunch\n') });
  await Promise.all([bpage.waitForURL(/\/mail\/\?notice=/), bpage.click('button:has-text("Send")')]);
  check((await bpage.textContent('.notice')).includes('Message sent.'), 'no confirmation after sending');
  await apage.waitForSelector('text=Sent from the browser', { timeout: 20000 });
  check(navigations === 0, 'the inbox was reloaded to show new mail');
  check(await apage.isVisible('#newmail'), 'no new-mail notice');
  await Promise.all([apage.waitForURL(/\/mail\/read/), apage.click('text=Sent from the browser')]);
  check((await apage.textContent('.textbody')).includes('submission pipeline'), 'sent text not shown');
  check((await apage.textContent('.attachments')).includes('agenda.txt'), 'attachment not listed');
  await bctx.close();

  // The hostile HTML message: nothing runs, nothing loads.
  requests.length = 0;
  await apage.goto(base + '/mail/');
  await Promise.all([apage.waitForURL(/\/mail\/read/), apage.click('text=Hostile newsletter')]);
  const frame = apage.frameLocator('iframe.htmlbody');
  await frame.locator('text=Hello Alice').waitFor();
  await apage.waitForTimeout(1500); // time for anything that would fire late
  const foreign = requests.filter((u) => !u.startsWith(origin + '/'));
  check(foreign.length === 0, 'requests to other origins: ' + JSON.stringify(foreign));
  check(dialogs.length === 0, 'a script ran: ' + JSON.stringify(dialogs));
  const ran = await apage.evaluate(() => document.title.includes('pwned') || !!window.pwned);
  check(!ran, 'hostile script changed the page');
  const own = requests.filter((u) => u.startsWith(origin + '/'));
  check(own.every((u) => /^\/mail\/(read|html|api\/status|static\/.+)?$/.test(new URL(u).pathname)), 'unexpected requests: ' + JSON.stringify(own));
  console.log(`hostile message: ${requests.length} requests, all to ${origin}/mail/; 0 dialogs`);
  await actx.close();
  console.log('PASS');
} finally {
  await browser.close();
}
