/**
 * Search by icao24: Enter opens the flight's details (its icao24 and callsign) and draws
 * its track (`path.flight-track` in the map, `[data-testid=track-points]` points).
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { launchBrowser, Server, Tab, type FlightNode } from "./server";

let server: Server | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  server = await Server.start({ name: "search" });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** An airborne aircraft with a callsign in the box. */
async function pickFlight(): Promise<FlightNode & { callsign: string }> {
  for (const first of [5, 100]) {
    const data = await server!.graphql<{ flights: { nodes: FlightNode[] } }>(
      `{ flights(bbox: {south: 45, west: 0, north: 55, east: 15}, first: ${first}) {
        nodes { icao24 callsign originCountry onGround latitude longitude velocityMps trueTrackDeg baroAltitudeM }
      } }`,
    );
    const found = data.flights.nodes.find((f) => f.callsign !== null && f.callsign.trim() !== "" && !f.onGround);
    if (found) return { ...found, callsign: found.callsign!.trim() };
  }
  throw new Error("no airborne aircraft with a callsign in 45,0,55,15");
}

describe("search", () => {
  it("finds an aircraft by icao24, shows its details and draws its track", async () => {
    const flight = await pickFlight();
    const tab = await Tab.open(browser!, server!, "search");
    const page = tab.page;
    try {
      await tab.step("open", async () => {
        await tab.goto("/?bbox=45,0,55,15");
        await tab.waitForAircraft();
      });
      await tab.step("type", async () => {
        const search = page
          .getByRole("searchbox", { name: "Search", exact: true })
          .or(page.getByRole("textbox", { name: "Search", exact: true }));
        await search.waitFor({ state: "visible", timeout: 10_000 });
        await search.fill(flight.icao24);
        await search.press("Enter");
      });
      await tab.step("details", async () => {
        const details = tab.byTestId("flight-details");
        await details.waitFor({ state: "visible", timeout: 15_000 });
        const text = (await details.innerText()).trim();
        expect(text.toLowerCase(), `flight-details should contain the icao24 ${flight.icao24}`).toContain(flight.icao24.toLowerCase());
        expect(text, `flight-details should contain the callsign ${flight.callsign}`).toContain(flight.callsign);
      });
      await tab.step("track", async () => {
        const track = page.locator(".leaflet-container svg path.flight-track");
        await track.first().waitFor({ state: "attached", timeout: 15_000 });
        let last: string | null = null;
        const points = await tab.poll(
          async () => {
            last = await tab.text("track-points");
            return last !== null && /^\d+$/.test(last) && Number(last) >= 1 ? Number(last) : undefined;
          },
          15_000,
          () => `[data-testid="track-points"] to be a number >= 1 (text was ${JSON.stringify(last)})`,
        );
        expect(points).toBeGreaterThanOrEqual(1);
      });
    } finally {
      await tab.close();
    }
  });
});
