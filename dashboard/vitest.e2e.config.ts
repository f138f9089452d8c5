/**
 * The browser end-to-end tests (`npm run e2e`): a real `flightdata serve` and the system
 * Chromium, one test file at a time. See e2e/server.ts.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "node",
    include: ["e2e/**/*.e2e.ts"],
    globalSetup: ["e2e/global-setup.ts"],
    // One server and one browser at a time: the machine has few cores, and the
    // figures each test reads (ingest cycles every 3 s) should not compete.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
