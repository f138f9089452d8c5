/**
 * Filters in the world view: each one narrows what is drawn, `[data-testid=filter-summary]`
 * reads "N of M aircraft" with N the aircraft count, and N agrees with the API's own
 * filter for the view's bounds.
 */
import type { Browser, Locator } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  allFlights,
  launchBrowser,
  parseBbox,
  parseCount,
  Server,
  serverCount,
  Tab,
  type Bbox,
  type FlightNode,
} from "./server";

const WORLD = "/?bbox=-60,-170,75,170";

let server: Server | undefined;
let browser: Browser | undefined;
let flights: FlightNode[] = [];

beforeAll(async () => {
  server = await Server.start({ name: "filters" });
  browser = await launchBrowser();
  flights = await allFlights(server);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

function mostCommon(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const best = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  if (!best) throw new Error("nothing to count");
  return best[0];
}

interface Summary {
  n: number;
  m: number;
  count: number;
  bbox: Bbox;
  text: string;
}

/** Waits until the summary reads "N of M aircraft" with N = aircraft-count and N < M. */
async function waitForFilteredSummary(tab: Tab, timeoutMs = 20_000): Promise<Summary> {
  let last = "";
  return tab.poll(
    async () => {
      const text = await tab.text("filter-summary");
      const reading = await tab.readCount();
      last = `filter-summary ${JSON.stringify(text)}, aircraft-count ${JSON.stringify(reading?.text ?? null)}`;
      if (text === null || reading === null) return undefined;
      // Thousands separators are not part of the contract for the summary: tolerate them.
      const match = /^(\d[\d,\u202f\u00a0 ]*) of (\d[\d,\u202f\u00a0 ]*) aircraft$/.exec(text.replace(/\s+/g, " "));
      if (!match) return undefined;
      const n = Number(match[1]!.replace(/\D/g, ""));
      const m = Number(match[2]!.replace(/\D/g, ""));
      const count = parseCount(reading);
      if (n !== count || !(n < m)) return undefined;
      return { n, m, count, bbox: parseBbox(reading.bbox), text };
    },
    timeoutMs,
    () => `filter-summary to read "N of M aircraft" with N = aircraft-count < M (last: ${last})`,
  );
}

/** Polls until aircraft-count agrees with the API's count under the same filter. */
async function agreesWithApi(
  tab: Tab,
  filters: { callsignPrefix?: string; originCountry?: string; onGround?: boolean },
): Promise<void> {
  let last = "";
  await tab.poll(
    async () => {
      const before = await tab.readCount();
      if (before === null) return undefined;
      const total = await serverCount(server!, parseBbox(before.bbox), filters);
      const after = await tab.readCount();
      last = `count ${before.text} then ${String(after?.text)}, API ${total} for ${JSON.stringify(filters)} in ${String(before.bbox)}`;
      return parseCount(before) === total && after !== null && parseCount(after) === total && after.bbox === before.bbox
        ? true
        : undefined;
    },
    20_000,
    () => `aircraft-count to equal the API's filtered totalCount (last: ${last})`,
  );
}

async function openWorld(tab: Tab): Promise<number> {
  await tab.goto(WORLD);
  return tab.waitForAircraft();
}

function field(tab: Tab, label: string): Locator {
  return tab.page.getByLabel(label, { exact: true });
}

describe("filters", () => {
  it("has the five filter controls, and On ground offers Any, Airborne, On ground", async () => {
    const tab = await Tab.open(browser!, server!, "filters-controls");
    try {
      await tab.step("open", () => openWorld(tab));
      await tab.step("controls", async () => {
        for (const label of ["Callsign prefix", "Origin country", "Minimum altitude", "Maximum altitude", "On ground"]) {
          expect.soft(await field(tab, label).count(), `one control labelled "${label}"`).toBe(1);
        }
        const select = field(tab, "On ground");
        expect(await select.evaluate((el) => el.tagName)).toBe("SELECT");
        const options = await select.locator("option").allTextContents();
        expect(options.map((o) => o.trim())).toEqual(["Any", "Airborne", "On ground"]);
      });
    } finally {
      await tab.close();
    }
  });

  it("callsign prefix: the most common airline's aircraft only", async () => {
    const prefixes = flights.map((f) => (f.callsign ?? "").trim().toUpperCase()).filter((c) => /^[A-Z]{3}/.test(c));
    const prefix = mostCommon(prefixes.map((c) => c.slice(0, 3)));
    const tab = await Tab.open(browser!, server!, "filters-callsign");
    try {
      const unfiltered = await tab.step("open", () => openWorld(tab));
      await tab.step(`callsign-${prefix}`, async () => {
        await field(tab, "Callsign prefix").fill(prefix);
        const summary = await waitForFilteredSummary(tab);
        expect(summary.n).toBeGreaterThan(0);
        expect(summary.n).toBeLessThan(unfiltered);
        await agreesWithApi(tab, { callsignPrefix: prefix });
      });
    } finally {
      await tab.close();
    }
  });

  it("on ground = Airborne: airborne aircraft only", async () => {
    const tab = await Tab.open(browser!, server!, "filters-airborne");
    try {
      const unfiltered = await tab.step("open", () => openWorld(tab));
      await tab.step("airborne", async () => {
        await field(tab, "On ground").selectOption({ label: "Airborne" });
        const summary = await waitForFilteredSummary(tab);
        expect(summary.n).toBeGreaterThan(0);
        expect(summary.n).toBeLessThan(unfiltered);
        await agreesWithApi(tab, { onGround: false });
      });
    } finally {
      await tab.close();
    }
  });

  it("origin country and altitude bounds each narrow the view", async () => {
    const country = mostCommon(flights.map((f) => f.originCountry ?? "").filter((c) => c !== ""));
    const tab = await Tab.open(browser!, server!, "filters-country-altitude");
    try {
      const unfiltered = await tab.step("open", () => openWorld(tab));
      await tab.step("country", async () => {
        await field(tab, "Origin country").fill(country);
        const summary = await waitForFilteredSummary(tab);
        expect(summary.n, `aircraft from ${country}`).toBeGreaterThan(0);
        expect(summary.n).toBeLessThan(unfiltered);
        await field(tab, "Origin country").fill("");
      });
      // The unit is the page's (feet or metres): 10,000 of either leaves out the low ones.
      await tab.step("minimum-altitude", async () => {
        await field(tab, "Minimum altitude").fill("10000");
        const summary = await waitForFilteredSummary(tab);
        expect(summary.n).toBeGreaterThan(0);
        await field(tab, "Minimum altitude").fill("");
      });
      await tab.step("maximum-altitude", async () => {
        await field(tab, "Maximum altitude").fill("3000");
        const summary = await waitForFilteredSummary(tab);
        expect(summary.n).toBeGreaterThan(0);
      });
    } finally {
      await tab.close();
    }
  });
});
