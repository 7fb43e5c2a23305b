package otelpki;

import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import java.io.PrintStream;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Exports one span with the OpenTelemetry Java SDK, configured only from outside the code.
 *
 * <pre>
 * java -jar app.jar sdk SPAN     AutoConfiguredOpenTelemetrySdk: the OTEL_* environment
 *                                (otelpki config env), or OTEL_CONFIG_FILE (otelpki config
 *                                declarative); force-flushes and reports the outcome.
 * java -javaagent:... -jar app.jar agent SPAN
 *                                The Java agent's SDK (otelpki config java flags): the span is
 *                                made through the global API and exported when the JVM exits.
 * </pre>
 *
 * Output lines, flushed: {@code LOG <level> <logger>: <message>} for every warning of the SDK,
 * {@code CAUSE <class>: <message>} for each cause of a logged or thrown error, then
 * {@code RESULT SUCCESS} (exit 0) or {@code RESULT FAILURE} (exit 1).
 */
public final class Judge {
  private static final PrintStream OUT = System.out;
  /** Warnings of the SDK that mean the span did not go: "Failed to export spans. ...". */
  private static final AtomicInteger SPAN_EXPORT_FAILURES = new AtomicInteger();

  private Judge() {}

  public static void main(String[] args) {
    if (args.length != 2) {
      OUT.println("usage: app.jar sdk|agent SPAN_NAME");
      System.exit(2);
    }
    switch (args[0]) {
      case "sdk":
        System.exit(sdk(args[1]) ? 0 : 1);
        break;
      case "agent":
        agent(args[1]);
        break;
      default:
        OUT.println("usage: app.jar sdk|agent SPAN_NAME");
        System.exit(2);
    }
  }

  private static boolean sdk(String name) {
    captureSdkWarnings();
    AutoConfiguredOpenTelemetrySdk auto;
    try {
      auto = AutoConfiguredOpenTelemetrySdk.initialize();
    } catch (Throwable t) {
      OUT.println("ERROR configuring the SDK");
      causes(t);
      return result(false);
    }
    OpenTelemetrySdk sdk = auto.getOpenTelemetrySdk();
    Span span = sdk.getTracer("otelpki-judge").spanBuilder(name).startSpan();
    span.end();
    // The batch processor's flush succeeds even when the export fails; the exporter's own
    // warning ("Failed to export spans. ...") is what tells.
    CompletableResultCode flush = sdk.getSdkTracerProvider().forceFlush().join(60, TimeUnit.SECONDS);
    if (!flush.isSuccess()) {
      OUT.println("FLUSH did not succeed within 60 s");
    }
    sdk.shutdown().join(10, TimeUnit.SECONDS);
    return result(flush.isSuccess() && SPAN_EXPORT_FAILURES.get() == 0);
  }

  /** With the agent: its SDK exports the span when the JVM shuts down, and logs any failure. */
  private static void agent(String name) {
    Span span = GlobalOpenTelemetry.getTracer("otelpki-judge").spanBuilder(name).startSpan();
    span.end();
    OUT.println("ENDED " + name);
    OUT.flush();
  }

  private static boolean result(boolean ok) {
    OUT.println(ok ? "RESULT SUCCESS" : "RESULT FAILURE");
    OUT.flush();
    return ok;
  }

  private static void causes(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      OUT.println("CAUSE " + c.getClass().getName() + ": " + c.getMessage());
      if (c.getCause() == c) {
        break;
      }
    }
    OUT.flush();
  }

  /** Prints the SDK's warnings (java.util.logging) as they come, with their causes. */
  private static void captureSdkWarnings() {
    Logger root = LogManager.getLogManager().getLogger("");
    for (Handler h : root.getHandlers()) {
      root.removeHandler(h);
    }
    root.addHandler(
        new Handler() {
          @Override
          public void publish(LogRecord r) {
            if (r.getLevel().intValue() < Level.WARNING.intValue()) {
              return;
            }
            String message = r.getMessage();
            synchronized (OUT) {
              OUT.println("LOG " + r.getLevel() + " " + r.getLoggerName() + ": " + message);
              if (r.getThrown() != null) {
                causes(r.getThrown());
              }
              OUT.flush();
            }
            if (message != null && message.startsWith("Failed to export spans")) {
              SPAN_EXPORT_FAILURES.incrementAndGet();
            }
          }

          @Override
          public void flush() {
            OUT.flush();
          }

          @Override
          public void close() {}
        });
  }
}
