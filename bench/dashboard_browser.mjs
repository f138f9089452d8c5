// The browser half of bench/dashboard.py: drives the system Chromium (headless, through
// playwright-core from dashboard/node_modules) against a running `flightdata serve` and
// prints one JSON object of figures on stdout.
//
//   node bench/dashboard_browser.mjs <base-url> [loads] [batches]
//
// firstAircraftMs  performance.mark("flightdata:first-aircraft").startTime (ms since
//                  navigation start) on `loads` fresh page loads of /, each in a new context
//                  (empty cache, no storage)
// applyBatchMs     durations of the performance.measure("flightdata:apply-batch") entries
//                  whose detail.flights >= 5000, in the world view, until `batches` of them
// applyBatchFlights  their detail.flights
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "dashboard", "package.json"));
const { chromium } = require("playwright-core");

const [base, loadsArg = "3", batchesArg = "4"] = process.argv.slice(2);
if (!base) {
  console.error("usage: node bench/dashboard_browser.mjs <base-url> [loads] [batches]");
  process.exit(2);
}
const LOADS = Number(loadsArg);
const BATCHES = Number(batchesArg);
const WHOLE_CYCLE = 5000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

async function fresh() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: base });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return { context, page, errors };
}

function fail(what, errors) {
  const tail = errors.length ? `; errors in the page: ${errors.slice(-5).join(" | ")}` : "";
  throw new Error(`${what}${tail}`);
}

const result = { chromium: browser.version(), firstAircraftMs: [], applyBatchMs: [], applyBatchFlights: [], applyBatchSnapshot: [] };
try {
  for (let i = 0; i < LOADS; i += 1) {
    const { context, page, errors } = await fresh();
    await page.goto("/", { waitUntil: "commit" });
    const handle = await page
      .waitForFunction(() => performance.getEntriesByName("flightdata:first-aircraft")[0]?.startTime, null, {
        timeout: 30_000,
        polling: 50,
      })
      .catch(() => fail('no performance mark "flightdata:first-aircraft" within 30 s of loading /', errors));
    result.firstAircraftMs.push(await handle.jsonValue());
    await context.close();
  }

  const { context, page, errors } = await fresh();
  await page.goto("/?bbox=-85,-180,85,180", { waitUntil: "commit" });
  const batches = await page
    .waitForFunction(
      ({ minFlights, wanted }) => {
        const whole = performance
          .getEntriesByName("flightdata:apply-batch")
          .filter((e) => (e.detail?.flights ?? 0) >= minFlights)
          .map((e) => ({ ms: e.duration, flights: e.detail.flights, snapshot: Boolean(e.detail.snapshot) }));
        return whole.length >= wanted ? whole : null;
      },
      { minFlights: WHOLE_CYCLE, wanted: BATCHES },
      { timeout: 30_000 + BATCHES * 15_000, polling: 250 },
    )
    .catch(async () => {
      const seen = await page
        .evaluate(() => performance.getEntriesByName("flightdata:apply-batch").map((e) => e.detail?.flights ?? null))
        .catch(() => []);
      return fail(
        `fewer than ${BATCHES} "flightdata:apply-batch" measures with detail.flights >= ${WHOLE_CYCLE} ` +
          `in the world view (flights of those seen: ${JSON.stringify(seen)})`,
        errors,
      );
    });
  for (const b of await batches.jsonValue()) {
    result.applyBatchMs.push(b.ms);
    result.applyBatchFlights.push(b.flights);
    result.applyBatchSnapshot.push(b.snapshot);
  }
  await context.close();
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
