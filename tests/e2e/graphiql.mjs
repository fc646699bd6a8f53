// The GraphQL explorer (/graphql/explorer) in headless Chromium under the site's real
// Content-Security-Policy: it loads with no policy violation, no console error and no request
// leaving the site; a query runs and its answer shows; the pasted API token is sent and
// answers `viewer`; a subscription typed in it receives a comment added meanwhile. Then
// screenshots at 1280 and 390 px, light and dark, and axe-core, which must find nothing in our
// own markup (what it finds inside GraphiQL, vendored, is printed, not failed on).
//
// Usage: BASE_URL=… SITE_TITLE=… TOKEN=<an API token> USERNAME=<its account> POST=<a slug>
//        node graphiql.mjs
import { createRequire } from 'node:module';
import { base, expect, shot, launch } from './browser.mjs';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');
const { SITE_TITLE: title, TOKEN: token, USERNAME: username, POST: slug } = process.env;
if (!title || !token || !username || !slug) throw new Error('SITE_TITLE, TOKEN, USERNAME and POST must be set');

const browser = await launch();
const problems = [];
const origin = new URL(base);

// A page of the explorer in `colorScheme`, watched for policy violations, console errors,
// uncaught exceptions and any request to another address.
async function open(colorScheme, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const label = `${colorScheme} ${viewport.width}px`;
  // Init scripts run through the DevTools protocol, outside the page's policy.
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${label} console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${label} uncaught: ${e.message}`));
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.host !== origin.host) problems.push(`${label} asked another address: ${r.url()}`);
  });
  page.on('websocket', (ws) => {
    if (new URL(ws.url()).host !== origin.host) problems.push(`${label} socket to another address: ${ws.url()}`);
  });
  const schema = page.waitForResponse((r) => r.url() === `${base}/graphql`
    && (r.request().postData() || '').includes('IntrospectionQuery'));
  const res = await page.goto(`${base}/graphql/explorer`);
  expect(res.status() === 200, `the explorer answers 200, not ${res.status()}`);
  expect(await page.title() === `GraphQL explorer — ${title}`, `the title names the site: ${await page.title()}`);
  expect((await schema).status() === 200, 'the schema was read by introspection');
  await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
  // The documentation button works once the schema is in.
  await page.getByRole('button', { name: /Show Documentation Explorer/i }).waitFor();
  return { context, page, label };
}

// Put `query` in GraphiQL's query editor (CodeMirror 5), run it, and wait for `expected` in
// the response pane.
async function run(page, query, expected) {
  await page.evaluate((q) => {
    document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q);
  }, query);
  // GraphiQL parses the text a moment after each change, and runs what it parsed last (a
  // subscription goes to the socket only once it is parsed as one).
  await page.waitForFunction((q) => {
    const ast = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.documentAST;
    return !!ast && ast.loc && ast.loc.source.body === q;
  }, query);
  await page.getByRole('button', { name: /Execute query/i }).click();
  if (expected) await response(page, expected);
}

async function response(page, expected) {
  await page.locator('.graphiql-response').filter({ hasText: expected }).waitFor();
}

async function noViolations({ page, label }) {
  const seen = await page.evaluate(() => window.__violations);
  for (const v of seen) problems.push(`${label} CSP: ${v}`);
}

// No element wider than the window (GraphiQL's panes scroll inside themselves).
async function fits(page, label) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth,
  }));
  if (scroll > width) problems.push(`${label}: the page is ${scroll} px wide in ${width}`);
}

let current;
try {
  // 1. Light, on a desktop: a query, then the token, then a subscription.
  const light = await open('light');
  const { page } = light;
  current = page;
  await run(page, '{ site { title } }', `"title": "${title}"`);
  await shot(page, 'graphiql-1280-light.png');

  const asked = page.waitForRequest((r) => r.url() === `${base}/graphql`
    && (r.postData() || '').includes('viewer'));
  await page.getByLabel('API token').fill(`Bearer ${token}`);
  await run(page, '{ viewer { username role } }', `"username": "${username}"`);
  expect((await asked).headers().authorization === `Bearer ${token}`, 'the pasted token is sent as Bearer');

  // A subscription over /ws/graphql; a comment added by another client arrives in it.
  const subscribed = new Promise((resolve) => page.on('websocket', (ws) => {
    if (ws.url() !== `ws://${origin.host}/ws/graphql`) return;
    ws.on('framesent', (f) => { if (String(f.payload).includes('"subscribe"')) resolve(); });
  }));
  await run(page, `subscription { commentAdded(postSlug: "${slug}") { bodyHtml authorName } }`);
  await subscribed;
  // The server listens once it has read the post: a moment, then the comment.
  await page.waitForTimeout(500);
  const added = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation($s: String!) { addComment(postSlug: $s, body: "Said *live*") { id } }',
      variables: { s: slug },
    }),
  }).then((r) => r.json());
  expect(!added.errors, `the comment is added: ${JSON.stringify(added)}`);
  await response(page, 'Said <em>live</em>');
  await shot(page, 'graphiql-subscription.png');
  // The run button stops the subscription, and is a run button again.
  await page.getByRole('button', { name: 'Stop query' }).click();
  await page.getByRole('button', { name: /Execute query/i }).waitFor();
  await noViolations(light);

  // 2. A phone, light: the bar wraps, GraphiQL fits the width.
  await page.setViewportSize({ width: 390, height: 844 });
  await run(page, '{ site { title } }', `"title": "${title}"`);
  await fits(page, light.label);
  await shot(page, 'graphiql-390-light.png');
  // The documentation opens in the whole width, and closes back to the editors.
  await page.getByRole('button', { name: /Show Documentation Explorer/i }).click();
  await page.locator('.graphiql-doc-explorer').getByText('Root Types').waitFor();
  await fits(page, `${light.label} docs`);
  await shot(page, 'graphiql-390-docs.png');
  await page.getByRole('button', { name: /Hide Documentation Explorer/i }).click();
  await page.getByRole('button', { name: /Execute query/i }).waitFor();
  await noViolations(light);
  await light.context.close();

  // 3. Dark, on a desktop and on a phone.
  const dark = await open('dark');
  const darkBody = await dark.page.evaluate(() => getComputedStyle(document.querySelector('.graphiql-container')).backgroundColor);
  expect(darkBody !== 'rgb(255, 255, 255)', `GraphiQL follows the dark scheme: ${darkBody}`);
  await run(dark.page, '{ site { title } }', `"title": "${title}"`);
  await shot(dark.page, 'graphiql-1280-dark.png');
  await dark.page.setViewportSize({ width: 390, height: 844 });
  await fits(dark.page, dark.label);
  await shot(dark.page, 'graphiql-390-dark.png');
  await noViolations(dark);
  await dark.context.close();

  // 4. axe-core, light and dark (bypassCSP lets axe's script in; the policy was checked above).
  for (const colorScheme of ['light', 'dark']) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme, bypassCSP: true });
    const audit = await context.newPage();
    await audit.goto(`${base}/graphql/explorer`);
    await audit.locator('.graphiql-query-editor .CodeMirror').waitFor();
    await audit.getByRole('button', { name: /Show Documentation Explorer/i }).waitFor();
    await audit.addScriptTag({ path: axePath });
    const found = await audit.evaluate(async () => {
      const result = await window.axe.run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
        resultTypes: ['violations'],
      });
      // GraphiQL's: what it drew (inside its container, or its popovers).
      const theirs = (selector) => {
        const el = document.querySelector(selector);
        return !!el && !!el.closest('.graphiql-container, .graphiql-dialog, [data-radix-popper-content-wrapper], .CodeMirror-info, .CodeMirror-hints');
      };
      return result.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        ours: v.nodes.filter((n) => !theirs(n.target[0])).map((n) => n.target.join(' ')),
        theirs: v.nodes.filter((n) => theirs(n.target[0])).map((n) => n.target.join(' ')),
      }));
    });
    for (const v of found) {
      if (v.ours.length) problems.push(`axe ${colorScheme}: ${v.id} (${v.impact}) ${v.help} — ${v.ours.slice(0, 3).join(' | ')}`);
      if (v.theirs.length) console.log(`GraphiQL's own, ${colorScheme}: ${v.id} (${v.impact}, ${v.theirs.length}×) ${v.help} — ${v.theirs.slice(0, 3).join(' | ')}`);
    }
    await context.close();
  }
} catch (e) {
  // What the explorer showed when it went wrong, beside the problems seen so far.
  if (current) {
    await shot(current, 'graphiql-failed.png').catch(() => {});
    const shown = await current.locator('.graphiql-response').innerText().catch(() => '');
    problems.push(`the response pane showed: ${shown}`);
  }
  problems.push(String(e.stack || e));
} finally {
  await browser.close();
}

if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log('graphiql flow passed');
