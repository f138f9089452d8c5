import { describe, expect, it } from "vitest";
import type { FlightUpdateBatch } from "../api/types";
import { flight } from "../test/fixtures";
import { applyBatch, EMPTY_FLEET, positioned, sources } from "./fleet";

function batch(over: Partial<FlightUpdateBatch>): FlightUpdateBatch {
  return {
    cycleId: "c1",
    at: "2026-12-06T10:00:00+00:00",
    publishedAt: "2026-12-06T10:00:01+00:00",
    flights: [],
    removed: [],
    droppedBatches: 0,
    snapshot: false,
    ...over,
  };
}

describe("applyBatch", () => {
  it("replaces everything with a snapshot", () => {
    const first = applyBatch(EMPTY_FLEET, batch({ snapshot: true, flights: [flight("aaaaaa"), flight("bbbbbb")] }), 1);
    const second = applyBatch(first, batch({ snapshot: true, flights: [flight("cccccc")] }), 1);
    expect([...second.flights.keys()]).toEqual(["cccccc"]);
    expect(second.ready).toBe(true);
    expect(first.flights.size).toBe(2); // the argument is left alone
  });

  it("upserts changed flights and deletes removed ones", () => {
    const start = applyBatch(EMPTY_FLEET, batch({ snapshot: true, flights: [flight("aaaaaa"), flight("bbbbbb")] }), 1);
    const next = applyBatch(
      start,
      batch({ cycleId: "c2", flights: [flight("aaaaaa", { latitude: 51 }), flight("dddddd")], removed: ["bbbbbb"] }),
    );
    expect([...next.flights.keys()].sort()).toEqual(["aaaaaa", "dddddd"]);
    expect(next.flights.get("aaaaaa")?.latitude).toBe(51);
    expect(next.cycleId).toBe("c2");
    expect(start.flights.get("aaaaaa")?.latitude).toBe(50);
  });

  it("marks the fleet stale after dropped batches, and a snapshot clears it", () => {
    const start = applyBatch(EMPTY_FLEET, batch({ snapshot: true, flights: [flight("aaaaaa")] }), 1);
    const gap = applyBatch(start, batch({ droppedBatches: 3, flights: [flight("bbbbbb")] }));
    expect(gap.stale).toBe(true);
    expect(gap.dropped).toBe(3);
    expect(gap.flights.has("bbbbbb")).toBe(true);
    const resync = applyBatch(gap, batch({ snapshot: true, flights: [flight("cccccc")] }));
    expect(resync.stale).toBe(false);
    expect(resync.dropped).toBe(3);
  });

  it("takes a new subscription's snapshot and ignores batches of an old one", () => {
    const old = applyBatch(EMPTY_FLEET, batch({ snapshot: true, flights: [flight("aaaaaa")] }), 1);
    // A late batch of subscription 1 after subscription 2 started is dropped…
    const renewed = applyBatch(old, batch({ snapshot: true, flights: [flight("bbbbbb")] }), 2);
    expect(applyBatch(renewed, batch({ flights: [flight("zzzzzz")] }), 1)).toBe(renewed);
    // …and a new subscription's state starts only with its snapshot.
    expect(applyBatch(old, batch({ flights: [flight("cccccc")] }), 3)).toBe(old);
    expect([...renewed.flights.keys()]).toEqual(["bbbbbb"]);
    expect(renewed.generation).toBe(2);
  });

  it("tracks the newest contact", () => {
    const start = applyBatch(
      EMPTY_FLEET,
      batch({
        snapshot: true,
        flights: [flight("aaaaaa", { lastContact: "2026-12-06T10:00:05+00:00" }), flight("bbbbbb", { lastContact: "2026-12-06T10:00:02+00:00" })],
      }),
      1,
    );
    expect(start.newestContactMs).toBe(Date.parse("2026-12-06T10:00:05Z"));
    const next = applyBatch(start, batch({ flights: [], removed: ["aaaaaa"] }));
    expect(next.newestContactMs).toBe(start.newestContactMs);
  });
});

describe("fleet helpers", () => {
  it("lists sources by count and only positioned flights", () => {
    const fleet = applyBatch(
      EMPTY_FLEET,
      batch({
        snapshot: true,
        flights: [flight("aaaaaa", { source: "OPENSKY" }), flight("bbbbbb"), flight("cccccc", { latitude: null, longitude: null })],
      }),
      1,
    );
    expect(sources(fleet)).toEqual(["REPLAY", "OPENSKY"]);
    expect(positioned(fleet).map((f) => f.icao24)).toEqual(["aaaaaa", "bbbbbb"]);
  });
});
