/**
 * Live updates: `/?icao=<hex>` opens that aircraft's details, its position moves with the
 * next ingest cycles, and the status bar shows the data's age, its source and "Live".
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { allFlights, INTERVAL_S, launchBrowser, Server, Tab, type FlightNode } from "./server";

let server: Server | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  server = await Server.start({ name: "live" });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** "lat, lon" (degree signs tolerated); null when the text is not that. */
function parsePosition(text: string | null): [number, number] | null {
  const match = /^(-?\d+(?:\.\d+)?)°?\s*,\s*(-?\d+(?:\.\d+)?)°?$/.exec((text ?? "").trim());
  return match ? [Number(match[1]), Number(match[2])] : null;
}

/** The fastest airborne aircraft with a position and a heading: it moves most per cycle. */
async function fastestAirborne(): Promise<FlightNode> {
  const moving = (await allFlights(server!)).filter(
    (f) => !f.onGround && f.latitude !== null && f.longitude !== null && f.trueTrackDeg !== null && (f.velocityMps ?? 0) > 0,
  );
  moving.sort((a, b) => (b.velocityMps ?? 0) - (a.velocityMps ?? 0));
  const best = moving[0];
  if (!best) throw new Error("no moving airborne aircraft in the replay");
  return best;
}

describe("live updates", () => {
  it("/?icao= opens the details, and the position moves with the next cycle", async () => {
    const flight = await fastestAirborne();
    const tab = await Tab.open(browser!, server!, "live-moves");
    try {
      const first = await tab.step("open", async () => {
        await tab.goto(`/?icao=${flight.icao24}`);
        const details = tab.byTestId("flight-details");
        await details.waitFor({ state: "visible", timeout: 20_000 });
        expect((await details.innerText()).toLowerCase()).toContain(flight.icao24.toLowerCase());
        let last: string | null = null;
        return tab.poll(
          async () => {
            last = await tab.text("flight-position");
            return parsePosition(last) ?? undefined;
          },
          15_000,
          () => `[data-testid="flight-position"] to read "lat, lon" (text was ${JSON.stringify(last)})`,
        );
      });
      // It is where the API says the aircraft is (a cycle or two apart at most).
      const now = await server!.graphql<{ flight: { latitude: number; longitude: number } | null }>(
        `query($icao24: String!) { flight(icao24: $icao24) { latitude longitude } }`,
        { icao24: flight.icao24 },
      );
      expect(now.flight).not.toBeNull();
      expect(Math.abs(first[0] - now.flight!.latitude), "latitude shown vs API").toBeLessThan(0.2);
      expect(Math.abs(first[1] - now.flight!.longitude), "longitude shown vs API").toBeLessThan(0.2);
      await tab.step("moved", async () => {
        let last: string | null = null;
        const firstText = `${first[0]}, ${first[1]}`;
        const moved = await tab.poll(
          async () => {
            last = await tab.text("flight-position");
            const p = parsePosition(last);
            return p && (p[0] !== first[0] || p[1] !== first[1]) ? p : undefined;
          },
          // The next cycle is at most INTERVAL_S away; a few more allow for display rounding.
          5 * INTERVAL_S * 1000,
          () => `flight-position to change from ${firstText} after the next ingest cycles (text was ${JSON.stringify(last)})`,
        );
        expect(moved).not.toEqual(first);
      });
    } finally {
      await tab.close();
    }
  });

  it("shows the data's age, its source (replay) and the connection as Live", async () => {
    const tab = await Tab.open(browser!, server!, "live-status");
    try {
      await tab.step("open", async () => {
        await tab.goto("/?bbox=45,0,55,15");
        await tab.waitForAircraft();
      });
      await tab.step("status", async () => {
        let status: string | null = null;
        await tab.poll(
          async () => {
            status = await tab.text("connection-status");
            return status !== null && /\bLive\b/.test(status) ? true : undefined;
          },
          15_000,
          () => `[data-testid="connection-status"] to read "Live" (text was ${JSON.stringify(status)})`,
        );
        const age = tab.byTestId("data-age");
        await age.waitFor({ state: "attached", timeout: 10_000 });
        expect((await age.textContent())?.trim(), "data-age has text").not.toBe("");
        let source: string | null = null;
        await tab.poll(
          async () => {
            source = await tab.text("data-source");
            return source !== null && /replay/i.test(source) ? true : undefined;
          },
          10_000,
          () => `[data-testid="data-source"] to mention "replay" (text was ${JSON.stringify(source)})`,
        );
      });
    } finally {
      await tab.close();
    }
  });
});
