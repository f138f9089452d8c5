/**
 * Aircraft, airports and the traffic density drawn on two canvases above the basemap.
 *
 * Canvases instead of a DOM marker per aircraft. The lower one holds the density cells and
 * airports; the upper one the aircraft, stamped as pre-drawn sprites into one pixel buffer
 * (`sprites.ts`), with callsign labels and the selection ring drawn over them. A draw
 * projects each aircraft with `projection.ts` and keeps the drawn positions for hit tests.
 * Both redraw on every `move`, so they stay under the pointer while the map is dragged;
 * zoom animation is off on the map for the same reason.
 */
import L from "leaflet";
import type { AirportRef, DensityCell, LiveFlight } from "../api/types";
import { contains, type BBox } from "../state/bbox";
import { altitudeOf } from "../state/filters";
import { altitudeBand, projectX, projectY, worldSize } from "./projection";
import { SpriteSheet, stamp } from "./sprites";

export interface DrawResult {
  /** Aircraft drawn inside `box`: those the filters let through. */
  inView: number;
  /** Aircraft inside `box` whatever the filters say. */
  total: number;
}

interface Frame {
  width: number;
  height: number;
  ratio: number;
  zoom: number;
  toX: (lon: number) => number;
  toY: (lat: number) => number;
  world: number;
}

function sized(canvas: HTMLCanvasElement, size: L.Point, ratio: number): void {
  const w = Math.round(size.x * ratio);
  const h = Math.round(size.y * ratio);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
    canvas.style.width = `${size.x}px`;
    canvas.style.height = `${size.y}px`;
  }
}

export class TrafficLayer extends L.Layer {
  private under: HTMLCanvasElement | null = null;
  private over: HTMLCanvasElement | null = null;
  private flights: LiveFlight[] = [];
  private match: (f: LiveFlight) => boolean = () => true;
  private airports: AirportRef[] = [];
  private cells: DensityCell[] = [];
  private maxCell = 0;
  private selected: string | null = null;
  private hitX = new Float32Array(0);
  private hitY = new Float32Array(0);
  private hitFlights: LiveFlight[] = [];
  private frame = 0;
  private firstDrawn = false;
  private sprites: SpriteSheet | null = null;
  private pixels: ImageData | null = null;
  box: BBox | null = null;
  onDraw: ((result: DrawResult) => void) | null = null;

  private spritesFor(ratio: number): SpriteSheet {
    if (!this.sprites || this.sprites.ratio !== ratio) {
      const sheet = new SpriteSheet(ratio);
      this.sprites = sheet;
      const warm = (deadline: IdleDeadline) => {
        if (this.sprites === sheet && !sheet.warm(() => deadline.timeRemaining())) requestIdleCallback(warm);
      };
      if (typeof requestIdleCallback === "function") requestIdleCallback(warm);
    }
    return this.sprites;
  }

  override onAdd(map: L.Map): this {
    const pane = map.getPane("traffic") ?? map.createPane("traffic");
    pane.style.zIndex = "450";
    pane.style.pointerEvents = "none";
    this.under = L.DomUtil.create("canvas", "traffic-under", pane);
    this.over = L.DomUtil.create("canvas", "traffic-over", pane);
    for (const c of [this.under, this.over]) {
      c.setAttribute("aria-hidden", "true");
      c.style.position = "absolute";
    }
    map.on("move resize zoomend viewreset", this.scheduleAll, this);
    this.spritesFor(window.devicePixelRatio || 1);
    this.drawAll();
    return this;
  }

  override onRemove(map: L.Map): this {
    map.off("move resize zoomend viewreset", this.scheduleAll, this);
    this.under?.remove();
    this.over?.remove();
    this.under = this.over = null;
    return this;
  }

