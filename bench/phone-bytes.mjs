// The bytes a phone downloads for a page's images (issue 28): headless Chromium at 390 px
// wide, the page scrolled to its end so every lazy image loads, each image response's body
// counted. Prints JSON: {"dpr": n, "images": count, "bytes": total, "files": [...]}.
//
//   node bench/phone-bytes.mjs URL DPR
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { chromium } = require('../tests/e2e/node_modules/playwright-core');

const [url, dpr = '3'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const context = await browser.newContext({
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: Number(dpr),
  isMobile: true,
  hasTouch: true,
});
const page = await context.newPage();
const files = [];
page.on('response', async (res) => {
  if (res.request().resourceType() !== 'image') return;
  try {
    const body = await res.body();
    files.push({ url: new URL(res.url()).pathname, bytes: body.length });
  } catch {
    // A redirect or an aborted request carries no body.
  }
});
await page.goto(url, { waitUntil: 'networkidle' });
// Scroll to the end a screen at a time, as a reader does, so lazy images load.
for (let y = 0; y < (await page.evaluate(() => document.body.scrollHeight)); y += 600) {
  await page.evaluate((top) => window.scrollTo(0, top), y);
  await page.waitForTimeout(150);
}
await page.waitForLoadState('networkidle');
await page.waitForTimeout(500);
const bytes = files.reduce((n, f) => n + f.bytes, 0);
console.log(JSON.stringify({ dpr: Number(dpr), images: files.length, bytes, files }));
await browser.close();
