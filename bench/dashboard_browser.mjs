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
// synthetic        the same page fed 10,000 aircraft by a stand-in for the WebSocket
//                  (page.routeWebSocket speaking graphql-transport-ws; HTTP still goes to
//                  the server): applyMs of each whole cycle after the snapshot, and the
//                  intervals between animation frames while the map is dragged (frameMs)
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

const SYNTHETIC = 10_000;

/** 10,000 aircraft over the inhabited latitudes, moved along their tracks every call. */
function syntheticFleet(n) {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const fleet = [];
  for (let i = 0; i < n; i += 1) {
    fleet.push({
      icao24: (0x100000 + i).toString(16),
      callsign: `SYN${i}`,
      originCountry: "Synthetic",
      latitude: -55 + random() * 125,
      longitude: -180 + random() * 360,
      baroAltitudeM: random() < 0.05 ? null : random() * 12500,
      geoAltitudeM: null,
      onGround: random() < 0.05,
      velocityMps: 120 + random() * 140,
      trueTrackDeg: random() * 360,
      verticalRateMps: 0,
      squawk: "1000",
      positionSource: "ADSB",
      phase: "CRUISE",
      lastContact: new Date().toISOString(),
      source: "REPLAY",
    });
  }
  return fleet;
}

function moveFleet(fleet, seconds) {
  const now = new Date().toISOString();
  for (const f of fleet) {
    const rad = (f.trueTrackDeg * Math.PI) / 180;
    const km = (f.velocityMps * seconds) / 1000;
    f.latitude = Math.max(-85, Math.min(85, f.latitude + (km * Math.cos(rad)) / 111.2));
    f.longitude = ((f.longitude + (km * Math.sin(rad)) / 111.2 + 540) % 360) - 180;
    f.lastContact = now;
  }
}

async function syntheticTenThousand() {
  const { context, page, errors } = await fresh();
  const fleet = syntheticFleet(SYNTHETIC);
  const timers = [];
  let paused = false;
  await page.routeWebSocket(/\/graphql$/, (ws) => {
    ws.onMessage((raw) => {
      const message = JSON.parse(String(raw));
      if (message.type === "connection_init") ws.send(JSON.stringify({ type: "connection_ack" }));
      else if (message.type === "ping") ws.send(JSON.stringify({ type: "pong" }));
      else if (message.type === "subscribe" && message.payload.query.includes("flightUpdates")) {
        const send = (snapshot) => {
          const at = new Date().toISOString();
          const batch = { cycleId: `synthetic@${at}`, at, publishedAt: at, flights: fleet, removed: [], droppedBatches: 0, snapshot };
          ws.send(JSON.stringify({ id: message.id, type: "next", payload: { data: { flightUpdates: batch } } }));
        };
        send(true);
        timers.push(
          setInterval(() => {
            if (paused) return;
            moveFleet(fleet, 2);
            send(false);
          }, 2000),
        );
      }
    });
  });
  try {
    await page.goto("/?lat=20&lon=0&zoom=2.5", { waitUntil: "commit" });
    const handle = await page
      .waitForFunction(
        (n) => {
          const cycles = performance
            .getEntriesByName("flightdata:apply-batch")
            .filter((e) => e.detail?.flights >= n && !e.detail.snapshot)
            .map((e) => e.duration);
          return cycles.length >= 5 ? cycles : null;
        },
        SYNTHETIC,
        { timeout: 60_000, polling: 250 },
      )
      .catch(() => fail("the synthetic 10,000-aircraft feed was not applied 5 times in 60 s", errors));
    const applyMs = (await handle.jsonValue()).slice(0, 5);
    const count = Number(await page.locator('[data-testid="aircraft-count"]').textContent());
    // Drag the map and time the frames the browser shows meanwhile; the feed pauses so
    // that the frames measure panning 10,000 aircraft, not parsing the stand-in's batches.
    paused = true;
    await page.waitForTimeout(2500);
    await page.evaluate(() => {
      const w = window;
      w.__frames = [];
      w.__recording = true;
      const tick = (t) => {
        w.__frames.push(t);
        if (w.__recording) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const box = await page.locator(".leaflet-container").boundingBox();
    const x = box.x + box.width / 2;
    const y = box.y + box.height / 2;
    const start = await page.evaluate(() => performance.now());
    await page.mouse.move(x, y);
    await page.mouse.down();
    for (let i = 1; i <= 40; i += 1) {
      await page.mouse.move(x - i * 8, y + Math.sin(i / 5) * 40);
    }
    await page.mouse.up();
    const end = await page.evaluate(() => {
      window.__recording = false;
      return performance.now();
    });
    const frames = await page.evaluate(() => window.__frames);
    const during = frames.filter((t) => t >= start && t <= end);
    const frameMs = during.slice(1).map((t, i) => t - during[i]);
    return { flights: SYNTHETIC, inView: count, applyMs, frameMs, dragMs: end - start };
  } finally {
    for (const t of timers) clearInterval(t);
    await context.close();
  }
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
  result.synthetic = await syntheticTenThousand();
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
