using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fulfillment.Processors.Worker;

/// <summary>Healthy only while the stream runtime's loop runs; schema registration and startup report Unhealthy.</summary>
internal sealed class ProcessorHealth : IHealthCheck
{
    public volatile bool Running;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Running ? HealthCheckResult.Healthy("stream runtime running") : HealthCheckResult.Unhealthy("stream runtime not running"));
}
