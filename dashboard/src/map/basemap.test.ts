import { describe, expect, it } from "vitest";
import { unwrapRing } from "./basemap";

describe("unwrapRing", () => {
  it("makes a ring across the antimeridian continuous", () => {
    const ring = [
      [178, 65],
      [180, 66],
      [-179, 67],
      [-175, 66],
      [178, 65],
    ];
    unwrapRing(ring);
    expect(ring.map((p) => p[0])).toEqual([178, 180, 181, 185, 178]);
  });
  it("leaves an ordinary ring alone", () => {
    const ring = [
      [0, 0],
      [10, 0],
      [10, 10],
      [0, 0],
    ];
    unwrapRing(ring);
    expect(ring.map((p) => p[0])).toEqual([0, 10, 10, 0]);
  });
});
