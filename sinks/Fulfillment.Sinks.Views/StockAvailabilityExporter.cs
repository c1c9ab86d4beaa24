using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Fulfillment.Sinks.Views;

/// <summary>
/// Keeps <see cref="ViewsSinkMetrics.StockAvailable"/> (units available per pool × location) current from the views'
/// own <c>stock_levels</c>, on scrape and at most every <see cref="MinInterval"/>: one GROUP BY instead of a per-SKU
/// table in memory, and the figure is exactly what the views (and the API's availability) hold. Series of locations
/// that no longer have stock rows are removed. A failed read (Postgres restarting) keeps the last values.
/// </summary>
public sealed partial class StockAvailabilityExporter(NpgsqlDataSource dataSource, string schema, ILogger logger)
{
    private readonly string _schema = SchemaMigrator.CheckSchemaName(schema);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private long _lastRefresh = long.MinValue;

    public TimeSpan MinInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Refreshes the gauge unless it was refreshed less than <see cref="MinInterval"/> ago.</summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        if (_lastRefresh != long.MinValue && Stopwatch.GetElapsedTime(_lastRefresh) < MinInterval)
        {
            return;
        }

        if (!await _gate.WaitAsync(0, ct))
        {
            return;
        }

        try
        {
            // Bounded: a scrape must not hang on a Postgres that is down.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await using var connection = await dataSource.OpenConnectionAsync(timeout.Token);
            await using var command = new NpgsqlCommand(
                $"SELECT pool_id, location_id, sum(available)::bigint FROM {_schema}.stock_levels GROUP BY 1, 2", connection);
            var seen = new HashSet<(string, string)>();
            await using (var reader = await command.ExecuteReaderAsync(timeout.Token))
            {
                while (await reader.ReadAsync(timeout.Token))
                {
                    var key = (reader.GetString(0), reader.GetString(1));
                    seen.Add(key);
                    ViewsSinkMetrics.StockAvailable.WithLabels(key.Item1, key.Item2).Set(reader.GetInt64(2));
                }
            }

            foreach (var labels in ViewsSinkMetrics.StockAvailable.GetAllLabelValues().ToList())
            {
                if (!seen.Contains((labels[0], labels[1])))
                {
                    ViewsSinkMetrics.StockAvailable.RemoveLabelled(labels);
                }
            }

            _lastRefresh = Stopwatch.GetTimestamp();
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            LogFailed(logger, e.Message);
        }
        finally
        {
            _gate.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Stock availability metric not refreshed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
