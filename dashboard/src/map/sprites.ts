/**
 * Aircraft glyphs pre-drawn once per colour, shape, scale and 5° of heading, and stamped
 * into one pixel buffer that is put on the canvas in a single `putImageData`.
 *
 * Why not a path or `drawImage` per aircraft: in Chromium's software canvas (no GPU, as in
 * headless runs and many VMs) filling 5,400 polygons took 32 to 100 ms and 5,400
 * `drawImage` calls 19 to 54 ms; stamping the few dozen non-transparent pixels of each
 * glyph takes about 6 ms. `bench/dashboard.py` ("apply one cycle and redraw") measures it.
 */

import { bandColour } from "./projection";

export type Shape = "plane" | "dart";

/** The glyphs, nose up, in CSS pixels around the aircraft's position. */
const OUTLINES: Record<Shape, number[]> = {
  plane: [0, -9, 1.6, -3, 8, 1.5, 8, 3.4, 1.6, 1.6, 1, 6, 3.5, 8, 3.5, 9, 0, 8.2, -3.5, 9, -3.5, 8, -1, 6, -1.6, 1.6, -8, 3.4, -8, 1.5, -1.6, -3],
  dart: [0, -6, 4, 5, 0, 2.5, -4, 5],
};

const STEP_DEG = 5;
const STEPS = 360 / STEP_DEG;
/** Half a sprite's side in CSS pixels: the largest glyph at the largest scale, plus its outline. */
const HALF = 13;

/** A glyph's non-transparent pixels: offsets from its centre, and RGBA as ImageData packs it. */
export interface Sprite {
  dx: Int16Array;
  dy: Int16Array;
  /** dy * width + dx for the sheet's buffer width (`SpriteSheet.setWidth`). */
  offset: Int32Array;
  pixel: Uint32Array;
  /** The largest |dx| or |dy|: a sprite this far inside the buffer needs no clipping. */
  reach: number;
}

export class SpriteSheet {
  /** By `((band * 2 + shape) * 2 + scale) * STEPS + step`: no string key per aircraft. */
  private cache: (Sprite | undefined)[] = [];
  private scratch: CanvasRenderingContext2D | null = null;
  private width = 0;

  constructor(readonly ratio: number) {}

  /**
   * Use a buffer `width` pixels wide: the sprites' row offsets follow it (cheap; the
   * pixels themselves are kept).
   */
  setWidth(width: number): void {
    if (width === this.width) return;
    this.width = width;
    for (const sprite of this.cache) {
      if (sprite) sprite.offset = Int32Array.from(sprite.dx, (x, k) => (sprite.dy[k] as number) * width + x);
    }
  }

  /**
   * Draws the sprites a first batch needs (darts, scale 1, every colour and heading) in
   * idle time, so the first snapshot of thousands of aircraft does not draw a thousand.
   */
  warm(deadline: () => number): boolean {
    for (let band = -2; band < 14; band += 1) {
      for (let step = 0; step < STEPS; step += 1) {
        if (deadline() < 1) return false;
        this.get(band, "dart", 1, step * STEP_DEG);
      }
    }
    return true;
  }

  /**
   * The sprite of a colour band (`projection.altitudeBand`: -2 to 13), shape, scale (1 or
   * 1.25) and heading (degrees clockwise from north).
   */
  get(band: number, shape: Shape, scale: number, headingDeg: number): Sprite {
    const step = headingDeg >= 0 ? ((headingDeg / STEP_DEG + 0.5) | 0) % STEPS : ((Math.round(headingDeg / STEP_DEG) % STEPS) + STEPS) % STEPS;
    const key = (((band + 2) * 2 + (shape === "plane" ? 1 : 0)) * 2 + (scale > 1 ? 1 : 0)) * STEPS + step;
    let sprite = this.cache[key];
    if (!sprite) {
      sprite = this.render(bandColour(band), shape, scale, step * STEP_DEG);
      this.cache[key] = sprite;
    }
    return sprite;
  }

