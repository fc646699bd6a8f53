// What the browser flows share: the address under test, where screenshots go, a check that
// throws, Chromium launched the same way, and a page logged in as LOGIN / PASSWORD.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const base = process.env.BASE_URL;
export const artifacts = process.env.ARTIFACTS || path.join(here, 'artifacts');
if (!base) throw new Error('BASE_URL is not set');
mkdirSync(artifacts, { recursive: true });

export const expect = (cond, what) => { if (!cond) throw new Error(`expected: ${what}`); };
export const shot = (page, name) => page.screenshot({ path: path.join(artifacts, name), fullPage: true });

export const launch = () => chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// A new context (`options` for playwright's newContext) logged in through the form.
export async function signedIn(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(`${base}/login`);
  await page.getByLabel('Username or email').fill(process.env.LOGIN);
  await page.getByLabel('Password', { exact: true }).fill(process.env.PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${base}/`);
  return { context, page };
}
