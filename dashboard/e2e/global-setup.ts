/** Fails the whole run at once, saying what to do, when a prerequisite is missing. */
import { mkdirSync } from "node:fs";

import { assertPrerequisites, RESULTS_DIR } from "./server";

export default function setup(): void {
  assertPrerequisites();
  mkdirSync(RESULTS_DIR, { recursive: true });
}
