/**
 * The real OpenTelemetry SDK for tests: a MeterProvider whose metrics land in an
 * InMemoryMetricExporter (cumulative), a tracer provider whose spans land in an
 * InMemorySpanExporter, and lookups of one metric's data points by name and attributes.
 */
import type { Attributes } from "@opentelemetry/api";
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";

/** An SDK set-up whose metrics and spans can be read back. */
export function telemetry() {
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  /** Every metric collected now, by name. */
  const collect = async (): Promise<Map<string, MetricData>> => {
    metricExporter.reset();
    await reader.forceFlush();
    const out = new Map<string, MetricData>();
    for (const resource of metricExporter.getMetrics())
      for (const scope of resource.scopeMetrics) for (const metric of scope.metrics) out.set(metric.descriptor.name, metric);
    return out;
  };
  return {
    meterProvider,
    tracerProvider,
    collect,
    spans: (): ReadableSpan[] => spanExporter.getFinishedSpans(),
    async shutdown() {
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}

/** The data points of `metric` as `[attributes, value]`, sorted by their attributes' JSON. */
export function points(metric: MetricData | undefined): Array<[Attributes, number]> {
  if (metric === undefined) return [];
  return (metric.dataPoints as DataPoint<number | Histogram>[])
    .map((p): [Attributes, number] => [p.attributes, typeof p.value === "number" ? p.value : p.value.count])
    .sort((a, b) => JSON.stringify(a[0]).localeCompare(JSON.stringify(b[0])));
}

/** The value (a histogram: its count) of the data point of `metric` with exactly `attributes`, or undefined. */
export function value(metric: MetricData | undefined, attributes: Attributes): number | undefined {
  const want = JSON.stringify(Object.entries(attributes).sort());
  return points(metric).find(([a]) => JSON.stringify(Object.entries(a).sort()) === want)?.[1];
}
