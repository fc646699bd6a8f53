// Live updates in a real browser (Debian's Chromium, driven by playwright-core), across two
// instances of the app that share PostgreSQL and Redis: a reader's page on one shows a comment
// posted on the other without reloading, and loses it when a moderator hides it; two editors
// on the two instances see each other in the editor, and one hears at once that the other
// saved. Screenshots in artifacts/.
//
// Usage: BASE_URL=… BASE2=… POST=<slug> POST_ID=… LOGIN=… LOGIN2=… PASSWORD=… node live-flow.mjs
import { base, expect, shot, launch } from './browser.mjs';

const base2 = process.env.BASE2;
const { POST: slug, POST_ID: postId, LOGIN: login, LOGIN2: login2, PASSWORD: password } = process.env;
if (!base2 || !slug || !postId || !login || !login2 || !password) throw new Error('BASE2, POST, POST_ID, LOGIN, LOGIN2 and PASSWORD');

const browser = await launch();

// A page of its own (cookies and all), logged in on `site` when `who` is given.
async function person(site, who) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (who) {
    await page.goto(`${site}/login`);
    await page.getByLabel('Username or email').fill(who);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${site}/`);
  }
  return { context, page, errors };
}

// Open `url` and wait until its live socket is in use: the post page's first message sent,
// the editor's first one heard.
function openLive(page, url) {
  let timer;
  const ready = new Promise((resolve, reject) => {
    // Never wait forever: a socket that doesn't open or stays silent says so.
    timer = setTimeout(() => reject(new Error(`${url}: no live socket in use after 15 s`)), 15000);
    // The socket of the page being opened: the page left behind may still reconnect its own
    // while the new one loads (slowly, on a busy machine), and that one soon goes.
    const want = url.includes('/admin/posts/') ? '/editor' : '/comments';
    const watch = (ws) => {
      if (!ws.url().endsWith(want)) return;
      page.off('websocket', watch);
      ws.once(want === '/comments' ? 'framesent' : 'framereceived', () => resolve(ws));
      ws.once('socketerror', (e) => reject(new Error(`${ws.url()}: ${e}`)));
      ws.once('close', () => reject(new Error(`${ws.url()} closed at once`)));
    };
    page.on('websocket', watch);
  });
  return page.goto(url).then(() => ready).finally(() => clearTimeout(timer));
}

try {
  // ---- a reader on instance 1, a commenter (an editor) on instance 2 ----
  const reader = await person(base);
  await openLive(reader.page, `${base}/posts/${slug}`);
  const mira = await person(base2, login);
  await mira.page.goto(`${base2}/posts/${slug}`);
  await mira.page.getByLabel('Add a comment').fill('Posted on the *other* server.');
  await mira.page.getByRole('button', { name: 'Post comment' }).click();
  await mira.page.waitForURL(/#comment-\d+$/);

  // The reader's page shows it, without a reload: rendered, counted, announced.
  const live = reader.page.locator('#comments article.comment', { hasText: 'Posted on the other server.' });
  await live.waitFor();
  expect(await live.locator('em').textContent() === 'other', 'the Markdown rendered');
  expect(await reader.page.locator('#comments-title').textContent() === '1 comment', 'the count follows');
  await shot(reader.page, 'live-comment.png');

  // Mira hides it (a moderator, on her server): it goes from the reader's page.
  await mira.page.getByRole('button', { name: 'Hide' }).click();
  await live.waitFor({ state: 'detached' });
  expect(await reader.page.locator('#comments-title').textContent() === 'Comments', 'the count follows');

  // ---- two editors, one post, two servers ----
  const editUrl = (site) => `${site}/admin/posts/${postId}/edit`;
  await openLive(mira.page, editUrl(base2));
  const jonas = await person(base, login2);
  await openLive(jonas.page, editUrl(base));
  const miraName = await mira.page.locator('.account-name').textContent();
  const jonasName = await jonas.page.locator('.account-name').textContent();
  await jonas.page.locator('#editor-presence', { hasText: `${miraName.trim()} is editing this post.` }).waitFor();
  await mira.page.locator('#editor-presence', { hasText: `${jonasName.trim()} is editing this post.` }).waitFor();

  // Mira saves: Jonas is warned at once, before he saves over her.
  await mira.page.getByLabel('Body (Markdown)').fill('Mira rewrote this.');
  await mira.page.getByRole('button', { name: 'Save', exact: true }).click();
  await mira.page.waitForURL(/saved=1/);
  const warning = jonas.page.locator('#editor-saved');
  await warning.waitFor();
  expect((await warning.textContent()).startsWith(`${miraName.trim()} saved this at`), 'who saved, said');
  await shot(jonas.page, 'editor-presence.png');

  // Mira leaves: Jonas's note goes.
  await mira.page.goto(`${base2}/`);
  await jonas.page.locator('#editor-presence').waitFor({ state: 'hidden' });

  for (const who of [reader, mira, jonas]) {
    expect(who.errors.length === 0, `no script errors: ${who.errors.join('; ')}`);
  }
  console.log('live flow passed');
} finally {
  await browser.close();
}
