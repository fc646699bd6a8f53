// The whole reading-and-writing story in a real browser (Debian's Chromium, driven by
// playwright-core): setup admin -> second user registers -> admin makes them an author ->
// author uploads an image, writes, previews, publishes -> a logged-out reader finds the post
// -> a reader registers and comments -> someone new continues with GitHub (the test's local
// provider) and lands logged in -> the reader links GitHub from /account (out and back). Fields are found by their visible labels.
//
// Usage: BASE_URL=http://127.0.0.1:PORT node flow.mjs   (the Rust test `e2e` runs it)
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = process.env.BASE_URL;
const artifacts = process.env.ARTIFACTS || path.join(here, 'artifacts');
if (!base) throw new Error('BASE_URL is not set');
mkdirSync(artifacts, { recursive: true });

const PASSWORD = 'correct horse battery staple';
const expect = (cond, what) => { if (!cond) throw new Error(`expected: ${what}`); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function person(timezoneId = 'UTC') {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, timezoneId });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  return { context, page };
}

async function register(page, username) {
  await page.goto(`${base}/register`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Email', { exact: true }).fill(`${username}@example.com`);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${base}/`);
}

try {
  // 1. The first visitor sets up the site.
  const admin = await person();
  await admin.page.goto(`${base}/setup`);
  await admin.page.getByLabel('Username', { exact: true }).fill('root');
  await admin.page.getByLabel('Display name (optional)').fill('Site Admin');
  await admin.page.getByLabel('Email', { exact: true }).fill('root@example.com');
  await admin.page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await admin.page.getByRole('button', { name: 'Create administrator' }).click();
  await admin.page.waitForURL(`${base}/`);
  expect(await admin.page.locator('.account-name').textContent() === 'Site Admin', 'admin is logged in');

  // 2. A second person registers.
  const writer = await person('Europe/Paris');
  await register(writer.page, 'wanda');

  // 3. The admin makes them an author.
  await admin.page.goto(`${base}/admin/users`);
  const row = admin.page.locator('tr', { hasText: '@wanda' });
  await row.getByLabel('Role of wanda').selectOption('author');
  await row.getByRole('button', { name: 'Change' }).click();
  await admin.page.waitForURL(`${base}/admin/users`);

  // 4. The author uploads an image, writes, previews and publishes.
  const w = writer.page;
  await w.goto(`${base}/admin/media`);
  await w.getByLabel('Image file').setInputFiles(path.join(here, 'fixtures', 'cover.png'));
  await w.getByRole('button', { name: 'Upload' }).click();
  await w.waitForURL(/\/admin\/media\?uploaded=/);
  const snippet = await w.getByLabel('Markdown for the new image').inputValue();
  expect(snippet.startsWith('![') && snippet.includes('/uploads/'), 'a Markdown snippet');

  await w.goto(`${base}/admin/posts/new`);
  // The settings are folded below the writing (issue 27, item 5): open them.
  await w.locator('#publishing summary').click();
  await w.locator('#post-details summary').click();
  // The schedule field speaks the author's time zone once the page's script has run.
  await w.locator('#publish_at_zone', { hasText: 'Europe/Paris' }).waitFor();
  expect(await w.locator('#tz_offset').inputValue() === '-60', 'the browser sends its UTC offset');
  await w.getByLabel('Title', { exact: true }).fill('Notes From the Browser');
  await w.getByLabel('Tags', { exact: true }).fill('Testing, Browsers');
  await w.getByLabel('Body (Markdown)').fill(
    `Written in **Chromium**, end to end.\n\n${snippet}\n\n- labels find fields\n- forms need no JavaScript\n`);
  await w.getByRole('button', { name: 'Preview' }).click();
  await w.locator('.preview img').waitFor();
  expect(await w.locator('.preview strong').textContent() === 'Chromium', 'the preview renders Markdown');
  await w.screenshot({ path: path.join(artifacts, 'editor.png'), fullPage: true });
  await w.locator('#publishing summary').click();
  await w.getByLabel('Published', { exact: true }).check();
  await w.getByRole('button', { name: 'Save' }).click();
  await w.waitForURL(/\/admin\/posts\/\d+\/edit\?saved=1/);

  // 5. A logged-out reader finds it on the home page and opens it.
  const reader = await person();
  await reader.page.goto(`${base}/`);
  await reader.page.getByRole('link', { name: 'Notes From the Browser' }).click();
  await reader.page.waitForURL(`${base}/posts/notes-from-the-browser`);
  const img = reader.page.locator('.prose img');
  await img.waitFor();
  // Made on the spot if its job hasn't run yet (issue 28): wait for it to arrive.
  // (`naturalWidth` is in CSS pixels: with a `srcset` the browser scales it by `sizes`.)
  const loaded = await img.evaluate((el) => el.complete && el.naturalWidth
    ? el.currentSrc
    : new Promise((done) => { el.addEventListener('load', () => done(el.currentSrc)); el.addEventListener('error', () => done('')); }));
  expect(loaded.includes('/uploads/'), `the uploaded image loads (${loaded})`);
  expect(await img.getAttribute('width') === '64', 'the image carries its width');
  await reader.page.screenshot({ path: path.join(artifacts, 'post.png'), fullPage: true });

  // 6. A reader registers and comments.
  await register(reader.page, 'rhea');
  await reader.page.goto(`${base}/posts/notes-from-the-browser`);
  await reader.page.getByLabel('Add a comment').fill('Lovely *post*, thanks!');
  await reader.page.getByRole('button', { name: 'Post comment' }).click();
  await reader.page.waitForURL(/#comment-\d+$/);
  expect(await reader.page.locator('.comment-body em').textContent() === 'post', 'the comment is shown');
  await reader.page.screenshot({ path: path.join(artifacts, 'comment.png'), fullPage: true });
  // 7. Someone new continues with GitHub: out to the provider, back, logged in.
  const octo = await person();
  await octo.page.goto(`${base}/login`);
  await octo.page.screenshot({ path: path.join(artifacts, 'login.png'), fullPage: true });
  await octo.page.getByRole('link', { name: 'Continue with GitHub' }).click();
  await octo.page.waitForURL(`${base}/`);
  expect(await octo.page.locator('.account-name').textContent() === 'Octo Cat', 'logged in with GitHub');
  await octo.page.goto(`${base}/account`);
  await octo.page.getByRole('button', { name: 'Unlink GitHub' }).waitFor();
  await octo.page.screenshot({ path: path.join(artifacts, 'account.png'), fullPage: true });
  // 8. Linking GitHub from /account is a form POST that redirects to the provider: the
  // Content-Security-Policy's form-action must name the provider, or the browser stops
  // there. Octo's GitHub account is taken by now, so Rhea comes back to a page saying so.
  await reader.page.goto(`${base}/account`);
  await reader.page.getByRole('button', { name: 'Link GitHub' }).click();
  await reader.page.waitForURL(/\/auth\/github\/callback\?/);
  await reader.page.getByRole('heading', { name: 'This GitHub account is linked to someone else' }).waitFor();
  await reader.page.screenshot({ path: path.join(artifacts, 'link-taken.png'), fullPage: true });
  // 9. A callback that this browser never started is refused with a page that says why.
  const stranger = await person();
  const refused = await stranger.page.goto(`${base}/auth/github/callback?code=planted&state=forged`);
  expect(refused.status() === 403, 'a planted callback is 403');
  await stranger.page.getByRole('link', { name: 'Try again' }).waitFor();
  await stranger.page.screenshot({ path: path.join(artifacts, 'signin-refused.png'), fullPage: true });
  console.log('e2e flow passed');
} finally {
  await browser.close();
}