  private render(colour: string, shape: Shape, scale: number, headingDeg: number): Sprite {
    const side = Math.ceil(HALF * 2 * this.ratio);
    const centre = Math.floor(side / 2);
    if (!this.scratch) {
      const canvas = document.createElement("canvas");
      canvas.width = side;
      canvas.height = side;
      this.scratch = canvas.getContext("2d", { willReadFrequently: true });
    }
    const ctx = this.scratch;
    if (!ctx) return { dx: new Int16Array(), dy: new Int16Array(), offset: new Int32Array(), pixel: new Uint32Array(), reach: 0 };
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, side, side);
    ctx.setTransform(this.ratio, 0, 0, this.ratio, centre, centre);
    ctx.rotate((headingDeg * Math.PI) / 180);
    ctx.scale(scale, scale);
    const outline = OUTLINES[shape];
    ctx.beginPath();
    for (let p = 0; p < outline.length; p += 2) {
      const x = outline[p] as number;
      const y = outline[p + 1] as number;
      if (p === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    ctx.closePath();
    ctx.fillStyle = colour;
    ctx.fill();
    ctx.lineWidth = 0.9 / scale;
    ctx.strokeStyle = "rgba(10, 14, 22, 0.9)";
    ctx.stroke();
    const data = ctx.getImageData(0, 0, side, side).data;
    const dx: number[] = [];
    const dy: number[] = [];
    const pixel: number[] = [];
    let reach = 0;
    for (let i = 0; i < side * side; i += 1) {
      const a = data[i * 4 + 3] as number;
      if (a === 0) continue;
      const r = data[i * 4] as number;
      const g = data[i * 4 + 1] as number;
      const b = data[i * 4 + 2] as number;
      const x = (i % side) - centre;
      const y = Math.floor(i / side) - centre;
      dx.push(x);
      dy.push(y);
      pixel.push(((a << 24) | (b << 16) | (g << 8) | r) >>> 0);
      reach = Math.max(reach, Math.abs(x), Math.abs(y));
    }
    return {
      dx: Int16Array.from(dx),
      dy: Int16Array.from(dy),
      offset: Int32Array.from(dx.map((x, k) => (dy[k] as number) * this.width + x)),
      pixel: Uint32Array.from(pixel),
      reach,
    };
  }
}

/**
 * `src` over `dst`, straight (not premultiplied) RGBA packed little-endian, as ImageData
 * holds it. Most pixels land on an empty one or are opaque; blending is for edges that
 * overlap another aircraft.
 */
function over(src: number, dst: number): number {
  const sa = src >>> 24;
  if (sa === 255 || dst === 0) return src;
  const s = sa / 255;
  const d = ((dst >>> 24) / 255) * (1 - s);
  const o = s + d;
  const mix = (shift: number): number => Math.round((((src >>> shift) & 255) * s + ((dst >>> shift) & 255) * d) / o);
  return ((Math.round(o * 255) << 24) | (mix(16) << 16) | (mix(8) << 8) | mix(0)) >>> 0;
}

/** Stamps `sprite` centred on device pixel (x, y) of a `width` x `height` buffer. */
export function stamp(buffer: Uint32Array, width: number, height: number, sprite: Sprite, x: number, y: number): void {
  const { offset, pixel } = sprite;
  if (x >= sprite.reach && y >= sprite.reach && x < width - sprite.reach && y < height - sprite.reach) {
    const base = y * width + x;
    for (let j = 0; j < offset.length; j += 1) {
      const at = base + (offset[j] as number);
      const p = pixel[j] as number;
      const d = buffer[at] as number;
      buffer[at] = d === 0 || p >>> 24 === 255 ? p : over(p, d);
    }
    return;
  }
  const { dx, dy } = sprite;
  for (let j = 0; j < dx.length; j += 1) {
    const px = x + (dx[j] as number);
    const py = y + (dy[j] as number);
    if (px < 0 || py < 0 || px >= width || py >= height) continue;
    const at = py * width + px;
    buffer[at] = over(pixel[j] as number, buffer[at] as number);
  }
}
