import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartData,
  type ChartOptions,
  type ChartType,
} from "chart.js";
import { useEffect, useRef } from "react";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend);
Chart.defaults.color = "#c7ced9";
Chart.defaults.borderColor = "rgba(148, 163, 184, 0.18)";
Chart.defaults.font.family = "system-ui, sans-serif";
Chart.defaults.font.size = 11;

interface Props<T extends ChartType> {
  type: T;
  data: ChartData<T>;
  options?: ChartOptions<T>;
  /** What the chart says, for those who cannot see it. */
  label: string;
  height?: number;
}

/** A Chart.js chart that updates in place when its data changes. */
export function ChartView<T extends ChartType>({ type, data, options, label, height = 160 }: Props<T>) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<T> | null>(null);
  useEffect(() => {
    if (!canvas.current) return undefined;
    const created = new Chart<T>(canvas.current, {
      type,
      data,
      options: { responsive: true, maintainAspectRatio: false, animation: false, ...options } as ChartOptions<T>,
    });
    chart.current = created;
    return () => {
      created.destroy();
      chart.current = null;
    };
    // The chart is made once per type; data updates below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [type]);
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data = data;
    c.update("none");
  }, [data]);
  return (
    <div className="chart" style={{ height }}>
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}
