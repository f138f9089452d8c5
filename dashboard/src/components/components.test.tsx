import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/client";
import { NO_FILTERS } from "../state/filters";
import { flight } from "../test/fixtures";
import { FilterPanel } from "./FilterPanel";
import { FlightDetails } from "./FlightDetails";
import { KeyPrompt, ProblemBanner } from "./KeyPrompt";
import { connectionText } from "./StatusBar";

afterEach(cleanup);

describe("FilterPanel", () => {
  const props = { units: "aviation" as const, countries: ["Germany"], inView: 12, total: 40, bbox: "45,0,55,15", density: false, onDensity: () => undefined };

  it("shows the count in view with its bounds, and N of M only while a filter is on", () => {
    const { rerender } = render(<FilterPanel {...props} filters={NO_FILTERS} onChange={() => undefined} />);
    const count = screen.getByTestId("aircraft-count");
    expect(count.textContent).toBe("12");
    expect(count.getAttribute("data-bbox")).toBe("45,0,55,15");
    expect(screen.queryByTestId("filter-summary")).toBeNull();
    rerender(<FilterPanel {...props} filters={{ ...NO_FILTERS, ground: "airborne" }} onChange={() => undefined} />);
    expect(screen.getByTestId("filter-summary").textContent).toBe("12 of 40 aircraft");
  });

  it("takes altitudes in the display unit and reports metres", () => {
    const onChange = vi.fn();
    render(<FilterPanel {...props} filters={NO_FILTERS} onChange={onChange} />);
    fireEvent.change(screen.getByLabelText("Minimum altitude"), { target: { value: "10000" } });
    expect(onChange.mock.calls[0]?.[0].minAltitudeM).toBeCloseTo(3048);
    fireEvent.change(screen.getByLabelText("On ground"), { target: { value: "ground" } });
    expect(onChange.mock.calls[1]?.[0].ground).toBe("ground");
    fireEvent.change(screen.getByLabelText("Callsign prefix"), { target: { value: "BAW" } });
    expect(onChange.mock.calls[2]?.[0].callsignPrefix).toBe("BAW");
  });
});

describe("KeyPrompt", () => {
  it("shows the server's reason and hands over the key typed", () => {
    const onKey = vi.fn();
    render(<KeyPrompt problem={new ApiError("an API key is required: send it in X-API-Key", 401, "missing_key")} hasKey={false} onKey={onKey} />);
    expect(screen.getByTestId("auth-error").textContent).toContain("an API key is required: send it in X-API-Key");
    fireEvent.change(screen.getByLabelText("API key"), { target: { value: " fd_abc " } });
    fireEvent.click(screen.getByRole("button", { name: "Use key" }));
    expect(onKey).toHaveBeenCalledWith("fd_abc");
  });

  it("shows a rate limit with Retry-After", () => {
    render(<ProblemBanner problem={new ApiError("rate limit exceeded", 429, "rate_limited", 7)} onDismiss={() => undefined} />);
    expect(screen.getByTestId("api-error").textContent).toContain("Too many requests: rate limit exceeded Retry after 7 s.");
  });
});

describe("FlightDetails", () => {
  it("shows the aircraft in the chosen units", () => {
    const f = flight("3c6444", { callsign: "DLH4AB", baroAltitudeM: 10668, velocityMps: 257.222, verticalRateMps: -5.08, squawk: "2000" });
    const { rerender } = render(
      <FlightDetails icao24="3c6444" live={f} detail={null} error={null} trackPoints={42} units="aviation" onClose={() => undefined} />,
    );
    const panel = screen.getByTestId("flight-details");
    expect(panel.textContent).toContain("DLH4AB");
    expect(panel.textContent).toContain("3c6444");
    expect(panel.textContent).toContain("35,000 ft");
    expect(panel.textContent).toContain("500 kt");
    expect(panel.textContent).toContain("-1,000 ft/min");
    expect(screen.getByTestId("flight-position").textContent).toBe("50.0000, 8.0000");
    expect(screen.getByTestId("track-points").textContent).toBe("42");
    rerender(<FlightDetails icao24="3c6444" live={f} detail={null} error={null} trackPoints={42} units="metric" onClose={() => undefined} />);
    expect(screen.getByTestId("flight-details").textContent).toContain("10,668 m");
  });
});

describe("connection status", () => {
  it("says what the connection is doing", () => {
    expect(connectionText({ kind: "live" })).toBe("Live");
    expect(connectionText({ kind: "reconnecting", attempt: 2, inS: 4, reason: "connection lost" })).toBe(
      "Connection lost: reconnecting in 4 s (attempt 2)",
    );
  });
});
