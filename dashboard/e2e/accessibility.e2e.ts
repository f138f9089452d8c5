/**
 * Accessibility of the loaded map view: axe-core finds no serious or critical violation,
 * and the keyboard reaches the search box.
 */
import { createRequire } from "node:module";

import type { AxeResults, Result } from "axe-core";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { launchBrowser, Server, Tab } from "./server";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

let server: Server | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  server = await Server.start({ name: "accessibility" });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

function describeViolation(v: Result): string {
  const nodes = v.nodes
    .slice(0, 5)
    .map((n) => `      ${n.target.join(" ")}: ${n.failureSummary?.replace(/\n/g, " ") ?? ""}`)
    .join("\n");
  return `  [${v.impact ?? "?"}] ${v.id}: ${v.help} (${v.nodes.length} nodes; ${v.helpUrl})\n${nodes}`;
}

describe("accessibility", () => {
  it("has no serious or critical axe violations in the map view", async () => {
    const tab = await Tab.open(browser!, server!, "accessibility-axe", { bypassCSP: true });
    try {
      await tab.step("open", async () => {
        await tab.goto("/?bbox=45,0,55,15");
        await tab.waitForAircraft();
      });
      const results = await tab.step("axe", async () => {
        await tab.page.addScriptTag({ path: AXE });
        return tab.page.evaluate(() => (window as unknown as { axe: { run(): Promise<AxeResults> } }).axe.run());
      });
      const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      const minor = results.violations.filter((v) => !bad.includes(v));
      if (minor.length > 0) console.log(`axe, minor and moderate (not failures):\n${minor.map(describeViolation).join("\n")}`);
      if (bad.length > 0) console.log(`axe, serious and critical:\n${bad.map(describeViolation).join("\n")}`);
      expect(bad.map((v) => `${v.impact ?? "?"}: ${v.id} (${v.nodes.length})`), "serious or critical axe violations").toEqual([]);
    } finally {
      await tab.close();
    }
  });

  it("Tab reaches the search box", async () => {
    const tab = await Tab.open(browser!, server!, "accessibility-tab");
    const page = tab.page;
    try {
      await tab.step("open", async () => {
        await tab.goto("/?bbox=45,0,55,15");
        await tab.waitForAircraft();
      });
      await tab.step("tab", async () => {
        const search = page
          .getByRole("searchbox", { name: "Search", exact: true })
          .or(page.getByRole("textbox", { name: "Search", exact: true }));
        await search.waitFor({ state: "visible", timeout: 10_000 });
        const visited: string[] = [];
        let reached = false;
        for (let i = 0; i < 50 && !reached; i += 1) {
          await page.keyboard.press("Tab");
          reached = await search.evaluate((el) => el === document.activeElement);
          visited.push(
            await page.evaluate(() => {
              const el = document.activeElement;
              if (!el) return "(none)";
              const label = el.getAttribute("aria-label") ?? el.getAttribute("data-testid") ?? el.textContent?.trim().slice(0, 20) ?? "";
              return `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}[${label}]`;
            }),
          );
        }
        expect(reached, `Tab should reach the search box within 50 presses; focus went: ${visited.slice(0, 20).join(" → ")}`).toBe(true);
      });
    } finally {
      await tab.close();
    }
  });
});
