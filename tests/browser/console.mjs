// Walks the web console at /app in headless Chromium, as a person would,
// and checks what each page shows against the API: signing in, the leads
// table and its filters, a lead's page, adding leads to a campaign (the dry
// run's counts, then the add), a campaign's page and its state, the
// do-not-contact list, an import with its column mapping, the settings,
// signing out. On every page axe-core (from npm) must find no serious or
// critical accessibility violation, the browser must report no error
// (a Content-Security-Policy refusal included) and no request may leave
// the server. Screenshots of the leads page and the add-leads dialog go to
// SHOTS.
// Env: BASE, KEY (workspace key), USER_KEY (platform key), WORKSPACE_ID, SHOTS.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const { BASE, KEY, USER_KEY, WORKSPACE_ID, SHOTS } = process.env;

// The API, with the workspace key.
async function api(method, path, body) {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: { 'X-Api-Key': KEY, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const problems = [];
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
page.on('pageerror', (e) => problems.push(`page error: ${e}`));
page.on('dialog', async (d) => { problems.push(`a dialog opened: ${d.message()}`); await d.dismiss(); });
page.on('request', (r) => {
  const url = r.url();
  if (!url.startsWith(BASE) && !url.startsWith('data:')) problems.push(`outside request: ${url}`);
});

let step = 'start';
function check(ok, message) {
  if (!ok) throw new Error(`${step}: ${message}`);
}

// axe-core on the page as it is: no serious or critical violation.
const audited = [];
async function audit(name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `axe on ${name}: ${bad.map((v) =>
    `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`);
  audited.push(name);
}

async function text(selector) {
  return (await page.locator(selector).first().innerText()).trim();
}

const number = (s) => Number(s.replace(/[^0-9]/g, ''));

try {
  // ---- Data, through the API -------------------------------------------------
  step = 'seeding through the API';
  const leads = [];
  for (let i = 0; i < 40; i++) {
    leads.push({
      email: `person${i}@example.com`,
      firstName: `Person ${i}`,
      companyName: `Company ${i % 7}`,
      country: i < 24 ? 'DE' : 'FR',
      tags: i % 5 === 0 ? ['vip'] : [],
    });
  }
  leads.push({ email: 'xss@example.com', firstName: '<img src=x onerror=alert(1)>' });
  await api('POST', '/v1/leads/bulk', { leads });
  const campaign = (await api('POST', '/v1/campaigns', { name: 'Spring outreach' })).data._id;
  await api('POST', '/v1/dnc', { entries: [{ type: 'email', value: 'person3@example.com' }] });

  // ---- Signing in -------------------------------------------------------------
  step = 'signing in';
  await page.goto(`${BASE}/`);
  check(page.url().endsWith('/app/sign-in'), `/ led to ${page.url()}`);
  await audit('sign-in');
  await page.getByLabel('API key').fill(KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${BASE}/app/leads`);
  check(!(await page.content()).includes(KEY), 'the key is in the page');

  // ---- Leads --------------------------------------------------------------------
  step = 'the leads table';
  const all = await api('GET', '/v1/leads?limit=1');
  check(number(await text('p.total')) === all.pagination.total,
    `total ${await text('p.total')} vs the API's ${all.pagination.total}`);
  await audit('leads');
  await page.getByLabel('Country').fill('DE');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/country=DE/);
  const de = await api('GET', '/v1/leads?country=DE&limit=25');
  check(number(await text('p.total')) === de.pagination.total, `DE total ${await text('p.total')}`);
  const rows = await page.locator('tbody tr').count();
  check(rows === de.data.length, `${rows} rows vs ${de.data.length}`);
  check(await page.getByText(de.data[0].email).isVisible(), 'the newest DE lead is not shown');
  await page.screenshot({ path: `${SHOTS}/console-leads.png` });

  step = 'a lead';
  const xss = (await api('GET', '/v1/leads?email=xss@example.com')).data[0];
  await page.goto(`${BASE}/app/leads/${xss._id}`);
  check((await text('dl.fields dd')) === '<img src=x onerror=alert(1)>', 'the XSS name is not shown as text');
  await audit('lead');

  // ---- Adding leads to a campaign -------------------------------------------------
  step = 'adding leads';
  await page.goto(`${BASE}/app/leads?country=DE`);
  // Untick the first row, then add everything the filter matches but it.
  const first = page.locator('tbody input[type=checkbox]').first();
  const unticked = await first.getAttribute('value');
  await first.uncheck();
  await page.getByLabel('Add to campaign').selectOption({ label: 'Spring outreach' });
  await page.getByRole('button', { name: /matching, less the unticked/ }).click();
  await page.waitForURL(`${BASE}/app/leads/add`);
  // The dialog comes first; add.js fetches the dry run's counts into it and
  // only then enables the confirmation.
  await page.locator('#add-counts ul.counts').waitFor();
  check(await page.locator('#add-confirm').isEnabled(), 'the confirmation is still disabled');
  const dry = (await api('POST', `/v1/campaigns/${campaign}/leads`,
    { filters: { country: 'DE' }, excludeIds: [unticked], dryRun: true })).data;
  const counts = await page.locator('ul.counts').innerText();
  check(counts.includes(`${dry.added} will be added`), `dialog says ${counts}, the API ${JSON.stringify(dry)}`);
  check(counts.includes(`${dry.blocked} on the do-not-contact list`), `blocked: ${counts}`);
  const before = await api('GET', `/v1/campaigns/${campaign}/leads?limit=1`);
  check(before.pagination.total === 0, 'something was written before the confirmation');
  await audit('add-leads dialog');
  await page.screenshot({ path: `${SHOTS}/console-add-leads.png` });
  check((await page.locator('#add-confirm').innerText()) === `Confirm: add ${dry.added}`, 'the confirmation names the count');
  await page.getByRole('button', { name: /^Confirm/ }).click();
  // Everything a filter matches is added by a job, whose page follows it
  // (refreshing) until it shows what was added.
  await page.waitForURL(/\/app\/leads\/add\/[0-9a-f]{24}$/);
  await page.locator('ul.counts').waitFor({ timeout: 30000 });
  check((await page.locator('ul.counts').innerText()).includes(`${dry.added} added`), 'the job page says what was added');
  await audit('add-leads job');
  const after = await api('GET', `/v1/campaigns/${campaign}/leads?limit=1`);
  check(after.pagination.total === dry.added, `${after.pagination.total} members, ${dry.added} expected`);

  // ---- Campaigns -------------------------------------------------------------------
  step = 'campaigns';
  await page.getByRole('link', { name: 'Campaigns', exact: true }).click();
  check(await page.getByRole('link', { name: 'Spring outreach' }).isVisible(), 'the campaign is not listed');
  check((await page.locator('.bar').first().innerText()).includes(`${dry.added} pending`), 'the bar');
  await audit('campaigns');
  await page.getByRole('link', { name: 'Spring outreach' }).click();
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('h1 .status', { hasText: 'active' }).waitFor();
  check((await api('GET', `/v1/campaigns/${campaign}`)).data.status === 'active', 'not active per the API');
  await page.getByLabel('Status').selectOption('active');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('tbody input[type=checkbox]').first().check();
  await page.getByLabel('With the ticked members').selectOption('pause');
  await page.getByRole('button', { name: 'Apply to ticked' }).click();
  const paused = await api('GET', `/v1/campaigns/${campaign}/leads?status=paused&limit=1`);
  check(paused.pagination.total === 1, `${paused.pagination.total} paused`);
  await audit('campaign');
  // Everything the status filter shows: resume every paused member.
  await page.getByLabel('Status').selectOption('paused');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByLabel('With the ticked members').selectOption('resume');
  await page.getByRole('button', { name: 'Apply to the 1 paused member' }).click();
  await page.locator('.notice', { hasText: '1 member resumed.' }).waitFor();
  const resumed = await api('GET', `/v1/campaigns/${campaign}/leads?status=paused&limit=1`);
  check(resumed.pagination.total === 0, `${resumed.pagination.total} still paused`);
  const active = await api('GET', `/v1/campaigns/${campaign}/leads?status=active&limit=1`);
  check(active.pagination.total === dry.added, `${active.pagination.total} active`);

  // ---- Do-not-contact --------------------------------------------------------------
  step = 'do-not-contact';
  await page.getByRole('link', { name: 'Do-not-contact' }).click();
  await page.getByLabel('Emails or domains, one per line').fill('nobody@example.org\nspam.example');
  await page.getByRole('button', { name: 'Add' }).click();
  await page.waitForURL(`${BASE}/app/dnc`);
  const dnc = await api('GET', '/v1/dnc?limit=100');
  check(dnc.pagination.total === 3, `${dnc.pagination.total} entries`);
  check(await page.getByText('spam.example').isVisible(), 'the domain is not listed');
  await audit('do-not-contact');

  // ---- Import --------------------------------------------------------------------
  step = 'import';
  await page.getByRole('link', { name: 'Import' }).click();
  await audit('import form');
  await page.getByLabel('CSV file').setInputFiles({
    name: 'fair.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('Work Email,Given Name,Notes\nfair1@example.com,Ann,met\nnot-an-email,Bo,x\nfair2@example.com,Cy,later\n'),
  });
  const notes = page.getByLabel('Lead field for the column Notes');
  await notes.waitFor();
  check((await page.getByLabel('Lead field for the column Work Email').inputValue()) === 'email', 'email not detected');
  await notes.selectOption('customFields.Notes');
  await audit('import mapping');
  await page.getByRole('button', { name: 'Import' }).click();
  await page.locator('ul.counts').waitFor({ timeout: 20000 });
  const shown = await page.locator('ul.counts').innerText();
  check(shown.includes('2 leads created') && shown.includes('1 rows failed'), shown);
  check(await page.getByRole('cell', { name: 'not-an-email' }).isVisible(), 'the failed row is not listed');
  const ann = (await api('GET', '/v1/leads?email=fair1@example.com')).data[0];
  check(ann.firstName === 'Ann' && ann.customFields.Notes === 'met', JSON.stringify(ann));
  await audit('import result');

  // ---- Settings, with the platform key ---------------------------------------------
  step = 'settings';
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${BASE}/app/sign-in`);
  await page.getByLabel('API key').fill(USER_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${BASE}/app/workspaces`);
  await audit('workspaces');
  await page.locator(`form:has(input[value="${WORKSPACE_ID}"]) button`).click();
  await page.waitForURL(`${BASE}/app/leads`);
  await page.getByRole('link', { name: 'Settings' }).click();
  check(await page.getByRole('button', { name: 'Rotate the key' }).isVisible(), 'no key actions for the owner');
  await audit('settings');
  check(!(await page.content()).includes(USER_KEY), 'the platform key is in the page');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${BASE}/app/sign-in`);

  step = 'the end';
  check(problems.length === 0, problems.join('\n'));
  console.log(`console browser test: passed (axe on ${audited.length} pages: ${audited.join(', ')})`);
  await browser.close();
} catch (e) {
  console.error(`console browser test: ${e.message}`);
  if (problems.length) console.error(problems.join('\n'));
  await page.screenshot({ path: `${SHOTS}/console-failure.png` }).catch(() => {});
  await browser.close();
  process.exit(1);
}
