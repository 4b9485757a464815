// Drives promote serve's dashboard in a real headless Chromium (Debian's, through
// playwright-core) as a person would, and prints what it saw as one JSON document for the
// test that started the service (tests/integration/test_dashboard.cpp) to check.
//
//   node dashboard.mjs URL TOKEN SCREENSHOT PIPELINE APPROVE_STAGE HOLD_STAGE
//
// 1. the overview: every stage column, its candidate, its countdowns (read twice, 2.5 s
//    apart: a live countdown moves), the accessibility tree of the page, a screenshot;
// 2. on a phone's screen: nothing wider than the screen;
// 3. the overview stays open while the hold of HOLD_STAGE is given through the API: the page
//    shows it without a reload (server-sent events);
// 4. signs in with TOKEN through the form, approves APPROVE_STAGE through its form, and reads
//    the page that answers.
import { chromium } from 'playwright-core';

const [url, token, screenshot, pipeline, approveStage, holdStage] = process.argv.slice(2);
const executablePath = process.env.PROMOTE_CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const seen = { errors: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => seen.errors.push(String(error)));
  // Every answer that is an error (the forged post of step 4 aside), and every script error.
  page.on('response', (response) => {
    if (response.status() >= 400 && !seen.forging) {
      seen.errors.push(`${response.status()} ${response.request().method()} ${response.url()}`);
    }
  });

  // 1. The overview.
  await page.goto(url + '/');
  const columns = () => page.$$eval('li.stage', (stages) => stages.map((stage) => ({
    id: stage.id,
    name: stage.querySelector('h3').textContent.trim(),
    candidate: stage.querySelector('dd code') ? stage.querySelector('dd code').title : null,
    countdowns: [...stage.querySelectorAll('time[data-countdown]')].map((t) => t.textContent),
    held: stage.querySelector('.s-held') !== null,
  })));
  seen.title = await page.title();
  seen.stages = await columns();
  await page.waitForTimeout(2500);
  seen.stages_later = await columns();
  seen.aria = await page.locator('body').ariaSnapshot();
  await page.screenshot({ path: screenshot, fullPage: true });

  // 2. A phone.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const small = await phone.newPage();
  await small.goto(url + '/');
  seen.phone = await small.evaluate(() => ({
    width: window.innerWidth,
    scroll_width: document.documentElement.scrollWidth,
  }));
  await phone.close();

  // 3. A change made elsewhere shows up on the open page without a reload.
  const before = await page.evaluate(() => performance.getEntriesByType('navigation').length);
  const held = await fetch(`${url}/api/v1/pipelines/${pipeline}/stages/${holdStage}/hold`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ reason: 'freeze for the audit' }),
  });
  seen.hold_status = held.status;
  await page.waitForSelector(`li.stage[id="stage-${pipeline}-${holdStage}"] .s-held`,
                             { timeout: 15000 });
  seen.live = {
    held_shown: true,
    reloaded: (await page.evaluate(() => performance.getEntriesByType('navigation').length)) !== before,
    updated_mark: await page.evaluate(() => document.documentElement.getAttribute('data-updated')),
    announced: await page.textContent('#live'),
  };

  // 4. Sign in, approve through the form.
  await page.goto(url + '/login');
  await page.fill('#token', token);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]:has-text("Sign in")')]);
  seen.signed_in = (await page.textContent('header .who')).trim();
  await page.goto(`${url}/pipelines/${pipeline}`);
  const column = page.locator(`li.stage[id="stage-${pipeline}-${approveStage}"]`);
  await column.locator('details.commands summary').click();
  await column.locator(`#reason-${approveStage}-approve`).fill('looks good in staging');
  await Promise.all([
    page.waitForNavigation(),
    column.locator('button[value=approve]').click(),
  ]);
  seen.approved = {
    heading: (await page.textContent('h1')).trim(),
    message: (await page.textContent('main p')).trim(),
  };
  // A form posted without its token (another site's) is refused (the browser logs that 403).
  seen.forging = true;
  seen.forged_status = await page.evaluate(async (target) => {
    const response = await fetch(target, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'reason=forged',
    });
    return response.status;
  }, `${url}/pipelines/${pipeline}/stages/${approveStage}/approve`);
  delete seen.forging;
  await context.close();
} catch (error) {
  seen.failure = String(error && error.stack || error);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(seen) + '\n');
process.exit(seen.failure ? 1 : 0);
