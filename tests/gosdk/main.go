// The OpenTelemetry Go SDK as a judge of `otelpki config env` (tests/gosdk.rs builds and runs
// it). It exports with the SDK's OTLP exporters configured ONLY by the environment: the
// endpoint, the CA, the client key and certificate and the timeout come from OTEL_EXPORTER_OTLP_*
// as the env file sets them; no option in this code touches TLS or the endpoint.
// OTEL_EXPORTER_OTLP_PROTOCOL picks the exporter package: grpc (otlp*grpc) or http/protobuf
// (otlp*http), as an application choosing by that variable would.
//
// Usage: gosdk NAME [SIGNALS]
//
//	NAME     the span's name, the metric's name and the log record's body
//	SIGNALS  a comma list of traces, metrics, logs (default: traces)
//
// or: gosdk --loop PREFIX FIRST
//
//	a steady sender (tests/rotation.rs): one tracer provider for the process's life, a span
//	named PREFIX-N every 200 ms from N = FIRST, each flushed on its own, printing
//	"SPAN N OK" or "SPAN N FAILED: ERROR" per span; on SIGTERM or SIGINT it finishes the span
//	in flight, shuts down and prints "STOPPED NEXT" (the next number), exit 0.
//
// Prints one line per signal, "OK SIGNAL" or "FAILED SIGNAL: ERROR", any error the SDK reports
// through its error handler as "SDK-ERROR: ERROR", and last "RESULT SUCCESS" (exit 0) or
// "RESULT FAILURE" (exit 1). Bad usage exits 2.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// An upper bound on each signal's flush, above any OTEL_EXPORTER_OTLP_TIMEOUT the tests set.
const flushLimit = 60 * time.Second

func traces(ctx context.Context, grpc bool, name string) error {
	var exp sdktrace.SpanExporter
	var err error
	if grpc {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	_, span := tp.Tracer("otelpki-gosdk").Start(ctx, name)
	span.End()
	return tp.ForceFlush(ctx)
}

func metrics(ctx context.Context, grpc bool, name string) error {
	var exp sdkmetric.Exporter
	var err error
	if grpc {
		exp, err = otlpmetricgrpc.New(ctx)
	} else {
		exp, err = otlpmetrichttp.New(ctx)
	}
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	counter, err := mp.Meter("otelpki-gosdk").Int64Counter(name)
	if err != nil {
		return err
	}
	counter.Add(ctx, 1)
	return mp.ForceFlush(ctx)
}

func logs(ctx context.Context, grpc bool, body string) error {
	var exp sdklog.Exporter
	var err error
	if grpc {
		exp, err = otlploggrpc.New(ctx)
	} else {
		exp, err = otlploghttp.New(ctx)
	}
	if err != nil {
		return err
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
	defer func() { _ = lp.Shutdown(context.Background()) }()
	var record log.Record
	record.SetBody(attribute.StringValue(body))
	record.SetSeverity(log.SeverityInfo)
	lp.Logger("otelpki-gosdk").Emit(ctx, record)
	return lp.ForceFlush(ctx)
}

// loop is the steady sender: see the usage at the top.
func loop(grpc bool, prefix string, next int) {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	ctx := context.Background()
	var exp sdktrace.SpanExporter
	var err error
	if grpc {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		fmt.Printf("SETUP FAILED: %v\n", err)
		os.Exit(1)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	tracer := tp.Tracer("otelpki-gosdk")
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			shut, cancel := context.WithTimeout(ctx, flushLimit)
			_ = tp.Shutdown(shut)
			cancel()
			fmt.Printf("STOPPED %d\n", next)
			os.Exit(0)
		case <-tick.C:
		}
		flush, cancel := context.WithTimeout(ctx, flushLimit)
		_, span := tracer.Start(flush, fmt.Sprintf("%s-%d", prefix, next))
		span.End()
		err := tp.ForceFlush(flush)
		cancel()
		if err != nil {
			fmt.Printf("SPAN %d FAILED: %v\n", next, err)
		} else {
			fmt.Printf("SPAN %d OK\n", next)
		}
		next++
	}
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "--loop" {
		first, err := strconv.Atoi(os.Args[3])
		if err != nil {
			fmt.Fprintln(os.Stderr, "usage: gosdk --loop PREFIX FIRST")
			os.Exit(2)
		}
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			fmt.Printf("SDK-ERROR: %v\n", err)
		}))
		loop(os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL") == "grpc", os.Args[2], first)
	}
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: gosdk NAME [traces,metrics,logs]")
		os.Exit(2)
	}
	name, signals := os.Args[1], "traces"
	if len(os.Args) == 3 {
		signals = os.Args[2]
	}
	var grpc bool
	switch protocol := os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); protocol {
	case "grpc":
		grpc = true
	case "http/protobuf":
		grpc = false
	default:
		fmt.Fprintf(os.Stderr, "OTEL_EXPORTER_OTLP_PROTOCOL must be grpc or http/protobuf, not %q\n", protocol)
		os.Exit(2)
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		fmt.Printf("SDK-ERROR: %v\n", err)
	}))
	failed := false
	for _, signal := range strings.Split(signals, ",") {
		ctx, cancel := context.WithTimeout(context.Background(), flushLimit)
		var err error
		switch signal {
		case "traces":
			err = traces(ctx, grpc, name)
		case "metrics":
			err = metrics(ctx, grpc, name)
		case "logs":
			err = logs(ctx, grpc, name)
		default:
			fmt.Fprintf(os.Stderr, "unknown signal %q\n", signal)
			os.Exit(2)
		}
		cancel()
		if err != nil {
			failed = true
			fmt.Printf("FAILED %s: %v\n", signal, err)
		} else {
			fmt.Printf("OK %s\n", signal)
		}
	}
	if failed {
		fmt.Println("RESULT FAILURE")
		os.Exit(1)
	}
	fmt.Println("RESULT SUCCESS")
}
