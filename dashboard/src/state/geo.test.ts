import { describe, expect, it } from "vitest";
import { densityCellDeg, radiusKm } from "./geo";

describe("radiusKm", () => {
  it("covers a box from its centre to a corner", () => {
    expect(radiusKm({ south: -1, west: -1, north: 1, east: 1 })).toBeCloseTo(157.3, 0);
  });
  it("measures across the antimeridian the short way", () => {
    expect(radiusKm({ south: -1, west: 179, north: 1, east: -179 })).toBeCloseTo(157.3, 0);
  });
});

describe("densityCellDeg", () => {
  it("grows finer as the map zooms in", () => {
    expect([2, 4, 6, 9].map(densityCellDeg)).toEqual([2, 1, 0.25, 0.1]);
  });
});
