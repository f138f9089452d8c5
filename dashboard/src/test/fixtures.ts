/** Test data in the shapes the API answers with. */
import type { LiveFlight } from "../api/types";

/** An aircraft at 50°N 8°E cruising east; `over` changes any field. */
export function flight(icao24: string, over: Partial<LiveFlight> = {}): LiveFlight {
  return {
    icao24,
    callsign: `CS${icao24}`,
    originCountry: "Germany",
    latitude: 50,
    longitude: 8,
    baroAltitudeM: 10000,
    geoAltitudeM: 10100,
    onGround: false,
    velocityMps: 230,
    trueTrackDeg: 90,
    verticalRateMps: 0,
    squawk: "1000",
    positionSource: "ADSB",
    phase: "CRUISE",
    lastContact: "2026-12-06T10:00:00+00:00",
    source: "REPLAY",
    ...over,
  };
}
