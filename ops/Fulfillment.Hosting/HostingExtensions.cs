using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Fulfillment.Hosting;

/// <summary>The one place every worker, connector, sink and the registry get their host wiring from,
/// so logging, health, metrics and option validation behave the same in every process.</summary>
public static class HostingExtensions
{
    private static readonly JsonSerializerOptions HealthJson = new() { WriteIndented = false };

    /// <summary>Logging, health checks, Prometheus metrics and a build-info gauge for a named service.</summary>
    public static WebApplicationBuilder AddFulfillmentDefaults(this WebApplicationBuilder builder, string serviceName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceName);

        builder.Logging.ClearProviders();
        // One line per entry with UTC timestamps: the ops scripts tail these files, and grep beats JSON for a human at a terminal.
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });
        // ASP.NET Core logs several Information lines per request; on hot paths (webhook intake, schema lookups) that is most of the cost.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.AddSingleton(new ServiceIdentity(serviceName));
        builder.Services.AddHealthChecks();
        // A dead host must never look healthy: when the host stops because a background worker threw, /health is gone with it.
        builder.Services.Configure<HostOptions>(o => o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.StopHost);

        Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions { SuppressEventCounters = true, SuppressMeters = true });
        BuildInfo.WithLabels(serviceName, typeof(HostingExtensions).Assembly.GetName().Version?.ToString() ?? "0").Set(1);
        return builder;
    }

    /// <summary><c>/health</c> (JSON, 200 when every check is healthy, 503 otherwise) and <c>/metrics</c> (Prometheus text format).</summary>
    public static WebApplication MapFulfillmentEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteHealthAsync });
        app.MapMetrics("/metrics");
        return app;
    }

    /// <summary>Binds options from a configuration section, validates data annotations and fails the host at start
    /// (not at first use) when the configuration is bad, with the section and member names in the message.</summary>
    public static OptionsBuilder<T> AddValidatedOptions<T>(this IServiceCollection services, string section)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddOptions<T>()
            .BindConfiguration(section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
    }

    private static readonly Gauge BuildInfo = Metrics.CreateGauge(
        "fulfillment_build_info",
        "Always 1; labels carry the service name and assembly version.",
        new GaugeConfiguration { LabelNames = ["service", "version"] });

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var service = context.RequestServices.GetService<ServiceIdentity>()?.Name ?? "unknown";
        var body = new
        {
            service,
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, HealthJson));
    }
}

/// <summary>The service name a host was started as; reported by <c>/health</c>.</summary>
public sealed record ServiceIdentity(string Name);
