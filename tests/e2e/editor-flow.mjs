// The enhanced editor in a real browser (Debian's Chromium, driven by playwright-core), and
// the same writing with JavaScript off. With the script: type and see the live preview
// follow, autosave after a pause (reload: the text is there), paste an image and see it
// uploaded and inserted with its alt text selected, the warning before leaving unsaved
// text, Ctrl+S, and the Write/Preview toggle on a narrow screen. The layout puts writing
// first (issue 27, item 5): Title has the focus on a new post, the Markdown toolbar and its
// shortcuts wrap the selection, the save state reads "Unsaved changes", "Saving…", "Saved",
// and the bar with it stays in the window while a long body is typed, at 1280x860 and at
// 390 px. Without it: preview, save and publish still work as plain forms, no toolbar.
//
// Usage: BASE_URL=… LOGIN=… PASSWORD=… node editor-flow.mjs   (the Rust test `e2e` runs it)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { here, base, expect, shot, launch, signedIn as logIn } from './browser.mjs';

const browser = await launch();
const signedIn = (options = {}) => logIn(browser, { viewport: { width: 1280, height: 860 }, ...options });

// The bar with Save and Publish: wholly inside the window, its buttons too.
async function barInView(page, what) {
  const box = await page.evaluate(() => {
    const r = document.querySelector('.editor-bar').getBoundingClientRect();
    const right = Math.max(...Array.from(document.querySelectorAll('.editor-bar button'), (b) => b.getBoundingClientRect().right));
    return { top: r.top, bottom: r.bottom, left: r.left, right: Math.max(r.right, right), height: innerHeight, width: innerWidth };
  });
  expect(box.top >= 0 && box.bottom <= box.height + 0.5 && box.left >= 0 && box.right <= box.width + 0.5,
    `the bar is in view ${what}: ${JSON.stringify(box)}`);
}