  /** Redraw the aircraft now: a batch applied, a filter changed. */
  setFlights(flights: LiveFlight[], match: (f: LiveFlight) => boolean): DrawResult {
    this.flights = flights;
    this.match = match;
    const frame = this.frameOf();
    return frame ? this.drawAircraft(frame) : { inView: 0, total: 0 };
  }

  setSelected(icao: string | null): void {
    this.selected = icao;
    this.scheduleAll();
  }

  setAirports(airports: AirportRef[]): void {
    this.airports = airports;
    this.scheduleAll();
  }

  setDensity(cells: DensityCell[], maxAircraft: number): void {
    this.cells = cells;
    this.maxCell = maxAircraft;
    this.scheduleAll();
  }

  /** The aircraft drawn nearest a container point, within `radius` pixels. */
  hit(x: number, y: number, radius = 12): LiveFlight | null {
    let best = -1;
    let bestD = radius * radius;
    for (let i = 0; i < this.hitFlights.length; i += 1) {
      const dx = (this.hitX[i] ?? 0) - x;
      const dy = (this.hitY[i] ?? 0) - y;
      const d = dx * dx + dy * dy;
      if (d <= bestD) {
        bestD = d;
        best = i;
      }
    }
    return best >= 0 ? (this.hitFlights[best] ?? null) : null;
  }

