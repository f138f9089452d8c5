/**
 * The dashboard's access to the API: queries over HTTP (POST /graphql) and subscriptions
 * over graphql-ws (the graphql-transport-ws protocol), both carrying the API key when one
 * is set: as `X-API-Key` on HTTP, in the `connection_init` payload on the WebSocket.
 *
 * Refusals are never swallowed: a 401, 403 or 429 becomes an `ApiError` with the server's
 * reason and `Retry-After`, and every listener registered with `onProblem` hears of it.
 */
import { createClient, type Client } from "graphql-ws";
import { PROBE } from "./documents";

export interface RuntimeConfig {
  graphqlUrl: string;
  subscriptionUrl: string | null;
  tileUrl: string | null;
  tileAttribution: string | null;
  anonymous: boolean;
}

export const DEFAULT_CONFIG: RuntimeConfig = {
  graphqlUrl: "/graphql",
  subscriptionUrl: null,
  tileUrl: null,
  tileAttribution: null,
  anonymous: true,
};

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: string | null = null,
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The server refused the key (or wants one). */
  get isAuth(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export interface GraphQLErrorItem {
  message: string;
  path?: (string | number)[];
  extensions?: Record<string, unknown>;
}

export type ConnectionState =
  | { kind: "connecting" }
  | { kind: "live" }
  | { kind: "reconnecting"; attempt: number; inS: number; reason: string }
  | { kind: "refused"; reason: string };

type ProblemListener = (error: ApiError) => void;
type ConnectionListener = (state: ConnectionState) => void;

const KEY_STORAGE = "flightdata.apiKey";

export function storedKey(): string | null {
  try {
    return window.localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  try {
    if (key) window.localStorage.setItem(KEY_STORAGE, key);
    else window.localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Private mode without storage: the key lives for this page only.
  }
}

/** The wait before reconnect attempt `attempt` (0-based): 1, 2, 4 … 30 s, with jitter. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 1000 * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

export function websocketUrl(config: RuntimeConfig, location: Location): string {
  if (config.subscriptionUrl) return config.subscriptionUrl;
  const http = new URL(config.graphqlUrl, location.href);
  http.protocol = http.protocol === "https:" ? "wss:" : "ws:";
  return http.toString();
}

/** Reads a refusal's body: `{"error": code, "message": why}` from the API's gate. */
export async function refusal(response: Response): Promise<ApiError> {
  const retry = response.headers.get("Retry-After");
  const retryAfterS = retry !== null && retry !== "" && !Number.isNaN(Number(retry)) ? Number(retry) : null;
  let message = `${response.status} ${response.statusText}`.trim();
  let code: string | null = null;
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object") {
      const b = body as { message?: unknown; error?: unknown; errors?: { message?: unknown }[] };
      if (typeof b.message === "string") message = b.message;
      else if (Array.isArray(b.errors) && typeof b.errors[0]?.message === "string") message = b.errors[0].message;
      if (typeof b.error === "string") code = b.error;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(message, response.status, code, retryAfterS);
}

export class Api {
  private key: string | null;
  private ws: Client | null = null;
  private problems = new Set<ProblemListener>();
  private connections = new Set<ConnectionListener>();
  private attempt = 0;

  constructor(
    readonly config: RuntimeConfig,
    key: string | null = storedKey(),
  ) {
    this.key = key;
  }

  get apiKey(): string | null {
    return this.key;
  }

  /** Use another key from now on: new queries carry it, the WebSocket reconnects with it. */
  setKey(key: string | null): void {
    this.key = key;
    storeKey(key);
    this.resetSocket();
  }

  onProblem(listener: ProblemListener): () => void {
    this.problems.add(listener);
    return () => this.problems.delete(listener);
  }

  onConnection(listener: ConnectionListener): () => void {
    this.connections.add(listener);
    return () => this.connections.delete(listener);
  }

  private report(error: ApiError): void {
    for (const listener of this.problems) listener(error);
  }

  private connectionState(state: ConnectionState): void {
    for (const listener of this.connections) listener(state);
  }

  /** A query's data and its GraphQL errors (partial answers are answers). */
  async request<T>(
    query: string,
    variables: Record<string, unknown> = {},
    signal?: AbortSignal,
  ): Promise<{ data: T | null; errors: GraphQLErrorItem[] }> {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    const key = this.key;
    if (key) headers["X-API-Key"] = key;
    let response: Response;
    try {
      response = await fetch(this.config.graphqlUrl, {
        method: "POST",
        headers,
        body: JSON.stringify({ query, variables }),
        signal: signal ?? null,
      });
    } catch (exc) {
      if (exc instanceof DOMException && exc.name === "AbortError") throw exc;
      const error = new ApiError(`the API did not answer: ${String(exc)}`, null, "unreachable");
      this.report(error);
      throw error;
    }
    if (!response.ok && response.status !== 400) {
      const error = await refusal(response);
      // A refusal of a key since replaced is not news.
      if (!(error.isAuth && key !== this.key)) this.report(error);
      throw error;
    }
    const body = (await response.json()) as { data?: T | null; errors?: GraphQLErrorItem[] };
    return { data: body.data ?? null, errors: body.errors ?? [] };
  }

  /** A query that must succeed whole: GraphQL errors become an `ApiError`. */
  async query<T>(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
    const { data, errors } = await this.request<T>(query, variables, signal);
    if (errors.length > 0 || data === null) {
      const first = errors[0];
      const ext = first?.extensions ?? {};
      const retry = typeof ext.retryAfter === "number" ? ext.retryAfter : null;
      const code = typeof ext.code === "string" ? ext.code : null;
      const error = new ApiError(first?.message ?? "the API answered without data", code === "RATE_LIMITED" ? 429 : 400, code, retry);
      if (code === "RATE_LIMITED") this.report(error);
      throw error;
    }
    return data;
  }

  private socket(): Client {
    if (this.ws) return this.ws;
    const client = createClient({
      url: websocketUrl(this.config, window.location),
      connectionParams: () => (this.key ? { apiKey: this.key } : {}),
      lazy: true,
      lazyCloseTimeout: 3000,
      keepAlive: 15_000,
      retryAttempts: Infinity,
      shouldRetry: (event) => !isRefusal(event),
      retryWait: async (retries) => {
        const wait = backoffMs(retries);
        this.connectionState({ kind: "reconnecting", attempt: retries + 1, inS: Math.round(wait / 1000), reason: "connection lost" });
        await new Promise((resolve) => setTimeout(resolve, wait));
      },
      on: {
        // Events of a client replaced by `setKey` are old news.
        connecting: () => {
          if (this.ws === client && this.attempt === 0) this.connectionState({ kind: "connecting" });
        },
        connected: () => {
          if (this.ws !== client) return;
          this.attempt = 0;
          this.connectionState({ kind: "live" });
        },
        closed: (event) => {
          if (this.ws !== client) return;
          if (isRefusal(event)) this.refused(closeReason(event));
          else this.attempt += 1;
        },
      },
    });
    this.ws = client;
    return client;
  }

  /**
   * The WebSocket was refused. Its close frame says only "Forbidden"; the same request
   * over HTTP gets the gate's reason (a missing, unknown, revoked or expired key), which
   * `request` reports. Only a socket refused while HTTP is admitted reports the close.
   */
  private refused(reason: string): void {
    this.connectionState({ kind: "refused", reason: reason || "the server refused the connection" });
    void this.probe().then((admitted) => {
      if (admitted) this.report(new ApiError(`the server refused the WebSocket: ${reason || "no reason given"}`, 403, "refused"));
    });
  }

  /**
   * Whether the API admits this page's requests now, asked with the smallest query. A
   * refusal is reported to `onProblem` listeners with the server's reason, as any is.
   */
  async probe(): Promise<boolean> {
    try {
      await this.request(PROBE);
      return true;
    } catch {
      return false;
    }
  }

  private resetSocket(): void {
    const ws = this.ws;
    this.ws = null;
    void ws?.dispose();
  }

  /**
   * Subscribe; `next` gets each result's data, `error` a GraphQL error or a refusal. The
   * returned function unsubscribes. Reconnection is the client's: after one, the
   * subscription is sent again and its first batch is a snapshot.
   */
  subscribe<T>(
    query: string,
    variables: Record<string, unknown>,
    next: (data: T) => void,
    error: (message: string) => void,
  ): () => void {
    return this.socket().subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors?.length) error(result.errors.map((e) => e.message).join("; "));
          else if (result.data) next(result.data as T);
        },
        error: (exc) => {
          if (Array.isArray(exc)) error(exc.map((e: { message: string }) => e.message).join("; "));
          else if (!isCloseEvent(exc)) error(String(exc));
        },
        complete: () => undefined,
      },
    );
  }

  dispose(): void {
    this.resetSocket();
  }
}

interface CloseLike {
  code: number;
  reason: string;
}

function isCloseEvent(value: unknown): value is CloseLike {
  return typeof value === "object" && value !== null && "code" in value && "reason" in value;
}

/** A close the server chose because of the client (bad or missing key, too many requests). */
function isRefusal(event: unknown): boolean {
  return isCloseEvent(event) && (event.code === 4403 || event.code === 4401 || event.code === 4429);
}

function closeReason(event: unknown): string {
  return isCloseEvent(event) ? event.reason : "";
}
