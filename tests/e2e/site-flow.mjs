// The site owner's screens in a real browser (Debian's Chromium, driven by playwright-core):
// site settings, a page with its settings and search preview, the navigation menus (saved
// with JavaScript off: a plain form), and the dashboard's views chart after readers came.
// Screenshots in light and dark land in artifacts/.
//
// Usage: BASE_URL=… LOGIN=… PASSWORD=… POST=<a post's slug> node site-flow.mjs
import { base, expect, shot, launch, signedIn as logIn } from './browser.mjs';

// Headless Chromium says "HeadlessChrome", which the statistics rightly take for a robot.
const READER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

const browser = await launch();
const signedIn = (options) => logIn(browser, options);

try {
  const { context, page: a } = await signedIn();
  const errors = [];
  a.on('pageerror', (e) => errors.push(e.message));

  // ---- site settings: a timezone from the suggestions, an accent colour ----
  await a.goto(`${base}/admin/settings`);
  await a.getByLabel('Timezone').fill('Europe/Berlin');
  await a.getByLabel('Accent colour').fill('#1e6fd9');
  await a.getByRole('button', { name: 'Save settings' }).click();
  await a.locator('.notice', { hasText: 'Saved' }).waitFor();
  expect(await a.getByLabel('Timezone').inputValue() === 'Europe/Berlin', 'the timezone kept');
  await shot(a, 'settings.png');
  // A bad zone comes back with the reason and the form as typed.
  await a.getByLabel('Timezone').fill('Mars/Olympus');
  await a.getByRole('button', { name: 'Save settings' }).click();
  await a.locator('#timezone-error').waitFor();
  expect(await a.getByLabel('Timezone').inputValue() === 'Mars/Olympus', 'the bad zone kept');

  // ---- a page, its settings and the search preview (kept current by the script) ----
  await a.goto(`${base}/admin/pages/new`);
  await a.locator('form.editor.enhanced').waitFor();
  await a.getByLabel('Title', { exact: true }).fill('About this site');
  // The address sits in a folded section below the writing (issue 27, item 5).
  await a.locator('#post-details summary').click();
  await a.getByLabel('Slug').fill('about-us');
  await a.getByLabel('Body (Markdown)').fill('We write about **quiet software**, slowly.\n\nMail us any time.');
  await a.locator('details.post-settings summary').click();
  await a.getByLabel('Meta description').fill('Who writes here, and why.');
  await a.locator('#serp-description', { hasText: 'Who writes here, and why.' }).waitFor();
  const serpTitle = await a.locator('#serp-title').textContent();
  expect(serpTitle.startsWith('About this site · '), `the preview's title (${serpTitle})`);
  await a.getByLabel('Cover image alt text').fill('A desk by a window');
  expect((await a.locator('#serp-url').textContent()).endsWith('/about-us'), 'the preview follows the slug');
  await a.locator('#live-preview-body strong', { hasText: 'quiet software' }).waitFor();
  await shot(a, 'page-editor.png');
  await a.getByRole('button', { name: 'Publish now' }).click();
  await a.waitForURL(/\/admin\/posts\/\d+\/edit\?saved=1(&published=1)?$/);
  expect(await a.locator('h1').textContent() === 'Edit page', 'the editor knows a page');

  // ---- navigation, with JavaScript off: a plain form ----
  const plain = await signedIn({ javaScriptEnabled: false });
  const n = plain.page;
  await n.goto(`${base}/admin/navigation`);
  const labels = n.locator('input[name="header.label"]');
  const urls = n.locator('input[name="header.url"]');
  const filled = await labels.evaluateAll((els) => els.filter((e) => e.value).length);
  await labels.nth(filled).fill('About');
  await urls.nth(filled).fill('/about-us');
  await n.getByRole('button', { name: 'Save navigation' }).click();
  await n.locator('.notice', { hasText: 'Saved' }).waitFor();
  // A javascript: link is refused, the row kept and marked.
  await labels.nth(filled + 1).fill('Trap');
  await urls.nth(filled + 1).fill('javascript:alert(1)');
  await n.getByRole('button', { name: 'Save navigation' }).click();
  await n.locator('tr.has-error .field-error').waitFor();
  await shot(n, 'navigation.png');
  await plain.context.close();

  // ---- readers: the menu leads to the page; they read a post ----
  const readers = await browser.newContext({ viewport: { width: 1280, height: 900 }, userAgent: READER_UA });
  const r = await readers.newPage();
  await r.goto(`${base}/`);
  await r.locator('.site-header nav a', { hasText: 'About' }).click();
  await r.waitForURL(`${base}/about-us`);
  expect(await r.locator('h1').textContent() === 'About this site', 'the page from the menu');
  expect(await r.locator('meta[name=description]').getAttribute('content') === 'Who writes here, and why.', 'the meta description');
  await shot(r, 'page.png');
  for (let i = 0; i < 4; i++) await r.goto(`${base}/posts/${process.env.POST}`);
  await readers.close();
  const dark = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark', userAgent: READER_UA });
  const d = await dark.newPage();
  await d.goto(`${base}/about-us`);
  await shot(d, 'page-dark.png');
  await dark.close();

  // ---- the dashboard: the chart counts those views once they are flushed ----
  let total = 0;
  for (let i = 0; i < 40 && total < 4; i++) {
    await a.goto(`${base}/admin`);
    // "No views yet…" until the first are counted, then "1,234 views of all posts…".
    const lede = await a.locator('.views .lede').first().textContent();
    total = Number((lede.match(/^\s*([\d,]+) views?/) || [0, '0'])[1].replace(/,/g, ''));
    if (total < 4) await a.waitForTimeout(250);
  }
  expect(total >= 4, `the dashboard counts readers' views (${total})`);
  expect(await a.locator('.chart rect').count() === 30, 'thirty days of bars');
  await shot(a, 'dashboard.png');
  await context.close();
  const { context: darkAdmin, page: ad } = await signedIn({ colorScheme: 'dark' });
  await ad.goto(`${base}/admin`);
  await shot(ad, 'dashboard-dark.png');
  await ad.goto(`${base}/admin/settings`);
  await shot(ad, 'settings-dark.png');
  await darkAdmin.close();

  expect(errors.length === 0, `no script errors (${errors.join('; ')})`);
  console.log('site flow passed');
} finally {
  await browser.close();
}
