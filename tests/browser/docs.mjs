// Opens /docs in headless Chromium, authorizes with a workspace key, sends
// the add-leads request from the page (its example body: SendKit's) and
// checks the 200 response shown on the page. Then opens the page again by a
// name that is not localhost (leadflow.test, mapped to the server inside
// Chromium only), where Swagger UI would load its validator badge from an
// outside host unless it is turned off. Fails if the page loads anything
// from outside the server. Saves a screenshot for people.
// Env: BASE, KEY, CAMPAIGN_ID, SCREENSHOT.
import { chromium } from 'playwright-core';

const { BASE, KEY, CAMPAIGN_ID, SCREENSHOT } = process.env;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--host-resolver-rules=MAP leadflow.test 127.0.0.1',
  ],
});
const fail = async (message) => {
  console.error(`browser test: ${message}`);
  await page.screenshot({ path: SCREENSHOT }).catch(() => {});
  await browser.close();
  process.exit(1);
};
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const NAMED = BASE.replace('127.0.0.1', 'leadflow.test');
const outside = [];
page.on('request', (r) => {
  const url = r.url();
  if (!url.startsWith(BASE) && !url.startsWith(NAMED) && !url.startsWith('data:')) outside.push(url);
});
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));

try {
  await page.goto(`${BASE}/docs/`, { waitUntil: 'networkidle' });
  const op = page.locator('[id="operations-Campaign leads-addLeadsToCampaign"], [id="operations-Campaign_leads-addLeadsToCampaign"]');
  await op.waitFor({ timeout: 15000 });
  const summary = await op.locator('.opblock-summary').innerText();
  if (!summary.includes('/v1/campaigns/{id}/leads') || !summary.includes('Add leads to campaign')) {
    await fail(`unexpected add-leads summary: ${summary}`);
  }

  // Authorize with the key, as a person would.
  await page.locator('.auth-wrapper .authorize').click();
  const apiKey = page.locator('.modal-ux .auth-container').filter({ hasText: 'X-Api-Key' });
  await apiKey.locator('input').fill(KEY);
  await apiKey.locator('button.authorize').click();
  await page.locator('.modal-ux button.btn-done').first().click();

  // Open the operation, try it out, name the campaign, send the example.
  await op.locator('.opblock-summary').click();
  // The page starts in "try it out" mode (tryItOutEnabled); enter it if not.
  const tryOut = op.locator('button.try-out__btn');
  if ((await tryOut.innerText()).includes('Try it out')) await tryOut.click();
  await op.locator('button.execute').waitFor({ timeout: 15000 });
  await op.locator('tr[data-param-name="id"][data-param-in="path"] input').fill(CAMPAIGN_ID);
  const body = await op.locator('textarea.body-param__text').inputValue();
  if (!body.includes('john@acme.com') || !body.includes('665d4e5f6a7b8c9d0e1f2a3b')) {
    await fail(`the request body is not the seed example: ${body}`);
  }
  await op.locator('button.execute').click();
  const live = op.locator('.live-responses-table .response');
  await live.first().waitFor({ timeout: 15000 });
  const status = (await live.first().locator('.response-col_status').innerText()).trim();
  const shown = await live.first().locator('.response-col_description').innerText();
  if (!status.startsWith('200')) await fail(`expected 200 on the page, got ${status}: ${shown}`);
  for (const needle of ['"added": 2', '"created": 2', 'LEAD_NOT_FOUND']) {
    if (!shown.includes(needle)) await fail(`the response on the page lacks ${needle}: ${shown}`);
  }
  // The operation: its description, the request sent and the 200 shown.
  await op.screenshot({ path: SCREENSHOT });

  // The page by a name that is not localhost, and its title.
  await page.goto(`${NAMED}/docs/`, { waitUntil: 'networkidle' });
  await op.waitFor({ timeout: 15000 });
  const title = await page.title();
  if (title !== 'leadflow API') await fail(`the page's title is ${JSON.stringify(title)}`);
} catch (e) {
  await fail(String(e));
}
if (outside.length) await fail(`the page loaded from outside the server: ${outside.join(', ')}`);
if (errors.length) await fail(`the page had script errors: ${errors.join('; ')}`);
await browser.close();
console.log(`browser test: /docs rendered, sent add-leads with a key and showed 200; screenshot ${SCREENSHOT}`);
