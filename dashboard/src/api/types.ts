/** Shapes of the GraphQL answers the dashboard asks for (see documents.ts). */

export type Source = "REPLAY" | "OPENSKY" | "ADSBX" | "RECEIVER";

export type Phase = "GROUND" | "TAKEOFF" | "CLIMB" | "CRUISE" | "DESCENT" | "APPROACH" | "LANDING";

/** What a subscription batch carries for each aircraft: enough to draw and filter it. */
export interface LiveFlight {
  icao24: string;
  callsign: string | null;
  originCountry: string | null;
  latitude: number | null;
  longitude: number | null;
  baroAltitudeM: number | null;
  geoAltitudeM: number | null;
  onGround: boolean;
  velocityMps: number | null;
  trueTrackDeg: number | null;
  verticalRateMps: number | null;
  squawk: string | null;
  positionSource: string | null;
  phase: Phase | null;
  lastContact: string;
  source: Source;
}

export interface FlightUpdateBatch {
  cycleId: string;
  at: string;
  publishedAt: string;
  flights: LiveFlight[];
  removed: string[];
  droppedBatches: number;
  snapshot: boolean;
}

export interface AirportRef {
  icao: string;
  iata: string | null;
  name: string;
  city: string | null;
  country: string | null;
  latitude: number;
  longitude: number;
  elevationM: number | null;
  type: string | null;
}

export interface RouteLeg {
  callsign: string | null;
  departureIcao: string | null;
  departedAt: string;
  arrivalIcao: string | null;
  arrivedAt: string | null;
  greatCircleKm: number | null;
  flownKm: number;
  inFlight: boolean;
  departure: { name: string; iata: string | null } | null;
  arrival: { name: string; iata: string | null } | null;
}

export interface FlightDetail extends LiveFlight {
  timePosition: string | null;
  region: string | null;
  route: RouteLeg | null;
  nearestAirport: { distanceKm: number; airport: { icao: string; iata: string | null; name: string } } | null;
  track: { points: TrackPoint[] } | null;
}

export interface TrackPoint {
  time: string;
  latitude: number;
  longitude: number;
  baroAltitudeM: number | null;
  geoAltitudeM: number | null;
  onGround: boolean;
}

export interface DensityCell {
  south: number;
  west: number;
  north: number;
  east: number;
  aircraft: number;
}

export interface Cycle {
  cycleId: string;
  source: string;
  startedAt: string;
  received: number;
  stored: number;
  rejected: number;
  duplicates: number;
  error: string | null;
}

export interface AnalyticsResult {
  analytics: {
    regionCounts: { aircraft: number; regions: { region: string; aircraft: number }[] };
    altitudeHistogram: {
      bucketM: number;
      onGround: number;
      withoutAltitude: number;
      buckets: { lowM: number; highM: number; aircraft: number }[];
    };
    busiestAirports: {
      airports: { icao: string; movements: number; departures: number; arrivals: number; airport: { name: string; iata: string | null } | null }[];
    };
    dataQuality: {
      received: number;
      rejected: number;
      rejectRate: number;
      freshnessLagS: number | null;
      reasons: { reason: string; count: number; rate: number }[];
    };
  };
  pipelineStatus: { deadLetterCount: number; cycles: Cycle[] };
}
