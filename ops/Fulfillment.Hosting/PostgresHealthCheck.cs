using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Fulfillment.Hosting;

/// <summary>Healthy while Postgres answers a trivial query through the service's own data source, so <c>/health</c>
/// reports the dependency every Postgres-backed service cannot work without.</summary>
public sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (NpgsqlException e)
        {
            return HealthCheckResult.Unhealthy("Postgres unreachable", e);
        }
    }
}
