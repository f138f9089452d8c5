import { describe, expect, it } from "vitest";
import { flight } from "../test/fixtures";
import { active, matcher, NO_FILTERS } from "./filters";

describe("matcher", () => {
  const fleet = [
    flight("aaaaaa", { callsign: "DLH400 ", originCountry: "Germany", baroAltitudeM: 11000 }),
    flight("bbbbbb", { callsign: "BAW12", originCountry: "United Kingdom", baroAltitudeM: 3000 }),
    flight("cccccc", { callsign: null, originCountry: "Germany", onGround: true, baroAltitudeM: null }),
    flight("dddddd", { callsign: "DLH9", baroAltitudeM: null, geoAltitudeM: null }),
  ];
  const pick = (f: Partial<typeof NO_FILTERS>) => fleet.filter(matcher({ ...NO_FILTERS, ...f })).map((x) => x.icao24);

  it("lets everything through with no filter", () => {
    expect(active(NO_FILTERS)).toBe(false);
    expect(pick({})).toHaveLength(4);
  });
  it("filters by callsign prefix, case-blind", () => {
    expect(pick({ callsignPrefix: "dlh" })).toEqual(["aaaaaa", "dddddd"]);
  });
  it("filters by origin country", () => {
    expect(pick({ originCountry: "germany" })).toEqual(["aaaaaa", "cccccc", "dddddd"]);
  });
  it("filters by altitude range, dropping aircraft without altitude, ground at 0", () => {
    expect(pick({ minAltitudeM: 2000, maxAltitudeM: 5000 })).toEqual(["bbbbbb"]);
    expect(pick({ maxAltitudeM: 100 })).toEqual(["cccccc"]);
  });
  it("filters airborne or on ground", () => {
    expect(pick({ ground: "ground" })).toEqual(["cccccc"]);
    expect(pick({ ground: "airborne" })).toEqual(["aaaaaa", "bbbbbb", "dddddd"]);
    expect(active({ ...NO_FILTERS, ground: "airborne" })).toBe(true);
  });
});
