// The media library in a real browser (issue 28, item 4): the grid and an image's page, the
// editor's Image button opening the library's dialog and inserting the image's Markdown with
// its stored alt text at the cursor, and the cover's picker filling the field; screenshots
// of the grid, the page, the dialog and the picker, light and dark, at 1280 and 390 px.
//
// Usage: BASE_URL=… LOGIN=… PASSWORD=… UPLOAD_ID=… UPLOAD_NAME=… ALT=… node media-flow.mjs
import { base, expect, shot, launch, signedIn } from './browser.mjs';

const id = process.env.UPLOAD_ID;
const name = process.env.UPLOAD_NAME;
const alt = process.env.ALT;
const browser = await launch();

async function fits(page, what) {
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
  expect(scroll <= inner, `${what} fits the window (${scroll} > ${inner})`);
}

try {
  const { page: w } = await signedIn(browser, { viewport: { width: 1280, height: 900 } });
  const errors = [];
  w.on('pageerror', (e) => errors.push(e.message));

  // The grid and the image's page.
  await w.goto(`${base}/admin/media`);
  expect(await w.locator('.media-tile').count() >= 1, 'the grid shows the upload');
  await shot(w, 'media-grid.png');
  await w.goto(`${base}/admin/media/${id}`);
  expect((await w.locator('#snippet').inputValue()) === `![${alt}](/uploads/${name})`, 'the page gives the Markdown');
  await shot(w, 'media-detail.png');

  // The editor's Image button: the dialog, then the Markdown at the cursor.
  await w.goto(`${base}/admin/posts/new`);
  await w.locator('form.editor.enhanced').waitFor();
  await w.locator('#title').fill('Chosen in the browser');
  const body = w.getByLabel('Body (Markdown)');
  await body.click();
  await w.keyboard.type('Before the image.');
  await w.locator('#md-toolbar button[data-md=image]').click();
  const dialog = w.locator('#media-dialog');
  await dialog.waitFor({ state: 'visible' });
  await w.locator('#media-dialog .media-choice').first().waitFor();
  await shot(w, 'media-dialog.png');
  await w.locator('#media-dialog-q').fill('nothing matches this');
  await w.locator('#media-dialog-status', { hasText: 'No image matches' }).waitFor();
  await w.locator('#media-dialog-q').fill('');
  await w.locator('#media-dialog .media-choice').first().waitFor();
  await w.locator('#media-dialog .media-choice').first().click();
  await dialog.waitFor({ state: 'hidden' });
  const text = await body.inputValue();
  expect(text === `Before the image.\n\n![${alt}](/uploads/${name})\n\n`, `the Markdown is inserted: ${JSON.stringify(text)}`);

  // The cover's picker: a click on the thumbnail fills the field.
  await w.locator('#post-details > summary').click();
  const cover = w.locator('[data-image-field]', { has: w.locator('#cover_image') });
  await cover.locator('summary', { hasText: 'Choose from the library' }).click();
  await shot(w, 'media-picker.png');
  // (The script then turns the radio back to "keep the address": the field holds the pick.)
  await cover.locator('label.pick', { has: w.locator(`input[value="${name}"]`) }).locator('img').click();
  expect((await w.locator('#cover_image').inputValue()) === `/uploads/${name}`, 'the picker fills the cover field');
  await w.locator('button[name=intent][value=save]').first().click();
  await w.waitForURL(/\/admin\/posts\/\d+\/edit/);
  expect((await w.locator('#cover_image').inputValue()) === `/uploads/${name}`, 'the cover is saved');
  expect(errors.length === 0, `no script errors: ${errors.join('; ')}`);

  // Dark, on a phone.
  const { page: d } = await signedIn(browser, { viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  await d.goto(`${base}/admin/media`);
  await fits(d, 'the grid');
  await shot(d, 'media-grid-dark-390.png');
  await d.goto(`${base}/admin/media/${id}`);
  await fits(d, 'the image page');
  await shot(d, 'media-detail-dark-390.png');
  await d.goto(`${base}/admin/posts/new`);
  await d.locator('#post-details > summary').click();
  await d.locator('[data-image-field]', { has: d.locator('#cover_image') }).locator('summary').click();
  await fits(d, 'the picker');
  await shot(d, 'media-picker-dark-390.png');
  const { page: l } = await signedIn(browser, { viewport: { width: 390, height: 844 } });
  await l.goto(`${base}/admin/media`);
  await fits(l, 'the grid (light)');
  await shot(l, 'media-grid-390.png');
  console.log('media flow passed');
} finally {
  await browser.close();
}
