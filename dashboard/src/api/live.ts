/**
 * The live feed of the map: one `flightUpdates` subscription for the visible box plus a
 * margin, followed by a new one when the view leaves that box (or shrinks well inside it),
 * and again after dropped batches, whose first answer is a fresh snapshot.
 */
import { applyBatch, EMPTY_FLEET, type Fleet } from "../state/fleet";
import { lonSpan, pad, within, type BBox } from "../state/bbox";
import type { Api } from "./client";
import { FLIGHT_UPDATES, TRACK_UPDATES } from "./documents";
import type { FlightUpdateBatch, TrackPoint } from "./types";

/** The user timing of each batch applied and drawn, read by `bench/dashboard.py`. */
export const APPLY_MEASURE = "flightdata:apply-batch";

/** The margin around the view that the subscription covers, as a fraction of its size. */
export const MARGIN = 0.25;

function area(box: BBox): number {
  return Math.max(1e-6, lonSpan(box) * (box.north - box.south));
}

/** The box to subscribe to for a view; null (the whole world) when zoomed far out. */
export function subscriptionBox(view: BBox, zoom: number): BBox | null {
  if (zoom <= 3) return null;
  const padded = pad(view, MARGIN);
  return padded.west === -180 && padded.east === 180 && padded.south <= -85 && padded.north >= 85 ? null : padded;
}

/** Whether the subscription to `current` (null: the world) still fits a view. */
export function stillFits(current: BBox | null | undefined, view: BBox, zoom: number): boolean {
  if (current === undefined) return false;
  const wanted = subscriptionBox(view, zoom);
  if (current === null) return wanted === null;
  if (!within(view, current)) return false;
  // Zoomed well in: a box many times the view costs traffic for aircraft nobody sees.
  return wanted === null ? false : area(current) <= 9 * area(wanted);
}

export class LiveFeed {
  fleet: Fleet = EMPTY_FLEET;
  private generation = 0;
  private box: BBox | null | undefined = undefined;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private api: Api,
    private onFleet: (fleet: Fleet, batch: FlightUpdateBatch) => void,
    private onError: (message: string) => void,
  ) {}

  /** Follow a view that settled: subscribe again only when the current box no longer fits. */
  follow(view: BBox, zoom: number): void {
    if (stillFits(this.box, view, zoom)) return;
    this.start(subscriptionBox(view, zoom));
  }

  /** Subscribe again to the same box (a new key, dropped batches). */
  restart(): void {
    if (this.box !== undefined) this.start(this.box);
  }

  private start(box: BBox | null): void {
    this.unsubscribe?.();
    this.generation += 1;
    const generation = this.generation;
    this.box = box;
    this.unsubscribe = this.api.subscribe<{ flightUpdates: FlightUpdateBatch }>(
      FLIGHT_UPDATES,
      { bbox: box },
      (data) => this.apply(data.flightUpdates, generation),
      (message) => this.onError(message),
    );
  }

  private apply(batch: FlightUpdateBatch, generation: number): void {
    if (generation !== this.generation) return;
    // Measured from here to the redraw's end: the main-thread cost of one batch.
    const start = performance.now();
    this.fleet = applyBatch(this.fleet, batch, generation);
    this.onFleet(this.fleet, batch);
    // The timeline keeps user timings until cleared: the newest 100 are enough to read.
    if (performance.getEntriesByName(APPLY_MEASURE).length >= 100) performance.clearMeasures(APPLY_MEASURE);
    performance.measure(APPLY_MEASURE, {
      start,
      end: performance.now(),
      detail: { flights: batch.flights.length, snapshot: batch.snapshot },
    });
    if (this.fleet.stale) this.restart();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.box = undefined;
  }
}

/** Appends live positions of one aircraft to its track, oldest first, without repeats. */
export function appendPoint(points: TrackPoint[], point: TrackPoint): TrackPoint[] {
  const last = points[points.length - 1];
  if (last && Date.parse(point.time) <= Date.parse(last.time)) return points;
  return [...points, point];
}

export function followTrack(
  api: Api,
  icao24: string,
  onPoint: (point: TrackPoint) => void,
  onError: (message: string) => void,
): () => void {
  return api.subscribe<{ trackUpdates: TrackPoint }>(
    TRACK_UPDATES,
    { icao24 },
    (data) => onPoint(data.trackUpdates),
    onError,
  );
}
