/**
 * The number of aircraft drawn in the view equals what the API answers for exactly the
 * view's bounds: `[data-testid=aircraft-count]` and its `data-bbox` against
 * `flights(bbox:).totalCount` over HTTP.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { launchBrowser, parseBbox, parseCount, Server, serverCount, Tab, type CountReading } from "./server";

let server: Server | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  server = await Server.start({ name: "aircraft-count" });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("aircraft count", () => {
  it("equals flights(bbox).totalCount for the view's bounds", async () => {
    const tab = await Tab.open(browser!, server!, "aircraft-count");
    try {
      await tab.step("open", async () => {
        await tab.goto("/?bbox=45,0,55,15");
        await tab.waitForAircraft();
      });
      const agreed = await tab.step("matches-api", async () => {
        // A cycle may land between the reads: read, ask, read again, until all three agree.
        let last = "";
        return tab.poll(
          async () => {
            const before: CountReading | null = await tab.readCount();
            if (before === null) throw new Error('[data-testid="aircraft-count"] disappeared');
            const bbox = parseBbox(before.bbox);
            const total = await serverCount(server!, bbox);
            const after = await tab.readCount();
            const countBefore = parseCount(before);
            const countAfter = after === null ? null : parseCount(after);
            last = `count ${countBefore} then ${String(countAfter)}, data-bbox ${JSON.stringify(before.bbox)}, API totalCount ${total}`;
            if (countBefore === total && countAfter === total && after?.bbox === before.bbox) {
              return { count: total, bbox };
            }
            return undefined;
          },
          20_000,
          () => `aircraft-count to equal flights(bbox: data-bbox).totalCount (last: ${last})`,
        );
      });
      expect(agreed.count).toBeGreaterThan(0);
      // The view was fitted to the requested box: it holds it.
      expect(agreed.bbox.south).toBeLessThanOrEqual(45);
      expect(agreed.bbox.north).toBeGreaterThanOrEqual(55);
      expect(agreed.bbox.west).toBeLessThanOrEqual(0);
      expect(agreed.bbox.east).toBeGreaterThanOrEqual(15);
      // ... and is that box's neighbourhood, not the world.
      expect(agreed.bbox.north - agreed.bbox.south).toBeLessThan(60);
    } finally {
      await tab.close();
    }
  });
});
