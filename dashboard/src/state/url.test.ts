import { describe, expect, it } from "vitest";
import { NO_FILTERS } from "./filters";
import { readUrl, writeUrl } from "./url";

describe("URL state", () => {
  it("round-trips the view, the selection and the filters", () => {
    const state = {
      view: { lat: 51.4706, lon: -0.4619, zoom: 9.25 },
      icao: "4ca7b5",
      filters: { callsignPrefix: "BAW", originCountry: "United Kingdom", minAltitudeM: 1000, maxAltitudeM: 9000, ground: "airborne" as const },
    };
    const text = writeUrl(state);
    expect(text).toBe("?lat=51.4706&lon=-0.4619&zoom=9.25&icao=4ca7b5&callsign=BAW&country=United+Kingdom&altmin=1000&altmax=9000&ground=airborne");
    const back = readUrl(text);
    expect(back.view).toEqual(state.view);
    expect(back.icao).toBe("4ca7b5");
    expect(back.filters).toEqual(state.filters);
  });
  it("reads ?bbox= and ?icao= as tar1090 links do", () => {
    const s = readUrl("?bbox=45,0,55,15&icao=ABC123");
    expect(s.bbox).toEqual({ south: 45, west: 0, north: 55, east: 15 });
    expect(s.icao).toBe("abc123");
    expect(s.view).toBeNull();
  });
  it("ignores what it cannot use", () => {
    const s = readUrl("?lat=95&lon=0&zoom=3&icao=xyz&ground=sideways&altmin=abc");
    expect(s.view).toBeNull();
    expect(s.icao).toBeNull();
    expect(s.filters).toEqual(NO_FILTERS);
  });
  it("writes nothing for an empty state", () => {
    expect(writeUrl({ view: null, icao: null, filters: NO_FILTERS })).toBe("");
  });
});
