// A RealWorld-style front-end (tests/e2e/conduit, served by the Rust test on another
// origin) driving Quire's JSON API in headless Chromium, so CORS preflights happen for real:
// register, sign in, write an article with tags, list by tag, favourite it, comment, follow
// the author and see the article in the feed.
//
// Usage: BASE_URL=http://127.0.0.1:APP FRONT_URL=http://127.0.0.1:OTHER node api-flow.mjs
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = process.env.BASE_URL;
const front = process.env.FRONT_URL;
const artifacts = process.env.ARTIFACTS || path.join(here, 'artifacts');
if (!base || !front) throw new Error('BASE_URL and FRONT_URL must be set');
if (new URL(base).origin === new URL(front).origin) throw new Error('the front-end must be on another origin');
mkdirSync(artifacts, { recursive: true });

const PASSWORD = 'a long front-end passphrase';
const expect = (cond, what) => { if (!cond) throw new Error(`expected: ${what}`); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function client() {
  const context = await browser.newContext({ viewport: { width: 1000, height: 1400 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const failures = [];
  page.on('console', (m) => { if (m.type() === 'error') failures.push(m.text()); });
  page.on('pageerror', (e) => failures.push(String(e)));
  await page.goto(`${front}/?api=${encodeURIComponent(base)}`);
  return { context, page, failures };
}

const status = (page) => page.locator('#status');
async function saysSoon(page, text) {
  await status(page).filter({ hasText: text }).waitFor();
}

async function signUp(page, username) {
  const form = page.locator('#register');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Email').fill(`${username}@example.com`);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Sign up' }).click();
}

try {
  // 1. The author signs up, signs out, and signs in again.
  const ada = await client();
  await signUp(ada.page, 'ada');
  await saysSoon(ada.page, 'Welcome, ada');
  await ada.page.getByRole('button', { name: 'Sign out' }).click();
  await saysSoon(ada.page, 'Signed out');
  const login = ada.page.locator('#login');
  await login.getByLabel('Login email').fill('ada@example.com');
  await login.getByLabel('Login password').fill('not the password');
  await login.getByRole('button', { name: 'Sign in' }).click();
  // The API's error reaches the page's script: CORS headers are on errors too.
  await saysSoon(ada.page, '401');
  await login.getByLabel('Login password').fill(PASSWORD);
  await login.getByRole('button', { name: 'Sign in' }).click();
  await saysSoon(ada.page, 'Welcome, ada');
  expect(await ada.page.locator('#me').textContent() === 'ada', 'signed in as ada');

  // 2. Writes an article with tags.
  const editor = ada.page.locator('#editor');
  await editor.getByLabel('Article title').fill('Dragons over Paris');
  await editor.getByLabel("What's this article about?").fill('A sighting');
  await editor.getByLabel('Write your article (in markdown)').fill('They flew **low** over the river.');
  await editor.getByLabel('Enter tags').fill('dragons, paris');
  await editor.getByRole('button', { name: 'Publish Article' }).click();
  await saysSoon(ada.page, 'Published dragons-over-paris');
  expect(await ada.page.locator('#tags').textContent() === 'dragons, paris', 'sorted tags');
  // The same post on the site, rendered as the editor would.
  const site = await ada.context.newPage();
  await site.goto(`${base}/posts/dragons-over-paris`);
  expect((await site.locator('h1').first().textContent()).includes('Dragons over Paris'), 'the post on the site');
  expect(await site.locator('article strong').first().textContent() === 'low', 'Markdown rendered');
  await site.close();

  // 3. A second person signs up (the name is taken once: the 409 comes through).
  const bob = await client();
  await signUp(bob.page, 'ada');
  await saysSoon(bob.page, '409: username');
  await signUp(bob.page, 'bob');
  await saysSoon(bob.page, 'Welcome, bob');

  // 4. Lists by tag and opens the article.
  const byTag = bob.page.locator('#by-tag');
  await byTag.getByLabel('Tag').fill('dragons');
  await byTag.getByRole('button', { name: 'List by tag' }).click();
  await saysSoon(bob.page, '1 article(s) tagged dragons');
  await bob.page.getByRole('button', { name: 'Dragons over Paris' }).click();
  await bob.page.locator('#title').filter({ hasText: 'Dragons over Paris' }).waitFor();

  // 5. Favourites it.
  await bob.page.getByRole('button', { name: 'Favorite Article' }).click();
  await bob.page.getByRole('button', { name: 'Unfavorite Article' }).waitFor();
  expect(await bob.page.locator('#favorites').textContent() === '1', 'one favourite');

  // 6. Comments.
  await bob.page.getByLabel('Write a comment').fill('Lovely dragons');
  await bob.page.getByRole('button', { name: 'Post Comment' }).click();
  await saysSoon(bob.page, 'Comment posted');
  await bob.page.locator('#comments li').filter({ hasText: 'bob: Lovely dragons' }).waitFor();

  // 7. Follows the author, and sees the article in the feed.
  await bob.page.getByRole('button', { name: 'Follow', exact: true }).click();
  await bob.page.getByRole('button', { name: 'Unfollow' }).waitFor();
  await bob.page.getByRole('button', { name: 'Your Feed' }).click();
  await saysSoon(bob.page, '1 article(s) in your feed');
  await bob.page.locator('#feed-list li').filter({ hasText: 'Dragons over Paris' }).waitFor();
  await bob.page.screenshot({ path: path.join(artifacts, 'api-front-end.png'), fullPage: true });

  // The only console errors allowed are the refusals the flow asked for (401, 409).
  for (const { failures } of [ada, bob]) {
    const unexpected = failures.filter((f) => !/status of (401|409)/.test(f));
    expect(unexpected.length === 0, `no console errors: ${unexpected.join(' | ')}`);
  }
  console.log('api front-end flow passed');
} finally {
  await browser.close();
}
