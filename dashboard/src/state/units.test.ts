import { describe, expect, it } from "vitest";
import { age, altitude, distance, fromMetres, speed, toMetres, verticalRate } from "./units";

describe("units", () => {
  it("shows altitude in feet or metres", () => {
    expect(altitude(10668, "aviation")).toBe("35,000 ft");
    expect(altitude(10668, "metric")).toBe("10,668 m");
    expect(altitude(null, "metric")).toBe("—");
  });
  it("shows speed in knots or km/h", () => {
    expect(speed(257.222, "aviation")).toBe("500 kt");
    expect(speed(100, "metric")).toBe("360 km/h");
  });
  it("shows vertical rate in ft/min or m/s with a sign", () => {
    expect(verticalRate(5.08, "aviation")).toBe("+1,000 ft/min");
    expect(verticalRate(-2.54, "metric")).toBe("-2.5 m/s");
  });
  it("shows distance in NM or km", () => {
    expect(distance(185.2, "aviation")).toBe("100 NM");
    expect(distance(12.4, "metric")).toBe("12 km");
  });
  it("converts typed altitudes to metres and back", () => {
    expect(toMetres(1000, "aviation")).toBeCloseTo(304.8);
    expect(fromMetres(304.8, "aviation")).toBe(1000);
    expect(toMetres(500, "metric")).toBe(500);
  });
  it("says how old data is", () => {
    expect(age(null)).toBe("no data yet");
    expect(age(12.4)).toBe("12 s ago");
    expect(age(600)).toBe("10 min ago");
  });
});
