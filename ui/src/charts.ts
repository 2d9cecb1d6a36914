/**
 * Charts on uPlot: <is-spark> (a small line in a table cell) and <is-chart> (a time chart with
 * a legend, several series, optionally a log y axis). Both redraw when their data or their width
 * changes; the uPlot instance is kept and fed with setData when only the values changed.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const PALETTE = ['#2f6fde', '#e8743b', '#19a979', '#945ecf', '#ed4a7b', '#13a4b4', '#bf399e', '#6c8893', '#d6a500', '#525df4'];

export interface Series {
  label: string;
  values: Array<number | null>;
  color?: string;
}

export class IsSpark extends HTMLElement {
  private plot: uPlot | null = null;
  private xs: number[] = [];
  private ys: Array<number | null> = [];
  color = PALETTE[0];

  set data(d: { xs: number[]; ys: Array<number | null> }) {
    this.xs = d.xs;
    this.ys = d.ys;
    this.draw();
  }

  connectedCallback(): void {
    this.draw();
  }

  disconnectedCallback(): void {
    this.plot?.destroy();
    this.plot = null;
  }

  private draw(): void {
    if (!this.isConnected) return;
    const data: uPlot.AlignedData = [this.xs, this.ys];
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    this.plot = new uPlot(
      {
        width: 96,
        height: 26,
        pxAlign: false,
        cursor: { show: false },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        legend: { show: false },
        scales: { x: { time: false }, y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1e-9, max ?? 1) * 1.1] } },
        axes: [{ show: false }, { show: false }],
        series: [{}, { stroke: this.color, width: 1.5, fill: this.color + '22', points: { show: false } }],
      },
      data,
      this,
    );
  }
}

export class IsChart extends HTMLElement {
  private plot: uPlot | null = null;
  private xs: number[] = [];
  private series: Series[] = [];
  private shape = '';
  private ro: ResizeObserver | null = null;
  log = false;
  height = 220;
  /** Labels of a categorical x axis (x = 0..n-1), e.g. the windows; else x is a time in seconds. */
  categories: string[] | null = null;
  /** Draw the (single) series as bars, e.g. items per stage. */
  bars = false;
  /** The x value's name in the legend. */
  xLabel = 'window';
  yLabel = '';
  /** Join a series' points across the x values where it has none (points of several keys at their own times). */
  spanGaps = false;

  set data(d: { xs: number[]; series: Series[] }) {
    this.xs = d.xs;
    this.series = d.series;
    this.draw();
  }

  connectedCallback(): void {
    this.style.display = 'block';
    this.ro = new ResizeObserver(() => {
      if (this.plot && this.clientWidth > 0 && Math.abs(this.plot.width - this.clientWidth) > 2) this.plot.setSize({ width: this.clientWidth, height: this.height });
    });
    this.ro.observe(this);
    this.draw();
  }

  disconnectedCallback(): void {
    this.ro?.disconnect();
    this.plot?.destroy();
    this.plot = null;
    this.shape = '';
  }

  private draw(): void {
    if (!this.isConnected) return;
    const shape = `${this.log}|${this.categories !== null}|${this.series.map((s) => s.label).join('\u0000')}`;
    const ys = this.series.map((s) => (this.log ? s.values.map((v) => (v === null || v <= 0 ? null : v)) : s.values));
    const data = [this.xs, ...ys] as uPlot.AlignedData;
    if (this.plot && shape === this.shape) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    const cats = this.categories;
    const xAxis: uPlot.Axis = { stroke: '#5b6675', grid: { stroke: '#e6e9ee' } };
    if (cats) {
      xAxis.splits = (u, _i, min, max) => {
        const cats = this.categories ?? [];
        const lo = Math.max(0, Math.ceil(min));
        const hi = Math.min(cats.length - 1, Math.floor(max));
        // as many labels as fit side by side (about 7 px a character, and a gap), at most 8
        const longest = cats.reduce((a, c) => Math.max(a, c.length), 1);
        const fit = Math.max(1, Math.floor(u.bbox.width / (globalThis.devicePixelRatio || 1) / (longest * 7 + 24)));
        const step = Math.max(1, Math.ceil((hi - lo + 1) / Math.min(8, fit)));
        const out: number[] = [];
        for (let x = lo; x <= hi; x += step) out.push(x);
        return out;
      };
      xAxis.values = (_u, splits) => splits.map((x) => this.categories?.[x] ?? '');
    }
    this.shape = shape;
    this.plot = new uPlot(
      {
        width: Math.max(200, this.clientWidth || 600),
        height: this.height,
        scales: { x: cats ? { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] } : { time: true }, y: this.log ? { distr: 3, log: 10, range: (_u, _min, max) => [1, Math.max(10, (max ?? 1) * 2)] } : { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, max ?? 1) * 1.05] } },
        axes: [xAxis, { stroke: '#5b6675', grid: { stroke: '#e6e9ee' }, label: this.yLabel || undefined, size: 64 }],
        series: [
          cats ? { label: this.xLabel, value: (_u: uPlot, x: number | null) => (x === null ? '--' : (this.categories?.[x] ?? '')) } : { label: this.xLabel },
          ...this.series.map((s, i) => ({
            label: s.label,
            stroke: s.color ?? PALETTE[i % PALETTE.length],
            width: 2,
            points: { show: !this.bars, size: 5 },
            ...(this.bars ? { paths: uPlot.paths.bars!({ size: [0.6, 80] }), fill: (s.color ?? PALETTE[i % PALETTE.length]) + 'cc' } : {}),
            spanGaps: this.spanGaps,
          })),
        ],
      },
      data,
      this,
    );
  }
}

customElements.define('is-spark', IsSpark);
customElements.define('is-chart', IsChart);
