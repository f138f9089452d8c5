/**
 * The end-to-end harness: a real `flightdata serve` (replay source, a fresh data
 * directory, the built dashboard from dashboard/dist) on a free loopback port, and the
 * system Chromium driven by playwright-core. Nothing is downloaded: a missing browser,
 * binary or build fails the run and says what to do.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, type WriteStream } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";

export const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_DIR = path.resolve(DASHBOARD_DIR, "..");
/** The built dashboard the server serves: dashboard/dist, or FLIGHTDATA_DASHBOARD_DIR. */
export const DIST_DIR = path.resolve(process.env.FLIGHTDATA_DASHBOARD_DIR || path.join(DASHBOARD_DIR, "dist"));
export const RESULTS_DIR = path.join(DASHBOARD_DIR, "test-results");

/** Seconds per ingest cycle of the servers under test. */
export const INTERVAL_S = 3;

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || "/usr/bin/chromium";
}

export function flightdataBin(): string {
  return process.env.FLIGHTDATA_BIN || path.join(REPO_DIR, ".venv", "bin", "flightdata");
}

/** Every missing prerequisite, each with what to do about it; empty when all are there. */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  const browser = chromiumPath();
  if (!existsSync(browser)) {
    missing.push(
      `Chromium is not at ${browser}: install the system one ` +
        "(apt-get install chromium) or set CHROMIUM_PATH; the tests never download a browser",
    );
  }
  const bin = flightdataBin();
  if (!existsSync(bin)) {
    missing.push(`flightdata is not at ${bin}: run make .venv/.installed-dev at the repository root, or set FLIGHTDATA_BIN`);
  }
  if (!existsSync(path.join(DIST_DIR, "index.html"))) {
    missing.push(`${path.join(DIST_DIR, "index.html")} is missing: run make dashboard`);
  }
  return missing;
}

export function assertPrerequisites(): void {
  const missing = missingPrerequisites();
  if (missing.length > 0) {
    throw new Error(`the end-to-end tests cannot run:\n  - ${missing.join("\n  - ")}`);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

const SETPRIV = "/usr/bin/setpriv";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Servers still running: killed when this process exits, whatever the reason.
const running = new Set<ChildProcess>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const killAll = (): void => {
    for (const child of running) child.kill("SIGKILL");
    running.clear();
  };
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/** A fresh, empty data directory (removed by `Server.stop`, or by `removeDataDir`). */
export function newDataDir(): string {
  return mkdtempSync(path.join(tmpdir(), "flightdata-e2e-"));
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

// Settings of the caller's environment that would change the server under test (another
// backend, security off, a port): not passed on. `make` exports HOST and PORT, for one.
const FOREIGN_SETTING =
  /^(FLIGHTDATA_|DYNAMODB_|S3_|REDIS_|AWS_|OPENSKY_|ADSBX_|RECEIVER_|EVENTBRIDGE_|LOG_)|^(HOST|PORT|WEB_CONCURRENCY|CORS_ORIGINS|MAX_PAGE_SIZE|PROCESSING_QUEUE_URL|WEBSOCKET_API_ENDPOINT)$/;

function serverEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !FOREIGN_SETTING.test(name)));
  return {
    ...inherited,
    FLIGHTDATA_DATA_DIR: dataDir,
    FLIGHTDATA_SOURCE: "replay",
    FLIGHTDATA_INTERVAL: String(INTERVAL_S),
    LOG_FORMAT: "text",
    FLIGHTDATA_DASHBOARD_DIR: DIST_DIR,
    ...extra,
  };
}

/** `flightdata keys create --name e2e` on `dataDir`: the key, printed alone on the last line. */
export function createKey(dataDir: string, name = "e2e"): string {
  const result = spawnSync(flightdataBin(), ["keys", "create", "--name", name], {
    env: serverEnv(dataDir),
    encoding: "utf8",
    timeout: 60_000,
  });
  if (result.status !== 0) {
    throw new Error(`flightdata keys create failed (exit ${String(result.status)}):\n${result.stdout}\n${result.stderr}`);
  }
  const lines = result.stdout.trim().split("\n");
  const key = lines[lines.length - 1]?.trim() ?? "";
  if (!/^\S+$/.test(key)) throw new Error(`flightdata keys create printed no key:\n${result.stdout}`);
  return key;
}

