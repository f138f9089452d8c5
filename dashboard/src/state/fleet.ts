/**
 * The aircraft the map knows, and how each subscription batch changes them. Pure: every
 * function returns a new `Fleet` and leaves its argument alone.
 *
 * A batch with `snapshot` is the whole current state inside the subscription's filter and
 * replaces what was there; otherwise its flights are upserts and `removed` deletions. A
 * batch after dropped ones (`droppedBatches > 0`) may have missed changes: the fleet is
 * marked stale, which asks the caller to subscribe again for a fresh snapshot.
 */
import type { FlightUpdateBatch, LiveFlight, Source } from "../api/types";

export interface Fleet {
  flights: ReadonlyMap<string, LiveFlight>;
  /** The subscription generation whose batches this fleet holds. */
  generation: number;
  cycleId: string | null;
  /** When the newest batch was published (server time, ISO). */
  publishedAt: string | null;
  /** The newest `lastContact` of any aircraft, ms since the epoch. */
  newestContactMs: number | null;
  /** Batches the server dropped for this client, in all. */
  dropped: number;
  /** Changes may have been missed: subscribe again for a snapshot. */
  stale: boolean;
  /** Whether a first snapshot has arrived. */
  ready: boolean;
}

export const EMPTY_FLEET: Fleet = {
  flights: new Map(),
  generation: 0,
  cycleId: null,
  publishedAt: null,
  newestContactMs: null,
  dropped: 0,
  stale: false,
  ready: false,
};

/** The newest contact, ms. ISO 8601 times in one format and zone sort as text, so one parse. */
function newestContact(flights: Iterable<LiveFlight>): number | null {
  let newest: string | null = null;
  for (const f of flights) if (newest === null || f.lastContact > newest) newest = f.lastContact;
  const t = newest === null ? Number.NaN : Date.parse(newest);
  return Number.isNaN(t) ? null : t;
}

/** The fleet after one batch of subscription `generation`; batches of older ones are ignored. */
export function applyBatch(fleet: Fleet, batch: FlightUpdateBatch, generation: number = fleet.generation): Fleet {
  if (generation < fleet.generation) return fleet;
  const newGeneration = generation > fleet.generation;
  if (newGeneration && !batch.snapshot) {
    // The first batch of a new subscription is a snapshot; anything else is out of order.
    return fleet;
  }
  let flights: Map<string, LiveFlight>;
  if (batch.snapshot) {
    flights = new Map();
    for (const f of batch.flights) flights.set(f.icao24, f);
  } else {
    flights = new Map(fleet.flights);
    for (const icao of batch.removed) flights.delete(icao);
    for (const f of batch.flights) flights.set(f.icao24, f);
  }
  const batchNewest = newestContact(batch.flights);
  const previous = batch.snapshot ? null : fleet.newestContactMs;
  return {
    flights,
    generation,
    cycleId: batch.cycleId || fleet.cycleId,
    publishedAt: batch.publishedAt,
    newestContactMs:
      batchNewest === null ? previous : previous === null ? batchNewest : Math.max(previous, batchNewest),
    dropped: (newGeneration ? 0 : fleet.dropped) + batch.droppedBatches,
    stale: !batch.snapshot && batch.droppedBatches > 0,
    ready: true,
  };
}

/** The sources of the fleet's aircraft, most aircraft first. */
export function sources(fleet: Fleet): Source[] {
  const counts = new Map<Source, number>();
  for (const f of fleet.flights.values()) counts.set(f.source, (counts.get(f.source) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([s]) => s);
}

/** Flights with a position, as an array for drawing. */
export function positioned(fleet: Fleet): LiveFlight[] {
  const out: LiveFlight[] = [];
  for (const f of fleet.flights.values()) if (f.latitude !== null && f.longitude !== null) out.push(f);
  return out;
}