  private scheduleAll(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.drawAll();
    });
  }

  drawAll(): DrawResult {
    const frame = this.frameOf();
    if (!frame) return { inView: 0, total: 0 };
    this.drawUnder(frame);
    return this.drawAircraft(frame);
  }

  private frameOf(): Frame | null {
    const map = this._map as L.Map | undefined;
    if (!map || !this.under || !this.over) return null;
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    const topLeft = map.containerPointToLayerPoint([0, 0]);
    for (const c of [this.under, this.over]) {
      sized(c, size, ratio);
      L.DomUtil.setPosition(c, topLeft);
    }
    const zoom = map.getZoom();
    const world = worldSize(zoom);
    const origin = map.getPixelBounds().min ?? L.point(0, 0);
    const cx = size.x / 2;
    return {
      width: size.x,
      height: size.y,
      ratio,
      zoom,
      world,
      // The copy of the world nearest the view's centre.
      toX: (lon) => {
        const x = projectX(lon, world) - origin.x;
        return x - world * Math.round((x - cx) / world);
      },
      toY: (lat) => projectY(lat, world) - origin.y,
    };
  }

  private drawAircraft(frame: Frame): DrawResult {
    const canvas = this.over as HTMLCanvasElement;
    const ctx = canvas.getContext("2d");
    if (!ctx) return { inView: 0, total: 0 };
    const { width, height, ratio, zoom, toX, toY } = frame;
    const bw = canvas.width;
    const bh = canvas.height;
    if (!this.pixels || this.pixels.width !== bw || this.pixels.height !== bh) {
      this.pixels = ctx.createImageData(bw, bh);
    }
    const sprites = this.spritesFor(ratio);
    sprites.setWidth(bw);
    const buffer = new Uint32Array(this.pixels.data.buffer);
    buffer.fill(0);

    const n = this.flights.length;
    if (this.hitX.length < n) {
      this.hitX = new Float32Array(n);
      this.hitY = new Float32Array(n);
    }
    const hitFlights: LiveFlight[] = [];
    const box = this.box;
    const shape = zoom >= 6 ? "plane" : "dart";
    const scale = zoom >= 9 ? 1.25 : 1;
    const margin = 20;
    let inView = 0;
    let total = 0;
    let selected: { x: number; y: number } | null = null;
    for (let i = 0; i < n; i += 1) {
      const f = this.flights[i] as LiveFlight;
      const lat = f.latitude as number;
      const lon = f.longitude as number;
      const inBox = box !== null && contains(box, lat, lon);
      if (inBox) total += 1;
      if (!this.match(f)) continue;
      if (inBox) inView += 1;
      const y = toY(lat);
      if (y < -margin || y > height + margin) continue;
      const x = toX(lon);
      if (x < -margin || x > width + margin) continue;
      const k = hitFlights.length;
      this.hitX[k] = x;
      this.hitY[k] = y;
      hitFlights.push(f);
      const sprite = sprites.get(altitudeBand(altitudeOf(f), f.onGround), shape, scale, f.trueTrackDeg ?? 0);
      stamp(buffer, bw, bh, sprite, Math.round(x * ratio), Math.round(y * ratio));
      if (f.icao24 === this.selected) selected = { x, y };
    }
    this.hitFlights = hitFlights;
    ctx.putImageData(this.pixels, 0, 0);

    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    if (zoom >= 7 && hitFlights.length <= 2000) {
      ctx.font = "11px system-ui, sans-serif";
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(10, 14, 22, 0.9)";
      ctx.fillStyle = "#f2f4f8";
      for (let k = 0; k < hitFlights.length; k += 1) {
        const f = hitFlights[k] as LiveFlight;
        const label = f.callsign?.trim() || f.icao24;
        const x = (this.hitX[k] as number) + 11;
        const y = (this.hitY[k] as number) + 4;
        ctx.strokeText(label, x, y);
        ctx.fillText(label, x, y);
      }
    }
    if (selected) {
      ctx.beginPath();
      ctx.arc(selected.x, selected.y, 14, 0, Math.PI * 2);
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = "#ffd34d";
      ctx.stroke();
    }

    if (!this.firstDrawn && hitFlights.length > 0) {
      this.firstDrawn = true;
      performance.mark("flightdata:first-aircraft");
    }
    const result = { inView, total };
    this.onDraw?.(result);
    return result;
  }

  private drawUnder(frame: Frame): void {
    const ctx = this.under?.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(frame.ratio, 0, 0, frame.ratio, 0, 0);
    ctx.clearRect(0, 0, frame.width, frame.height);
    this.drawDensity(ctx, frame);
    if (frame.zoom >= 7) this.drawAirports(ctx, frame);
  }

  private drawDensity(ctx: CanvasRenderingContext2D, { toX, toY, world }: Frame): void {
    if (this.cells.length === 0 || this.maxCell <= 0) return;
    for (const cell of this.cells) {
      const x0 = toX(cell.west);
      const x1 = x0 + (((cell.east - cell.west + 360) % 360 || 360) * world) / 360;
      const y0 = toY(cell.north);
      const y1 = toY(cell.south);
      const t = Math.sqrt(cell.aircraft / this.maxCell);
      const hue = 240 - 240 * t;
      ctx.fillStyle = `hsla(${Math.round(hue)}, 90%, 55%, ${0.18 + 0.42 * t})`;
      ctx.fillRect(x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0));
    }
  }

  private drawAirports(ctx: CanvasRenderingContext2D, { toX, toY, zoom, width, height }: Frame): void {
    ctx.font = "11px system-ui, sans-serif";
    for (const a of this.airports) {
      const major = a.type === "large_airport" || a.type === "medium_airport" || a.type === null;
      if (!major && zoom < 9) continue;
      const x = toX(a.longitude);
      const y = toY(a.latitude);
      if (x < -50 || y < -20 || x > width + 50 || y > height + 20) continue;
      ctx.beginPath();
      ctx.arc(x, y, major ? 4 : 3, 0, Math.PI * 2);
      ctx.fillStyle = "#1f2937";
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "#7dd3fc";
      ctx.stroke();
      if (zoom >= 8 && (major || zoom >= 10)) {
        const label = `${a.iata ?? a.icao} ${zoom >= 9 ? a.name : ""}`.trim();
        ctx.lineWidth = 3;
        ctx.strokeStyle = "rgba(10, 14, 22, 0.85)";
        ctx.strokeText(label, x + 7, y - 6);
        ctx.fillStyle = "#bae6fd";
        ctx.fillText(label, x + 7, y - 6);
      }
    }
  }
}
