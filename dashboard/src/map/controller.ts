/**
 * The Leaflet map and what is drawn on it: the basemap, the traffic canvas, the selected
 * aircraft's track. React owns the panels; this owns the map and reports what the user does
 * to it (`onView` once a pan or zoom settles, `onPick` for a click).
 */
import L from "leaflet";
import type { AirportRef, DensityCell, LiveFlight, TrackPoint } from "../api/types";
import { normalize, type BBox } from "../state/bbox";
import type { View } from "../state/url";
import { naturalEarth, tiles } from "./basemap";
import { TrafficLayer, type DrawResult } from "./TrafficLayer";

export interface MapEvents {
  onView: (box: BBox, view: View) => void;
  onPick: (flight: LiveFlight | null) => void;
  onDraw: (result: DrawResult, box: BBox) => void;
  onBasemapError: (message: string) => void;
}

export class MapController {
  readonly map: L.Map;
  readonly traffic = new TrafficLayer();
  private track: L.Polyline;
  private settle = 0;

  constructor(element: HTMLElement, tileUrl: string | null, tileAttribution: string | null, private events: MapEvents) {
    this.map = L.map(element, {
      zoomAnimation: false,
      fadeAnimation: false,
      markerZoomAnimation: false,
      worldCopyJump: true,
      minZoom: 2,
      maxZoom: 14,
      zoomSnap: 0.25,
      keyboard: true,
      attributionControl: true,
      preferCanvas: false,
    });
    this.map.attributionControl.setPrefix("Natural Earth · flightdata");
    this.map.setView([30, 0], 3);
    const canvas = L.canvas({ padding: 0.3 });
    void naturalEarth(canvas)
      .then((layer) => {
        layer.addTo(this.map);
        layer.bringToBack();
        if (tileUrl) {
          const online = tiles(tileUrl, tileAttribution);
          L.control.layers({ "Offline map": layer, "Online tiles": online }, {}, { position: "bottomleft" }).addTo(this.map);
        }
      })
      .catch((exc: unknown) => events.onBasemapError(String(exc)));
    this.traffic.addTo(this.map);
    this.traffic.onDraw = (result) => {
      if (this.traffic.box) this.events.onDraw(result, this.traffic.box);
    };
    this.track = L.polyline([], { className: "flight-track", color: "#ffd34d", weight: 2.5, opacity: 0.9, interactive: false });
    this.track.addTo(this.map);
    this.map.on("click", (e: L.LeafletMouseEvent) => {
      this.events.onPick(this.traffic.hit(e.containerPoint.x, e.containerPoint.y));
    });
    this.map.on("moveend zoomend resize", () => this.viewChanged());
    this.map.getContainer().setAttribute("aria-label", "Map of live air traffic");
    this.updateBox();
  }

  /** The view's bounds as the API takes them (what `aircraft-count` counts in). */
  bounds(): BBox {
    const b = this.map.getBounds();
    return normalize(b.getSouth(), b.getWest(), b.getNorth(), b.getEast());
  }

  view(): View {
    const c = this.map.getCenter().wrap();
    return { lat: c.lat, lon: c.lng, zoom: this.map.getZoom() };
  }

  private updateBox(): BBox {
    const box = this.bounds();
    this.traffic.box = box;
    return box;
  }

  private viewChanged(): void {
    this.updateBox();
    this.traffic.drawAll();
    window.clearTimeout(this.settle);
    this.settle = window.setTimeout(() => this.events.onView(this.bounds(), this.view()), 250);
  }

  fitBox(box: BBox): void {
    const east = box.west > box.east ? box.east + 360 : box.east;
    this.map.fitBounds(L.latLngBounds([box.south, box.west], [box.north, east]), { animate: false });
    this.viewChanged();
  }

  setView(lat: number, lon: number, zoom: number): void {
    this.map.setView([lat, lon], zoom, { animate: false });
    this.viewChanged();
  }

  /** Centre on a point, zooming in to at least `zoom`. */
  flyTo(lat: number, lon: number, zoom: number): void {
    this.setView(lat, lon, Math.max(zoom, this.map.getZoom()));
  }

  setFlights(flights: LiveFlight[], match: (f: LiveFlight) => boolean): DrawResult {
    return this.traffic.setFlights(flights, match);
  }

  setSelected(icao: string | null): void {
    this.traffic.setSelected(icao);
  }

  setTrack(points: TrackPoint[]): number {
    // Longitudes unwrapped, so a track across the antimeridian is one line, not a streak.
    const latlngs: L.LatLngExpression[] = [];
    let previous: number | null = null;
    for (const p of points) {
      let lon = p.longitude;
      if (previous !== null) {
        while (lon - previous > 180) lon -= 360;
        while (lon - previous < -180) lon += 360;
      }
      previous = lon;
      latlngs.push([p.latitude, lon]);
    }
    this.track.setLatLngs(latlngs);
    return latlngs.length;
  }

  setAirports(airports: AirportRef[]): void {
    this.traffic.setAirports(airports);
  }

  setDensity(cells: DensityCell[], maxAircraft: number): void {
    this.traffic.setDensity(cells, maxAircraft);
  }

  remove(): void {
    window.clearTimeout(this.settle);
    this.map.remove();
  }
}
