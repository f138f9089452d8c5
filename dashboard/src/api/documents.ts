/**
 * Every GraphQL document the dashboard sends. `documents.test.ts` validates each one
 * against the server's exported schema (schema/schema.graphql), so a renamed field fails
 * the unit tests instead of the page.
 */

/** The smallest query: whether the API admits this page (and if not, why). */
export const PROBE = "query Probe { __typename }";

const LIVE_FIELDS = `
  icao24 callsign originCountry latitude longitude baroAltitudeM geoAltitudeM onGround
  velocityMps trueTrackDeg verticalRateMps squawk positionSource phase lastContact source
`;

export const FLIGHT_UPDATES = `
  subscription FlightUpdates($bbox: BoundingBoxInput) {
    flightUpdates(bbox: $bbox) {
      cycleId at publishedAt removed droppedBatches snapshot
      flights { ${LIVE_FIELDS} }
    }
  }
`;

export const TRACK_UPDATES = `
  subscription TrackUpdates($icao24: String!) {
    trackUpdates(icao24: $icao24) {
      time latitude longitude baroAltitudeM geoAltitudeM onGround
    }
  }
`;

export const FLIGHT_DETAIL = `
  query FlightDetail($icao24: String!) {
    flight(icao24: $icao24) {
      ${LIVE_FIELDS}
      timePosition region
      route {
        callsign departureIcao departedAt arrivalIcao arrivedAt greatCircleKm flownKm inFlight
        departure { name iata }
        arrival { name iata }
      }
      nearestAirport { distanceKm airport { icao iata name } }
      track {
        points { time latitude longitude baroAltitudeM geoAltitudeM onGround }
      }
    }
  }
`;

const AIRPORT_FIELDS = "icao iata name city country latitude longitude elevationM type";

export const SEARCH = `
  query Search($code: String!, $text: String!, $callsign: String!, $icao24: String!, $isHex: Boolean!) {
    flight(icao24: $icao24) @include(if: $isHex) { ${LIVE_FIELDS} }
    byCallsign: flights(callsignPrefix: $callsign, first: 8) {
      totalCount
      nodes { ${LIVE_FIELDS} }
    }
    airport(code: $code) { ${AIRPORT_FIELDS} }
    airports(search: $text, first: 8) { nodes { ${AIRPORT_FIELDS} } }
  }
`;

export const AIRPORTS_NEAR = `
  query AirportsNear($near: GeoPointInput!, $radiusKm: Float!, $first: Int!) {
    airports(near: $near, radiusKm: $radiusKm, first: $first) {
      nodes { ${AIRPORT_FIELDS} }
    }
  }
`;

export const TRAFFIC_DENSITY = `
  query TrafficDensity($bbox: BoundingBoxInput, $cellDeg: Float!) {
    analytics {
      trafficDensity(bbox: $bbox, cellDeg: $cellDeg) {
        maxAircraft
        cells { south west north east aircraft }
      }
    }
  }
`;

export const ANALYTICS = `
  query Analytics($cycles: Int!) {
    analytics {
      regionCounts { aircraft regions { region aircraft } }
      altitudeHistogram(bucketM: 1000) {
        bucketM onGround withoutAltitude
        buckets { lowM highM aircraft }
      }
      busiestAirports(window: "PT24H", limit: 8) {
        airports { icao movements departures arrivals airport { name iata } }
      }
      dataQuality(window: "PT1H") {
        received rejected rejectRate freshnessLagS
        reasons { reason count rate }
      }
    }
    pipelineStatus {
      deadLetterCount
      cycles(last: $cycles) { cycleId source startedAt received stored rejected duplicates error }
    }
  }
`;

export const ALL_DOCUMENTS = {
  PROBE,
  FLIGHT_UPDATES,
  TRACK_UPDATES,
  FLIGHT_DETAIL,
  SEARCH,
  AIRPORTS_NEAR,
  TRAFFIC_DENSITY,
  ANALYTICS,
};
