// Every reading page and every admin screen through axe-core (WCAG 2.2 A and AA rules), light
// and dark, and each at 390 px and 320 px wide, where nothing may be wider than the screen.
// Run by tests/it/e2e.rs against a seeded site; any violation fails with what and where.
//
// Usage: BASE_URL=… LOGIN=… PASSWORD=… PATHS=<reading paths, comma-separated>
//        ADMIN_PATHS=<admin paths, comma-separated> node a11y.mjs
import { createRequire } from 'node:module';
import { base, expect, shot, launch } from './browser.mjs';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');
const reading = (process.env.PATHS || '/').split(',').filter(Boolean);
const admin = (process.env.ADMIN_PATHS || '').split(',').filter(Boolean);

const browser = await launch();
const problems = [];
let checked = 0;

// A context as a reader or as the admin (logged in through the form), in a colour scheme.
// bypassCSP lets axe's script in; the pages' own policy is tested elsewhere.
async function context(colorScheme, signedIn) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme, bypassCSP: true });
  if (signedIn) {
    const page = await ctx.newPage();
    await page.goto(`${base}/login`);
    await page.getByLabel('Username or email').fill(process.env.LOGIN);
    await page.getByLabel('Password', { exact: true }).fill(process.env.PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${base}/`);
    await page.close();
  }
  return ctx;
}

async function audit(ctx, path, label) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  const res = await page.goto(`${base}${path}`);
  if (!res || res.status() >= 400) {
    problems.push(`${label} ${path}: HTTP ${res && res.status()}`);
    await page.close();
    return;
  }
  // Open every <details> (menus, folded settings), so what they hold is checked too.
  await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true; }));
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    // Swagger UI's vendored page is not ours to fix; nothing else is left out.
    return await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
  });
  for (const v of result.violations) {
    const where = v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`).join(' | ');
    problems.push(`${label} ${path}: ${v.id} (${v.impact}, ${v.nodes.length}×) ${v.help} — ${where}`);
  }
  // Phones: nothing wider than the screen, at 390 and at 320 px.
  for (const width of [390, 320]) {
    await page.setViewportSize({ width, height: 800 });
    const wide = await page.evaluate(() => {
      const w = document.documentElement.clientWidth;
      const over = [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-scroll, .admin-table, pre, .prose table, .live-preview, [hidden]'))
        .filter((e) => getComputedStyle(e).position !== 'fixed' && e.getClientRects().length > 0)
        .slice(0, 3)
        .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${[...e.classList].join('.')} (${Math.round(e.getBoundingClientRect().right)} px)`);
      return { scroll: document.documentElement.scrollWidth, w, over };
    });
    if (wide.scroll > wide.w) problems.push(`${label} ${path} at ${width} px: page is ${wide.scroll} px wide: ${wide.over.join(', ')}`);
  }
  checked += 1;
  await page.close();
}

try {
  for (const scheme of ['light', 'dark']) {
    const anon = await context(scheme, false);
    for (const path of reading) await audit(anon, path, `reader/${scheme}`);
    await anon.close();
    const staff = await context(scheme, true);
    for (const path of [...reading.slice(0, 2), ...admin]) await audit(staff, path, `admin/${scheme}`);
    // The header's account menu, open, on a phone.
    const page = await staff.newPage();
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${base}/`);
    await page.locator('.account-menu summary').click();
    await page.getByRole('link', { name: 'Account' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'the open account menu fits a phone');
    await shot(page, `a11y-account-menu-${scheme}.png`);
    await page.close();
    await staff.close();
  }
} finally {
  await browser.close();
}

console.log(`checked ${checked} screens`);
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log('a11y flow passed');
