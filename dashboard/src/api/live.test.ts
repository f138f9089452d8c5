import { describe, expect, it } from "vitest";
import { flight } from "../test/fixtures";
import type { Api } from "./client";
import { appendPoint, LiveFeed, stillFits, subscriptionBox } from "./live";
import type { FlightUpdateBatch } from "./types";

/** An `Api` whose subscriptions the test drives by hand. */
class FakeApi {
  subscriptions: { variables: Record<string, unknown>; next: (data: unknown) => void; closed: boolean }[] = [];
  subscribe(_query: string, variables: Record<string, unknown>, next: (data: unknown) => void): () => void {
    const sub = { variables, next, closed: false };
    this.subscriptions.push(sub);
    return () => {
      sub.closed = true;
    };
  }
}

function batch(over: Partial<FlightUpdateBatch>): { flightUpdates: FlightUpdateBatch } {
  return {
    flightUpdates: { cycleId: "c", at: "", publishedAt: "", flights: [], removed: [], droppedBatches: 0, snapshot: false, ...over },
  };
}

const view = { south: 45, west: 0, north: 55, east: 15 };

describe("subscription box", () => {
  it("is the world far out, the view plus a margin closer in", () => {
    expect(subscriptionBox(view, 3)).toBeNull();
    expect(subscriptionBox(view, 6)).toEqual({ south: 42.5, west: -3.75, north: 57.5, east: 18.75 });
  });
  it("still fits a view inside it, not one outside or far smaller", () => {
    const box = subscriptionBox(view, 6);
    expect(stillFits(box, { south: 46, west: 1, north: 54, east: 14 }, 6)).toBe(true);
    expect(stillFits(box, { south: 46, west: 10, north: 54, east: 25 }, 6)).toBe(false);
    expect(stillFits(box, { south: 50, west: 5, north: 50.5, east: 5.5 }, 11)).toBe(false);
    expect(stillFits(undefined, view, 6)).toBe(false);
    expect(stillFits(null, view, 3)).toBe(true);
  });
});

describe("LiveFeed", () => {
  it("subscribes for the view, applies batches, and subscribes again when the view leaves the box", () => {
    const api = new FakeApi();
    const seen: number[] = [];
    const feed = new LiveFeed(api as unknown as Api, (fleet) => seen.push(fleet.flights.size), () => undefined);
    feed.follow(view, 6);
    expect(api.subscriptions).toHaveLength(1);
    expect(api.subscriptions[0]?.variables.bbox).toEqual({ south: 42.5, west: -3.75, north: 57.5, east: 18.75 });
    api.subscriptions[0]?.next(batch({ snapshot: true, flights: [flight("aaaaaa"), flight("bbbbbb")] }));
    api.subscriptions[0]?.next(batch({ removed: ["aaaaaa"] }));
    expect(seen).toEqual([2, 1]);

    feed.follow({ south: 46, west: 1, north: 54, east: 14 }, 6); // still inside: no new subscription
    expect(api.subscriptions).toHaveLength(1);
    feed.follow({ south: 30, west: 20, north: 40, east: 35 }, 6);
    expect(api.subscriptions).toHaveLength(2);
    expect(api.subscriptions[0]?.closed).toBe(true);
    // A late batch of the old subscription changes nothing.
    api.subscriptions[0]?.next(batch({ flights: [flight("cccccc")] }));
    expect(feed.fleet.flights.has("cccccc")).toBe(false);
    api.subscriptions[1]?.next(batch({ snapshot: true, flights: [flight("dddddd")] }));
    expect([...feed.fleet.flights.keys()]).toEqual(["dddddd"]);
  });

  it("subscribes again for a snapshot after dropped batches", () => {
    const api = new FakeApi();
    const feed = new LiveFeed(api as unknown as Api, () => undefined, () => undefined);
    feed.follow(view, 6);
    api.subscriptions[0]?.next(batch({ snapshot: true, flights: [flight("aaaaaa")] }));
    api.subscriptions[0]?.next(batch({ droppedBatches: 2, flights: [flight("bbbbbb")] }));
    expect(api.subscriptions).toHaveLength(2);
    expect(api.subscriptions[1]?.variables).toEqual(api.subscriptions[0]?.variables);
    expect(feed.fleet.dropped).toBe(2);
  });
});

describe("appendPoint", () => {
  const p = (time: string) => ({ time, latitude: 1, longitude: 2, baroAltitudeM: null, geoAltitudeM: null, onGround: false });
  it("appends newer points only", () => {
    const points = [p("2026-12-06T10:00:00Z")];
    expect(appendPoint(points, p("2026-12-06T10:00:10Z"))).toHaveLength(2);
    expect(appendPoint(points, p("2026-12-06T10:00:00Z"))).toBe(points);
  });
});
