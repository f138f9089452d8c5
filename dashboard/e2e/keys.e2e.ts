/**
 * API keys against a server that refuses anonymous requests: the page shows the server's
 * reason, takes a key, works with it, and keeps it across a reload.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createKey, launchBrowser, newDataDir, removeDataDir, Server, Tab } from "./server";

let server: Server | undefined;
let browser: Browser | undefined;
let key = "";

beforeAll(async () => {
  // The key is made before the server starts: the server caches unknown keys for a while.
  const dataDir = newDataDir();
  try {
    key = createKey(dataDir, "e2e");
    server = await Server.start({ name: "keys", anonymous: false, dataDir, apiKey: key });
  } catch (exc) {
    removeDataDir(dataDir);
    throw exc;
  }
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** The message of the server's 401 to a request without a key. */
async function refusalMessage(): Promise<string> {
  const response = await fetch(`${server!.baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ flights(first: 1) { totalCount } }" }),
  });
  expect(response.status, "the server refuses a request without a key").toBe(401);
  const body = (await response.json()) as { message?: unknown };
  expect(typeof body.message).toBe("string");
  return body.message as string;
}

describe("API keys", () => {
  it("shows the 401 reason, takes a key, and keeps it across a reload", async () => {
    const message = await refusalMessage();
    expect(message).toContain("API key");
    const tab = await Tab.open(browser!, server!, "keys");
    const page = tab.page;
    try {
      await tab.step("refused", async () => {
        await tab.goto("/");
        const error = tab.byTestId("auth-error");
        await error.waitFor({ state: "visible", timeout: 20_000 });
        let text = "";
        await tab.poll(
          async () => {
            text = (await error.innerText()).trim();
            return text.includes(message) ? true : undefined;
          },
          10_000,
          () => `auth-error to contain the server's reason ${JSON.stringify(message)} (text was ${JSON.stringify(text)})`,
        );
      });
      await tab.step("enter-key", async () => {
        await page.getByLabel("API key", { exact: true }).fill(key);
        await page.getByRole("button", { name: "Use key", exact: true }).click();
        await tab.waitForAircraft();
        await tab.byTestId("auth-error").waitFor({ state: "hidden", timeout: 10_000 });
      });
      await tab.step("reload", async () => {
        await page.reload({ waitUntil: "domcontentloaded" });
        await tab.waitForAircraft();
        expect(await tab.byTestId("auth-error").isVisible(), "no auth-error after the reload").toBe(false);
        const stored = await page.evaluate(() =>
          Object.keys(window.localStorage).map((k) => window.localStorage.getItem(k)),
        );
        expect(stored, "the key is kept in localStorage").toContain(key);
      });
    } finally {
      await tab.close();
    }
  });
});
