import { describe, expect, it } from "vitest";
import { ApiError, backoffMs, DEFAULT_CONFIG, refusal, websocketUrl } from "./client";

describe("refusal", () => {
  it("keeps the gate's reason, code and Retry-After", async () => {
    const response = new Response(JSON.stringify({ error: "rate_limited", message: "rate limit exceeded (100 requests a burst): retry in 3 s" }), {
      status: 429,
      headers: { "Retry-After": "3", "content-type": "application/json" },
    });
    const error = await refusal(response);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(429);
    expect(error.code).toBe("rate_limited");
    expect(error.message).toBe("rate limit exceeded (100 requests a burst): retry in 3 s");
    expect(error.retryAfterS).toBe(3);
    expect(error.isAuth).toBe(false);
  });
  it("says a 401 is about the key", async () => {
    const error = await refusal(new Response(JSON.stringify({ error: "missing_key", message: "an API key is required" }), { status: 401 }));
    expect(error.isAuth).toBe(true);
    expect(error.message).toBe("an API key is required");
    expect(error.retryAfterS).toBeNull();
  });
  it("falls back to the status line for a body that is not JSON", async () => {
    const error = await refusal(new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    expect(error.message).toBe("502 Bad Gateway");
  });
});

describe("backoff", () => {
  it("doubles from 1 s to at most 30 s, with jitter", () => {
    expect(backoffMs(0, () => 0.5)).toBe(1000);
    expect(backoffMs(3, () => 0.5)).toBe(8000);
    expect(backoffMs(10, () => 0.5)).toBe(30000);
    expect(backoffMs(2, () => 0)).toBe(3200);
    expect(backoffMs(2, () => 1)).toBe(4800);
  });
});

describe("websocketUrl", () => {
  it("derives ws(s):// from the GraphQL URL", () => {
    expect(websocketUrl(DEFAULT_CONFIG, new URL("http://127.0.0.1:8000/?bbox=1,2,3,4") as unknown as Location)).toBe("ws://127.0.0.1:8000/graphql");
    expect(websocketUrl(DEFAULT_CONFIG, new URL("https://flights.example/") as unknown as Location)).toBe("wss://flights.example/graphql");
  });
  it("uses the configured subscription URL", () => {
    expect(websocketUrl({ ...DEFAULT_CONFIG, subscriptionUrl: "wss://ws.example/live" }, new URL("https://a.example/") as unknown as Location)).toBe(
      "wss://ws.example/live",
    );
  });
});