try {
  // ---- with JavaScript ----
  const { context, page: w } = await signedIn();
  const errors = [];
  w.on('pageerror', (e) => errors.push(e.message));
  // (A refused upload below logs "Failed to load resource": that one is expected.)
  w.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  await w.goto(`${base}/admin/posts/new`);
  await w.locator('form.editor.enhanced').waitFor();
  expect(await w.evaluate(() => document.activeElement && document.activeElement.id) === 'title',
    'Title has the focus on a new post');
  // Every state the save line shows, in order.
  await w.evaluate(() => {
    window.seenStates = [];
    const line = document.getElementById('editor-status');
    new MutationObserver(() => {
      const text = line.textContent.trim();
      if (text && window.seenStates[window.seenStates.length - 1] !== text) window.seenStates.push(text);
    }).observe(line, { childList: true, characterData: true, subtree: true });
  });
  expect(await w.locator('#editor-status').textContent() === 'Not saved yet', 'a new post is not saved yet');
  await w.keyboard.type('Typed Live');
  const body = w.getByLabel('Body (Markdown)');
  await body.click();
  await w.keyboard.type('Hello **world**, this is typed.\n\n```rust\nfn main() {}\n```\n');

  // The preview follows, rendered by the server: bold, and highlighted code.
  await w.locator('#live-preview-body strong', { hasText: 'world' }).waitFor();
  await w.locator('#live-preview-body pre [class^="hl-"]').first().waitFor();
  const count = await w.locator('#editor-count').textContent();
  expect(/^\d+ words · 1 min read$/.test(count), `a word count (${count})`);

  // Leaving with unsaved text asks first (before the autosave comes).
  await w.keyboard.type('More.');
  const asked = new Promise((resolve) => w.once('dialog', async (d) => { const t = d.type(); await d.dismiss(); resolve(t); }));
  await w.close({ runBeforeUnload: true });
  expect(await asked === 'beforeunload', 'a warning before leaving unsaved text');

  // Autosave after a pause: the new post is created as a draft and the address follows.
  await w.locator('#editor-status', { hasText: /^Saved just now/ }).waitFor();
  await w.waitForURL(/\/admin\/posts\/\d+\/edit$/);
  const states = await w.evaluate(() => window.seenStates);
  expect(states[0] === 'Unsaved changes' && states.includes('Saving…') && /^Saved just now/.test(states[states.length - 1]),
    `the save state follows: ${states.join(' → ')}`);
  // It counts on while nothing changes ("Saved 6 s ago").
  await w.locator('#editor-status .ago', { hasText: /\d+ s ago/ }).waitFor({ timeout: 15000 });
  const editUrl = w.url();
  await w.reload();
  expect((await body.inputValue()).includes('this is typed.\n') && (await body.inputValue()).includes('More.'),
    'the autosaved text is there after a reload');

  // Paste an image: uploaded, and its Markdown inserted with the alt text selected.
  const png = readFileSync(path.join(here, 'fixtures', 'cover.png')).toString('base64');
  await body.click();
  await w.keyboard.press('Control+End');
  await w.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], 'my-diagram.png', { type: 'image/png' }));
    document.getElementById('body').dispatchEvent(
      new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, png);
  await w.waitForFunction(() => /!\[my-diagram\]\(\/uploads\/[0-9a-f]+\.png\)/.test(document.getElementById('body').value));
  const selected = await body.evaluate((el) => el.value.slice(el.selectionStart, el.selectionEnd));
  expect(selected === 'my-diagram', `the alt text is selected (${selected})`);
  await w.keyboard.type('A diagram');
  await w.locator('#live-preview-body img[alt="A diagram"]').waitFor();
  // The alt text's autosave first: its "Saved" would replace the refusal below before a busy
  // machine's browser is asked for it.
  await w.locator('#editor-status .ago').waitFor({ timeout: 15000 });
  // A file that isn't an image is refused with the reason (which stays: the text is as it
  // was, so no "Unsaved changes" replaces it), and nothing is inserted.
  await w.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(['just text'], 'notes.txt', { type: 'text/plain' }));
    document.getElementById('body').dispatchEvent(
      new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  });
  await w.locator('#editor-status', { hasText: 'Only PNG, JPEG, GIF and WebP' }).waitFor();
  expect(!(await body.inputValue()).includes('Uploading'), 'the placeholder is gone');
  await shot(w, 'editor-live.png');

  // The toolbar wraps the selection: Bold puts ** ** around it; Ctrl+I makes it _italic_.
  await body.click();
  await w.keyboard.press('Control+End');
  await w.keyboard.type('\nMake this bold and this slanted.');
  await body.evaluate((el) => { const at = el.value.lastIndexOf('bold'); el.setSelectionRange(at, at + 4); });
  await w.locator('#md-toolbar').getByRole('button', { name: 'Bold' }).click();
  expect((await body.inputValue()).includes('Make this **bold** and'), 'Bold wraps the selection in ** **');
  expect(await body.evaluate((el) => el.value.slice(el.selectionStart, el.selectionEnd)) === 'bold', 'the word stays selected');
  await body.evaluate((el) => { const at = el.value.lastIndexOf('slanted'); el.setSelectionRange(at, at + 7); });
  await w.keyboard.press('Control+i');
  expect((await body.inputValue()).includes('this _slanted_.'), 'Ctrl+I wraps the selection in _ _');
  await w.locator('#live-preview-body strong', { hasText: 'bold' }).waitFor();
  // The list of shortcuts opens from the toolbar.
  await w.locator('#md-toolbar .md-help').click();
  await w.locator('#md-shortcuts', { hasText: 'Save' }).waitFor();
  expect(await w.locator('#md-toolbar .md-help').getAttribute('aria-expanded') === 'true', 'the list says it is open');

  // A long body: the bar with the save state stays in the window while typing, here and on
  // a phone.
  await body.evaluate((el) => {
    el.value += '\n\n' + Array.from({ length: 120 }, (_, i) => `Line ${i} of a long draft.`).join('\n');
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await body.click();
  await w.keyboard.press('Control+End');
  await w.keyboard.type('\nStill typing at the end.');
  await barInView(w, 'at 1280x860');
  await w.locator('#editor-status', { hasText: 'Saving…' }).or(w.locator('#editor-status', { hasText: /^Saved/ })).first().waitFor();
  await w.setViewportSize({ width: 390, height: 844 });
  await body.click();
  await w.keyboard.press('Control+End');
  await w.keyboard.type(' And on a phone.');
  await barInView(w, 'at 390x844');
  await w.locator('#editor-status', { hasText: /^Saved/ }).waitFor();
  await shot(w, 'editor-phone.png');
  await w.setViewportSize({ width: 1280, height: 860 });

  // Ctrl+S saves (waiting for an autosave in flight, so it never conflicts with itself).
  await body.click();
  await w.keyboard.press('Control+End');
  await w.keyboard.type('\nSaved by keyboard.');
  await w.keyboard.press('Control+s');
  await w.waitForURL(/\/edit\?saved=1$/);
  expect((await body.inputValue()).includes('Saved by keyboard.'), 'Ctrl+S saved the text');
  await w.locator('#editor-status', { hasText: /^Saved/ }).waitFor();
  await w.getByRole('button', { name: 'Publish now' }).click();
  await w.waitForURL(/\/edit\?saved=1&published=1$/);
  expect(await w.locator('#editor-flash').textContent() === 'Published.', 'the editor says it published');
  const reader = await browser.newPage();
  await reader.goto(`${base}/posts/typed-live`);
  expect(await reader.locator('.prose img[alt="A diagram"]').count() === 1, 'published with the image: ' + await reader.locator('.prose').innerHTML());
  expect((await reader.locator('.prose').textContent()).includes('Saved by keyboard.'), 'published text');
  await reader.close();

  // A published post's autosave is kept aside: readers still see the published text.
  await body.click();
  await w.keyboard.press('Control+End');
  await w.keyboard.type('\nNot yet for readers.');
  await w.locator('#editor-status', { hasText: 'kept aside' }).waitFor();
  const public_ = await (await fetch(`${base}/posts/typed-live`)).text();
  expect(!public_.includes('Not yet for readers.'), 'the published post is unchanged');
  await w.goto(editUrl);
  expect((await body.inputValue()).includes('Not yet for readers.'), 'the kept-aside text comes back');
  await w.locator('.kept-aside').waitFor();

  // A narrow screen: Write and Preview take turns.
  await w.setViewportSize({ width: 420, height: 900 });
  await w.locator('.editor-tabs button[data-show="preview"]').click();
  await w.locator('#live-preview').waitFor({ state: 'visible' });
  expect(!(await body.isVisible()), 'the body is hidden while previewing');
  await shot(w, 'editor-narrow-preview.png');
  await w.locator('.editor-tabs button[data-show="write"]').click();
  await body.waitFor({ state: 'visible' });
  expect(errors.length === 0, `no script errors: ${errors.join('; ')}`);
  await context.close();

  // The editor in dark mode, for the screenshot.
  const dark = await signedIn({ colorScheme: 'dark' });
  await dark.page.goto(editUrl);
  await dark.page.locator('#live-preview-body img').waitFor();
  await shot(dark.page, 'editor-dark.png');
  await dark.context.close();

  // ---- without JavaScript: the same writing as plain forms ----
  const plain = await signedIn({ javaScriptEnabled: false });
  const p = plain.page;
  await p.goto(`${base}/admin/posts/new`);
  expect(await p.locator('form.editor.enhanced').count() === 0, 'no enhancement without JavaScript');
  expect(!(await p.locator('#live-preview').isVisible()), 'no live pane without JavaScript');
  expect(!(await p.locator('#md-toolbar').isVisible()), 'no toolbar without JavaScript');
  expect(await p.evaluate(() => document.activeElement && document.activeElement.id) === 'title',
    'Title has the focus without JavaScript too');
  await barInView(p, 'without JavaScript');
  await p.getByLabel('Title', { exact: true }).fill('Written Plainly');
  await p.getByLabel('Body (Markdown)').fill('No *scripts* needed.');
  await p.getByRole('button', { name: 'Preview', exact: true }).click();
  expect(await p.locator('.preview em').textContent() === 'scripts', 'the form preview renders');
  await p.getByRole('button', { name: 'Save' }).click();
  await p.waitForURL(/\/admin\/posts\/\d+\/edit\?saved=1$/);
  await p.getByLabel('Body (Markdown)').fill('No *scripts* needed, still.');
  await p.getByRole('button', { name: 'Publish now' }).click();
  await p.waitForURL(/\/edit\?saved=1&published=1$/);
  await p.goto(`${base}/posts/written-plainly`);
  expect((await p.locator('.prose').textContent()).includes('still.'), 'published without JavaScript');
  await plain.context.close();
  console.log('editor flow passed');
} finally {
  await browser.close();
}
