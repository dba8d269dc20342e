// ComfyUI's own web frontend against `switchyard serve --comfy-frontend`, in headless
// Chromium driven by Playwright: a user signs in, finds Switchyard's nodes, opens a
// Switchyard template, adds and wires a node, presses Run, sees the output image, saves the
// workflow and finds it again after a reload. Every request to another host is blocked.
//
// node tests/browser/comfy_frontend.mjs URL KEY OUT_DIR   (exit 0: every step passed)
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const require = createRequire(path.join(root, 'third_party/playwright/'));
const { chromium } = require('playwright-core');
const [url, key, out] = process.argv.slice(2);
const STEP_MS = 60_000;

function check(ok, what) {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const host = new URL(url).host;
  const outside = [];
  await page.route('**/*', (r) => {
    const u = new URL(r.request().url());
    if (u.host === host || u.protocol === 'data:' || u.protocol === 'blob:') return r.continue();
    outside.push(u.host);
    return r.abort();
  });
  const failed = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (r.status() >= 500) failed.push(`${r.status()} ${u.pathname}`);
  });

  // Signing in: the key goes into an HttpOnly cookie and out of the address.
  await page.goto(`${url}/login?token=${key}`);
  check(new URL(page.url()).search === '', 'the key is dropped from the address after signing in');
  await page.waitForFunction(() => window.app?.graph && window.LiteGraph?.registered_node_types['image.blur'], null, { timeout: STEP_MS });

  // 1. Switchyard's nodes in the node library, with working widgets: found by the canvas
  // search (double-click), added where the user clicked.
  await page.evaluate(() => window.app.extensionManager.command.execute('Comfy.BrowseTemplates'));
  // 2. A Switchyard template, translated on the fly.
  await page.getByText('Look-dev draft').first().click({ timeout: STEP_MS });
  await page.waitForFunction(() => window.app.graph.nodes.length === 6, null, { timeout: STEP_MS });
  const sigma = await page.evaluate(() => window.app.graph.nodes.find((n) => n.title === 'soft').widgets.find((w) => w.name === 'sigma').value);
  check(sigma === 3, 'the template opens with its widgets set (soft.sigma = 3)');
  // Under load the templates dialog may still be closing when the double-click lands, so
  // the search box is opened again until it has the keyboard, as a user would.
  const searchOpen = () => page.evaluate(() => document.activeElement?.tagName === 'INPUT');
  for (let attempt = 0; attempt < 5 && !(await searchOpen()); attempt++) {
    await page.keyboard.press('Escape');
    await page.mouse.dblclick(700, 760);
    await page.waitForFunction(() => document.activeElement?.tagName === 'INPUT', null, { timeout: 5_000 }).catch(() => {});
  }
  check(await searchOpen(), 'a double-click on the canvas opens the node search');
  await page.keyboard.type('Image Invert', { delay: 20 });
  await page.getByText('Image Invert').first().waitFor({ timeout: STEP_MS });
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.app.graph.nodes.some((n) => n.type === 'image.invert'), null, { timeout: STEP_MS });
  check(true, 'the canvas search finds Switchyard\'s Image Invert and adds it');

  // 3. Wiring by dragging from an output to an input: texture -> invert -> save.
  const invert = await page.evaluate(() => {
    const n = window.app.graph.nodes.find((n) => n.type === 'image.invert');
    const texture = window.app.graph.nodes.find((n) => n.title === 'texture');
    n.pos[0] = texture.pos[0];
    n.pos[1] = texture.pos[1] + 220;
    window.app.canvas.setDirty(true, true);
    return n.id;
  });
  await page.waitForTimeout(500);
  await page.mouse.click(700, 820);
  await page.waitForTimeout(300);
  const slot = (id, input) => page.evaluate(([id, input]) => {
    const node = window.app.graph.getNodeById(id);
    const c = window.app.canvas.ds.convertOffsetToCanvas(node.getConnectionPos(input, 0));
    const r = window.app.canvas.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    return [r.left + c[0] / dpr, r.top + c[1] / dpr];
  }, [id, input]);
  const byTitle = (title) => page.evaluate((t) => window.app.graph.nodes.find((n) => n.title === t).id, title);
  const drag = async (from, to) => {
    await page.mouse.move(from[0], from[1]);
    await page.mouse.down();
    await page.mouse.move((from[0] + to[0]) / 2, (from[1] + to[1]) / 2, { steps: 5 });
    await page.mouse.move(to[0], to[1], { steps: 5 });
    await page.mouse.up();
    await page.waitForTimeout(200);
  };
  const [texture, save] = [await byTitle('texture'), await byTitle('save')];
  const linked = (from, to) => page.evaluate(([from, to]) =>
    [...window.app.graph.links.values()].some((l) => l.origin_id === from && l.target_id === to), [from, to]);
  // A drop that lands while the canvas is still settling is tried again, as a user would.
  for (const [from, to] of [[texture, invert], [invert, save]]) {
    for (let attempt = 0; attempt < 3 && !(await linked(from, to)); attempt++) {
      await drag(await slot(from, false), await slot(to, true));
    }
  }
  check(await linked(texture, invert) && await linked(invert, save), 'dragged wires connect texture -> Image Invert -> save');

  // 4. Run: the progress comes over the socket, and the output image shows on the save node.
  const viewed = page.waitForResponse((r) => r.url().includes('/api/view') && r.status() === 200, { timeout: STEP_MS });
  const posted = page.waitForResponse((r) => r.url().endsWith('/api/prompt') && r.request().method() === 'POST', { timeout: STEP_MS });
  await page.getByRole('button', { name: 'Run' }).first().click();
  check((await posted).status() === 200, 'Run posts the prompt (200)');
  const image = await viewed;
  check((await image.headerValue('content-type')) === 'image/png', 'the output image is fetched from /api/view');
  await page.waitForFunction((save) => window.app.graph.getNodeById(save).imgs?.[0]?.naturalWidth === 768, save, { timeout: STEP_MS });
  check(true, 'the save node shows the 768x432 output');
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(out, 'comfy-frontend.png') });

  // 5. Save, reload, and find it in the workflows sidebar.
  await page.mouse.click(700, 820);
  const saved = page.waitForResponse((r) => r.url().includes('/api/userdata/workflows%2Flookdev-browser.json') && r.request().method() === 'POST', { timeout: STEP_MS });
  await page.keyboard.press('Control+s');
  const name = page.locator('input[type=text]:visible').first();
  await name.waitFor({ timeout: STEP_MS });
  await name.fill('lookdev-browser');
  await page.keyboard.press('Enter');
  check((await saved).status() === 200, 'Save writes workflows/lookdev-browser.json to the server');
  await page.reload();
  await page.waitForFunction(() => window.app?.graph && window.LiteGraph?.registered_node_types['image.blur'], null, { timeout: STEP_MS });
  await page.keyboard.press('w');
  await page.getByText('lookdev-browser').first().waitFor({ timeout: STEP_MS });
  check(true, 'after a reload, the workflows sidebar lists lookdev-browser');

  check(failed.length === 0, `no server errors (${failed.join(', ')})`);
  console.log(`blocked outside requests: ${outside.length} (${[...new Set(outside)].join(', ')})`);
} catch (e) {
  const pages = browser.contexts().flatMap((c) => c.pages());
  if (pages[0]) await pages[0].screenshot({ path: path.join(out, 'failure.png') }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
