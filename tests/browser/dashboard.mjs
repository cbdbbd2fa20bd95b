// Drives Debian's headless chromium through the dashboard of a real
// `warbler run` (tests/all/dashboard_browser.rs starts the run, then this).
// Usage: node dashboard.mjs DASHBOARD_URL CANARY_KEY SCREENSHOT_DIR
// Exits non-zero with the first expectation that failed.
import { chromium } from "playwright-core";

const [url, key, shots] = process.argv.slice(2);
const chromiumPath = process.env.WARBLER_CHROMIUM || "/usr/bin/chromium";

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

// Poll `probe` until it returns a truthy value or `seconds` pass.
async function eventually(probe, seconds, message) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  // Root in a container has no user namespaces for chromium's sandbox.
  args: ["--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") {
      problems.push(`console: ${message.text()} (${message.location().url})`);
    }
  });

  // The list: the canary's row, its weight changing without a reload.
  await page.goto(url);
  const row = page.locator(`tr[data-key="${key}"]`);
  await row.waitFor({ timeout: 30_000 });
  await page.evaluate(() => { window.sameDocument = true; });
  const weights = new Set();
  await eventually(async () => {
    weights.add(await row.locator('[data-field="weight"]').textContent());
    return [...weights].filter((w) => w !== "0%").length >= 2;
  }, 60, "the list's weight did not change live");
  expect(await page.evaluate(() => window.sameDocument === true),
    "the list reloaded instead of updating in place");
  console.log(`list: weights seen live ${[...weights].join(" ")}`);
  await page.screenshot({ path: `${shots}/list.png`, fullPage: true });

  // The canary's page: steps appear live, each with its verdict.
  await row.locator('[data-field="name"] a').click();
  await page.waitForSelector("table.steps tr.step", { timeout: 30_000 });
  await page.evaluate(() => { window.sameDocument = true; });
  const stepsAtFirst = await page.locator("table.steps tr.step").count();
  await eventually(async () => await page.locator("table.steps tr.step").count() > stepsAtFirst,
    60, `no step was added live to the ${stepsAtFirst} shown`);
  expect(await page.evaluate(() => window.sameDocument === true),
    "the canary page reloaded instead of updating in place");

  // Let the run end, then check what it shows.
  await eventually(async () => (await page.locator("#phase").textContent()) === "Succeeded",
    90, "the canary page never showed the promotion");
  const verdicts = await page.locator("td.verdict").allTextContents();
  console.log(`canary page: verdicts ${verdicts.join(" | ")}`);
  expect(verdicts.some((v) => v.startsWith("advance to")), "no step shows an advance");
  expect(verdicts.at(-1) === "promote", `the last verdict is ${verdicts.at(-1)}, not promote`);
  const metrics = await page.locator("figure.metric").evaluateAll(
    (figures) => figures.map((f) => f.dataset.metric));
  expect(metrics.join() === "request-success-rate,request-duration",
    `charts for ${metrics.join()}, not one per metric`);
  await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete), null,
    { timeout: 30_000 });
  const charts = await page.locator("img").evaluateAll(
    (images) => images.map((i) => [i.getAttribute("src"), i.naturalWidth]));
  expect(charts.length === 3, `${charts.length} charts, not a timeline and one per metric`);
  for (const [src, width] of charts) expect(width > 0, `the chart ${src} did not load`);

  // A webhook's answer holding markup is text, and its script never ran.
  const hooks = await page.locator("table.steps").textContent();
  expect(hooks.includes("<script>window.hostile = 1</script>"),
    "the webhook's answer is not shown as text");
  expect(await page.evaluate(() => window.hostile === undefined),
    "the webhook's script ran in the page");
  expect(await page.locator("table.steps script, table.steps img").count() === 0,
    "the webhook's answer became elements");

  await page.screenshot({ path: `${shots}/canary.png`, fullPage: true });
  await page.setViewportSize({ width: 420, height: 900 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: `${shots}/canary-narrow.png`, fullPage: true });
  expect(overflow <= 0, `the page is ${overflow}px wider than a 420px window`);
  expect(problems.length === 0, `the pages reported: ${problems.join("; ")}`);
  console.log("dashboard: all expectations met");
} finally {
  await browser.close();
}
