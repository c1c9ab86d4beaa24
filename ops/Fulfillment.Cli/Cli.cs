using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Confluent.SchemaRegistry;
using Fulfillment.Sinks.Views;
using Fulfillment.Sinks.Views.Audit;
using Fulfillment.Sinks.Views.Durable;
using Fulfillment.Sinks.Views.Replay;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Fulfillment.Cli;

/// <summary>
/// <c>audit order ID</c>, <c>replay --verify</c>, <c>reseed</c>, <c>bench freshness</c>. Connection settings come from
/// the same environment variables as the workers: <c>Kafka__BootstrapServers</c>, <c>Kafka__SchemaRegistryUrl</c>,
/// <c>Postgres__ConnectionString</c>; <c>--schema</c> picks the views schema (default <c>views</c>).
/// Exit codes: 0 ok, 1 differences found / not found, 2 usage or environment error.
/// </summary>
public static class Cli
{
    public const string Usage = """
        usage: Fulfillment.Cli <command> [options]

          audit order <order-id> [--json]   an order's timeline across all topics (raw delivery, normalized, allocated
                                            with rule trail, shipped, each push attempt) with times and sources
          replay --verify [--keep]          rebuild every view from the topics into a fresh schema and diff it with the
                                            live views row by row; exit 1 on any difference
          reseed                            after a development broker restart: re-produce archived raw deliveries,
                                            operator commands and push outcomes into the empty broker and reset the
                                            views sink's positions (run before the workers start)
          bench freshness [--seconds N] [--rate N]
                                            self-contained: age of a stock-level change when it lands in Postgres at
                                            N order events/s (default 2000); prints RESULT lines

        options: --schema NAME (views schema, default views)
        environment: Kafka__BootstrapServers, Kafka__SchemaRegistryUrl, Postgres__ConnectionString
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            var options = new ViewsSinkOptions { Schema = Option(args, "--schema") ?? "views" };
            return args switch
            {
                ["audit", "order", var id, ..] => await AuditAsync(id, options, args.Contains("--json"), output),
                ["replay", ..] when args.Contains("--verify") => await ReplayAsync(options, args.Contains("--keep"), output),
                ["reseed", ..] => await ReseedAsync(options, output),
                ["bench", "freshness", ..] => await FreshnessBench.RunAsync(
                    int.Parse(Option(args, "--seconds") ?? "20", CultureInfo.InvariantCulture),
                    int.Parse(Option(args, "--rate") ?? "2000", CultureInfo.InvariantCulture), output),
                ["help" or "--help" or "-h", ..] => Help(output, 0),
                _ => Help(error, 2),
            };
        }
        catch (ReplayImpossibleException e)
        {
            await error.WriteLineAsync($"replay: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or ArgumentException or FormatException)
        {
            await error.WriteLineAsync($"fulfillment-cli: {e.Message}");
            return 2;
        }
    }

    private static int Help(TextWriter writer, int code)
    {
        writer.WriteLine(Usage);
        return code;
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string Env(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"Environment variable {name} is not set (ops/fulfillment sets it for the embedded stack).");

    private static async Task<int> AuditAsync(string orderId, ViewsSinkOptions options, bool json, TextWriter output)
    {
        await using var dataSource = NpgsqlDataSource.Create(Env("Postgres__ConnectionString"));
        var timeline = await AuditTimeline.ForOrderAsync(dataSource, options.Schema, orderId, pools: null, CancellationToken.None);
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(timeline.Select(e => new
            {
                e.OccurredAt, e.RecordedAt, e.Topic, e.Kind, e.SourceSystem, e.SourceId, e.EventId, e.CausationId, e.PoolId,
                Summary = JsonDocument.Parse(e.Summary).RootElement,
            })));
        }
        else if (timeline.Count > 0)
        {
            await output.WriteLineAsync($"order {orderId}: {timeline.Count} events (pool {timeline[0].PoolId})");
            foreach (var e in timeline)
            {
                await output.WriteLineAsync(
                    $"{e.OccurredAt:yyyy-MM-ddTHH:mm:ss.fffZ}  {e.Kind,-20} {e.SourceSystem}/{e.SourceId}  [{e.Topic}, recorded {e.RecordedAt:HH:mm:ss.fff}]  {e.Summary}");
            }
        }

        if (timeline.Count == 0)
        {
            await output.WriteLineAsync($"order {orderId}: no events in schema {options.Schema}");
            return 1;
        }

        return 0;
    }

    private static async Task<int> ReplayAsync(ViewsSinkOptions options, bool keep, TextWriter output)
    {
        await using var dataSource = NpgsqlDataSource.Create(Env("Postgres__ConnectionString"));
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = Env("Kafka__SchemaRegistryUrl") });
        var clock = Stopwatch.StartNew();
        var report = await ReplayVerifier.VerifyAsync(dataSource, Env("Kafka__BootstrapServers"), new EventDecoder(registry), options, keep,
            NullLogger.Instance, CancellationToken.None);
        await output.WriteLineAsync(
            $"replay: rebuilt {report.RecordsReplayed} records into {report.ReplaySchema} ({(keep ? "kept" : "dropped")}) in {clock.Elapsed.TotalSeconds:F1} s; " +
            $"{report.Differences.Count} difference(s) against {report.LiveSchema}");
        foreach (var d in report.Differences)
        {
            await output.WriteLineAsync($"  {d.Table}: only in {d.Side}: {d.RowJson}");
        }

        return report.Identical ? 0 : 1;
    }

    private static async Task<int> ReseedAsync(ViewsSinkOptions options, TextWriter output)
    {
        await using var dataSource = NpgsqlDataSource.Create(Env("Postgres__ConnectionString"));
        var report = await Reseeder.ReseedAsync(dataSource, Env("Kafka__BootstrapServers"), options, CancellationToken.None);
        foreach (var (topic, count) in report.Produced)
        {
            await output.WriteLineAsync($"reseed: {topic}: {count} record(s) re-produced");
        }

        foreach (var topic in report.SkippedTopics)
        {
            await output.WriteLineAsync($"reseed: {topic}: broker already has records, left alone");
        }

        await output.WriteLineAsync(report.OffsetsReset
            ? "reseed: views sink positions reset (the broker had lost its records); the sink re-reads from the start"
            : "reseed: views sink positions kept");
        return 0;
    }
}
