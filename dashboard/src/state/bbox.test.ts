import { describe, expect, it } from "vitest";
import { contains, format, normalize, pad, parse, within } from "./bbox";

describe("normalize", () => {
  it("keeps an ordinary box", () => {
    expect(normalize(45, 0, 55, 15)).toEqual({ south: 45, west: 0, north: 55, east: 15 });
  });
  it("wraps longitudes of a wrapped map into a box across the antimeridian", () => {
    expect(normalize(-20, 160, 10, 200)).toEqual({ south: -20, west: 160, north: 10, east: -160 });
  });
  it("is the world once the view spans it, and clamps latitudes", () => {
    expect(normalize(-120, -250, 100, 250)).toEqual({ south: -90, west: -180, north: 90, east: 180 });
  });
  it("keeps 180 as an east edge", () => {
    expect(normalize(0, 170, 10, 180).east).toBe(180);
  });
  it("rounds to 5 decimals so the attribute and the count use the same numbers", () => {
    expect(format(normalize(1.123456789, 2.000001234, 3, 4))).toBe("1.12346,2,3,4");
  });
});

describe("contains", () => {
  it("includes the edges, as the server does", () => {
    const box = { south: 45, west: 0, north: 55, east: 15 };
    expect(contains(box, 45, 0)).toBe(true);
    expect(contains(box, 55, 15)).toBe(true);
    expect(contains(box, 55.0001, 15)).toBe(false);
  });
  it("handles the antimeridian", () => {
    const box = { south: -20, west: 170, north: 10, east: -170 };
    expect(contains(box, 0, 179)).toBe(true);
    expect(contains(box, 0, -175)).toBe(true);
    expect(contains(box, 0, 0)).toBe(false);
  });
});

describe("within and pad", () => {
  const view = { south: 45, west: 0, north: 55, east: 15 };
  it("grows a box by a fraction on each side", () => {
    expect(pad(view, 0.25)).toEqual({ south: 42.5, west: -3.75, north: 57.5, east: 18.75 });
  });
  it("becomes the world when padding spans it", () => {
    expect(pad({ south: -60, west: -170, north: 60, east: 170 }, 0.25)).toMatchObject({ west: -180, east: 180, south: -90, north: 90 });
  });
  it("says whether a view fits a subscribed box", () => {
    const sub = pad(view, 0.25);
    expect(within(view, sub)).toBe(true);
    expect(within({ ...view, east: 20 }, sub)).toBe(false);
    expect(within({ south: 0, west: 175, north: 5, east: -178 }, { south: -10, west: 170, north: 10, east: -170 })).toBe(true);
    expect(within({ south: 0, west: 160, north: 5, east: -178 }, { south: -10, west: 170, north: 10, east: -170 })).toBe(false);
  });
});

describe("parse", () => {
  it("reads south,west,north,east", () => {
    expect(parse("45,0,55,15")).toEqual({ south: 45, west: 0, north: 55, east: 15 });
  });
  it.each(["", "1,2,3", "a,b,c,d", "60,0,50,10", "0,0,95,10", "0,-200,10,10"])("refuses %j", (text) => {
    expect(parse(text)).toBeNull();
  });
});