export class GraphQLError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export interface ServerOptions {
  /** A name for its log file, test-results/server-<name>.log. */
  name: string;
  /** FLIGHTDATA_ANONYMOUS; true (the default) serves requests without a key. */
  anonymous?: boolean;
  /** An existing data directory (one a key was created in); otherwise a fresh one. */
  dataDir?: string;
  /** The key the harness's own GraphQL requests carry (needed when anonymous is false). */
  apiKey?: string;
}

export class Server {
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private stopping = false;
  private tail: string[] = [];

  private constructor(
    readonly baseUrl: string,
    readonly dataDir: string,
    private readonly child: ChildProcess,
    private readonly logFile: string,
    private readonly log: WriteStream,
    private readonly apiKey: string | undefined,
  ) {
    const keep = (chunk: Buffer): void => {
      this.log.write(chunk);
      this.tail.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      if (this.tail.length > 60) this.tail.splice(0, this.tail.length - 60);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("exit", (code, signal) => {
      this.exit = { code, signal };
      running.delete(child);
    });
    child.on("error", (error) => {
      // Not started at all (spawn failed): no "exit" follows.
      this.tail.push(`cannot run ${flightdataBin()}: ${error.message}`);
      this.exit = { code: null, signal: null };
      running.delete(child);
    });
  }

  static async start(options: ServerOptions): Promise<Server> {
    assertPrerequisites();
    hookExit();
    mkdirSync(RESULTS_DIR, { recursive: true });
    const dataDir = options.dataDir ?? newDataDir();
    const port = await freePort();
    const extra: Record<string, string> = {};
    if (options.anonymous === false) extra.FLIGHTDATA_ANONYMOUS = "false";
    const command = [flightdataBin(), "serve", "--host", "127.0.0.1", "--port", String(port)];
    // Where util-linux's setpriv is (Linux), the server is killed with this process even
    // when this process is killed outright (SIGKILL of a timed-out worker): no exit hook
    // runs then. It sets the signal and execs the server; it stays no process of its own.
    if (existsSync(SETPRIV)) command.unshift(SETPRIV, "--pdeathsig", "KILL", "--");
    const child = spawn(command[0]!, command.slice(1), {
      env: serverEnv(dataDir, extra),
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    const logFile = path.join(RESULTS_DIR, `server-${options.name}.log`);
    const server = new Server(
      `http://127.0.0.1:${port}`,
      dataDir,
      child,
      logFile,
      createWriteStream(logFile),
      options.apiKey,
    );
    try {
      await server.waitReady();
    } catch (exc) {
      await server.stop();
      throw exc;
    }
    return server;
  }

  /** Why the server is no longer running, with the end of its log; null while it runs. */
  death(): string | null {
    if (this.exit === null || this.stopping) return null;
    return (
      `flightdata serve exited (code ${String(this.exit.code)}, signal ${String(this.exit.signal)}); ` +
      `the end of its log (${this.logFile}):\n${this.logTail()}`
    );
  }

  /** Throws `death()` when the server is no longer running. */
  assertAlive(): void {
    const death = this.death();
    if (death !== null) throw new Error(death);
  }

  logTail(lines = 30): string {
    return this.tail.slice(-lines).join("\n");
  }

  private async waitReady(): Promise<void> {
    await poll(
      async () => {
        const response = await fetch(`${this.baseUrl}/healthz`).catch(() => null);
        return response?.ok ? true : undefined;
      },
      { timeoutMs: 60_000, what: () => `${this.baseUrl}/healthz to answer 200`, server: this },
    );
    let last: unknown = null;
    await poll(
      async () => {
        const data = await this.graphql<{ flights: { totalCount: number } }>("{ flights(first: 1) { totalCount } }");
        last = data.flights.totalCount;
        return data.flights.totalCount > 0 ? true : undefined;
      },
      { timeoutMs: 60_000, what: () => `the first ingest cycle (flights.totalCount was ${String(last)})`, server: this },
    );
    const page = await fetch(`${this.baseUrl}/`, { redirect: "manual" });
    const body = await page.text();
    if (page.status !== 200 || !body.includes('id="root"')) {
      throw new Error(
        `${this.baseUrl}/ does not serve the dashboard (status ${page.status}, ` +
          `location ${String(page.headers.get("location"))}): ${body.slice(0, 300)}`,
      );
    }
  }

  /** POST /graphql; GraphQL errors and HTTP refusals throw. */
  async graphql<T>(query: string, variables: Record<string, unknown> = {}, apiKey = this.apiKey): Promise<T> {
    this.assertAlive();
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (apiKey) headers["X-API-Key"] = apiKey;
    const response = await fetch(`${this.baseUrl}/graphql`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    let body: { data?: T; errors?: { message: string }[] } | null = null;
    try {
      body = JSON.parse(text) as { data?: T; errors?: { message: string }[] };
    } catch {
      // reported below
    }
    if (!response.ok || body === null || body.errors?.length || body.data === undefined) {
      throw new GraphQLError(`POST /graphql answered ${response.status}: ${text.slice(0, 500)}`, response.status, body);
    }
    return body.data;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.exit === null && this.child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    running.delete(this.child);
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
    removeDataDir(this.dataDir);
  }
}

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** What was awaited, for the message on timeout (called then, so it can show the last value). */
  what: () => string;
  /** Fail at once, with its log, if this server has exited. */
  server?: Server;
}

/** Calls `attempt` until it returns something other than undefined; throws on timeout. */
export async function poll<T>(attempt: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    options.server?.assertAlive();
    try {
      const value = await attempt();
      if (value !== undefined) return value;
      lastError = null;
    } catch (exc) {
      lastError = exc;
    }
    if (Date.now() > deadline) {
      const cause = lastError === null ? "" : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`timed out after ${options.timeoutMs / 1000} s waiting for ${options.what()}${cause}`);
    }
    await sleep(options.intervalMs ?? 250);
  }
}

// --- the browser ---------------------------------------------------------------------

export async function launchBrowser(): Promise<Browser> {
  assertPrerequisites();
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
}

/** A page in a new context, with the page's errors and console errors kept for messages. */
export class Tab {
  readonly errors: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    readonly prefix: string,
    readonly server: Server,
  ) {
    page.on("pageerror", (error) => this.errors.push(`pageerror: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") this.errors.push(`console.error: ${message.text()}`);
    });
  }

  /** `bypassCSP` lets a test inject a script (axe-core) past the page's script-src 'self'. */
  static async open(browser: Browser, server: Server, prefix: string, options: { bypassCSP?: boolean } = {}): Promise<Tab> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      baseURL: server.baseUrl,
      bypassCSP: options.bypassCSP ?? false,
    });
    const page = await context.newPage();
    return new Tab(context, page, prefix, server);
  }

  async goto(pathAndQuery: string): Promise<void> {
    await this.page.goto(pathAndQuery, { waitUntil: "domcontentloaded" });
  }

  async screenshot(step: string): Promise<void> {
    mkdirSync(RESULTS_DIR, { recursive: true });
    await this.page
      .screenshot({ path: path.join(RESULTS_DIR, `${this.prefix}-${step}.png`), fullPage: false, timeout: 10_000 })
      .catch(() => undefined);
  }

  /** Runs one step of a test and screenshots it: `<prefix>-<name>.png`, or `-FAILED.png`. */
  async step<T>(name: string, body: () => Promise<T>): Promise<T> {
    try {
      const value = await body();
      await this.screenshot(name);
      return value;
    } catch (exc) {
      await this.screenshot(`${name}-FAILED`);
      if (exc instanceof Error) {
        if (this.errors.length > 0) exc.message += `\nerrors in the page:\n  ${this.errors.slice(-10).join("\n  ")}`;
        const death = this.server.death();
        if (death !== null && !exc.message.includes(death)) exc.message += `\n${death}`;
      }
      throw exc;
    }
  }

  poll<T>(attempt: () => Promise<T | undefined>, timeoutMs: number, what: () => string): Promise<T> {
    return poll(attempt, { timeoutMs, what, server: this.server });
  }

  byTestId(id: string): Locator {
    return this.page.locator(`[data-testid="${id}"]`);
  }

  /** The text of the single `[data-testid=id]`, or null while there is none. */
  async text(id: string): Promise<string | null> {
    const found = this.byTestId(id);
    const n = await found.count();
    if (n === 0) return null;
    if (n > 1) throw new Error(`${n} elements match [data-testid="${id}"], expected one`);
    return (await found.textContent({ timeout: 5_000 }))?.trim() ?? "";
  }

  /** aircraft-count's text and data-bbox, as they are now (null while it is missing). */
  async readCount(): Promise<CountReading | null> {
    const found = this.byTestId("aircraft-count");
    const n = await found.count();
    if (n === 0) return null;
    if (n > 1) throw new Error(`${n} elements match [data-testid="aircraft-count"], expected one`);
    return found.evaluate((el) => ({ text: (el.textContent ?? "").trim(), bbox: el.getAttribute("data-bbox") }));
  }

  /** Waits for aircraft-count to be a number above 0 (digits only); returns it. */
  async waitForAircraft(timeoutMs = 30_000): Promise<number> {
    let last: CountReading | null = null;
    return this.poll(
      async () => {
        last = await this.readCount();
        if (last === null || !/^\d+$/.test(last.text)) return undefined;
        const n = Number(last.text);
        return n > 0 ? n : undefined;
      },
      timeoutMs,
      () =>
        last === null
          ? '[data-testid="aircraft-count"] to exist (not found)'
          : `[data-testid="aircraft-count"] to be digits only and above 0 (text was ${JSON.stringify((last as CountReading).text)})`,
    );
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
  }
}

export interface CountReading {
  text: string;
  bbox: string | null;
}

export interface Bbox {
  south: number;
  west: number;
  north: number;
  east: number;
}

/** `data-bbox`'s `south,west,north,east`; throws on anything else. */
export function parseBbox(raw: string | null): Bbox {
  const parts = (raw ?? "").split(",").map((p) => p.trim());
  const numbers = parts.map(Number);
  if (parts.length !== 4 || parts.some((p) => p === "") || numbers.some((n) => !Number.isFinite(n))) {
    throw new Error(`data-bbox is not "south,west,north,east" numbers: ${JSON.stringify(raw)}`);
  }
  const [south, west, north, east] = numbers as [number, number, number, number];
  return { south, west, north, east };
}

/** Parses a count that must be digits only. */
export function parseCount(reading: CountReading): number {
  if (!/^\d+$/.test(reading.text)) {
    throw new Error(`aircraft-count text is not digits only: ${JSON.stringify(reading.text)}`);
  }
  return Number(reading.text);
}

export interface FlightNode {
  icao24: string;
  callsign: string | null;
  originCountry: string | null;
  onGround: boolean;
  latitude: number | null;
  longitude: number | null;
  velocityMps: number | null;
  trueTrackDeg: number | null;
  baroAltitudeM: number | null;
}

const NODE_FIELDS = "icao24 callsign originCountry onGround latitude longitude velocityMps trueTrackDeg baroAltitudeM";

/** Every live flight (in `bbox` when given), read page by page. */
export async function allFlights(server: Server, bbox: Bbox | null = null): Promise<FlightNode[]> {
  const out: FlightNode[] = [];
  let after: string | null = null;
  for (;;) {
    const data: {
      flights: { nodes: FlightNode[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
    } = await server.graphql(
      `query($bbox: BoundingBoxInput, $after: String) {
        flights(bbox: $bbox, first: 1000, after: $after) {
          nodes { ${NODE_FIELDS} } pageInfo { hasNextPage endCursor }
        }
      }`,
      { bbox, after },
    );
    out.push(...data.flights.nodes);
    if (!data.flights.pageInfo.hasNextPage || data.flights.pageInfo.endCursor === null) return out;
    after = data.flights.pageInfo.endCursor;
  }
}

/** flights(bbox, filters).totalCount on the server. */
export async function serverCount(
  server: Server,
  bbox: Bbox,
  filters: { callsignPrefix?: string; originCountry?: string; onGround?: boolean } = {},
): Promise<number> {
  const data = await server.graphql<{ flights: { totalCount: number } }>(
    `query($bbox: BoundingBoxInput, $callsignPrefix: String, $originCountry: String, $onGround: Boolean) {
      flights(bbox: $bbox, callsignPrefix: $callsignPrefix, originCountry: $originCountry, onGround: $onGround, first: 1) {
        totalCount
      }
    }`,
    { bbox, ...filters },
  );
  return data.flights.totalCount;
}

export function bboxQuery(b: Bbox): string {
  return `${b.south},${b.west},${b.north},${b.east}`;
}
