package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// telemetry is where the Service and the store report: Prometheus text on
// /metrics always, and OTLP over HTTP when the standard environment
// variables name a collector.
type telemetry struct {
	meter   metric.MeterProvider
	tracer  trace.TracerProvider
	metrics http.Handler // serves the Prometheus registry
	// shutdown flushes and stops the exporters.
	shutdown func(context.Context) error
}

// otlpEnv reports whether getenv names an OTLP endpoint for all signals
// or for the given one ("METRICS", "TRACES"). The exporters read these
// variables (and OTEL_EXPORTER_OTLP_HEADERS and the others) themselves.
func otlpEnv(getenv func(string) string, signal string) bool {
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != ""
}

// openTelemetry sets up the providers. Traces go nowhere without OTLP:
// Prometheus has no place for them.
func openTelemetry(ctx context.Context, getenv func(string) string, log *slog.Logger) (*telemetry, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	prom, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	readers := []sdkmetric.Option{sdkmetric.WithReader(prom)}
	if otlpEnv(getenv, "METRICS") {
		exp, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return nil, err
		}
		readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
		log.Info("exporting metrics over OTLP/HTTP")
	}
	mp := sdkmetric.NewMeterProvider(readers...)
	t := &telemetry{
		meter:    mp,
		tracer:   noop.NewTracerProvider(),
		metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}),
		shutdown: mp.Shutdown,
	}
	if otlpEnv(getenv, "TRACES") {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			mp.Shutdown(ctx)
			return nil, err
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
		t.tracer = tp
		t.shutdown = func(ctx context.Context) error { return errors.Join(mp.Shutdown(ctx), tp.Shutdown(ctx)) }
		log.Info("exporting traces over OTLP/HTTP")
	}
	return t, nil
}
