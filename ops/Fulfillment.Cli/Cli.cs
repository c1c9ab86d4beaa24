using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Confluent.SchemaRegistry;
using Fulfillment.Sinks.Views;
using Fulfillment.Sinks.Views.Audit;
using Fulfillment.Sinks.Views.Durable;
using Fulfillment.Sinks.Views.Replay;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Fulfillment.Cli;

/// <summary>
/// <c>audit order ID</c>, <c>replay --verify</c>, <c>reseed</c>, <c>bench freshness</c>. Connection settings come from
/// the same environment variables as the workers: <c>Kafka__BootstrapServers</c>, <c>Kafka__SchemaRegistryUrl</c>,
/// <c>Postgres__ConnectionString</c>, and the views sink's own (<c>ViewsSink__Schema</c>, <c>ViewsSink__Consumer</c>,
/// <c>ViewsSink__Topics__*</c>, …) so the CLI reads and replays exactly what the sink writes; <c>--schema</c> overrides
/// the views schema (default <c>views</c>). Exit codes: 0 ok, 1 differences found / not found, 2 usage or environment error.
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
          bench freshness [--seconds N] [--rate N] [--fetch-wait-ms N] [--linger-ms N]
                                            self-contained: age of a stock-level change when it lands in Postgres at
                                            N order events/s (default 2000); prints RESULT lines; the last two
                                            override the views sink's settings for comparison

        options: --schema NAME (views schema, default views)
        environment: Kafka__BootstrapServers, Kafka__SchemaRegistryUrl, Postgres__ConnectionString, ViewsSink__*
        """;

    /// <summary>Options each verb accepts: name → takes a value. Anything else is a usage error, not silently ignored.</summary>
    private static readonly Dictionary<string, Dictionary<string, bool>> Accepted = new(StringComparer.Ordinal)
    {
        ["audit"] = new(StringComparer.Ordinal) { ["--json"] = false, ["--schema"] = true },
        ["replay"] = new(StringComparer.Ordinal) { ["--verify"] = false, ["--keep"] = false, ["--schema"] = true },
        ["reseed"] = new(StringComparer.Ordinal) { ["--schema"] = true },
        ["bench"] = new(StringComparer.Ordinal) { ["--seconds"] = true, ["--rate"] = true, ["--fetch-wait-ms"] = true, ["--linger-ms"] = true },
    };

    /// <summary>Runs one command. <paramref name="environment"/> replaces the process environment (tests); null reads it.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, IReadOnlyDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            var env = new Env(environment);
            return args switch
            {
                [] => await UsageAsync(error, "no command given"),
                ["help" or "--help" or "-h", ..] => Help(output, 0),
                [var verb, ..] when Accepted.TryGetValue(verb, out var accepted) && CheckOptions(args, accepted) is { } problem =>
                    await UsageAsync(error, problem),
                ["audit", "order", var id, ..] when !id.StartsWith("--", StringComparison.Ordinal) =>
                    await AuditAsync(id, env.Views(Option(args, "--schema")), args.Contains("--json"), env, output),
                ["audit", ..] => await UsageAsync(error, "audit needs: audit order <order-id>"),
                ["replay", ..] when args.Contains("--verify") => await ReplayAsync(env.Views(Option(args, "--schema")), args.Contains("--keep"), env, output),
                ["replay", ..] => await UsageAsync(error, "replay needs --verify (the only mode: rebuild and diff)"),
                ["reseed", ..] => await ReseedAsync(env.Views(Option(args, "--schema")), env, output),
                ["bench", "freshness", ..] => await BenchAsync(args, output, error),
                ["bench", ..] => await UsageAsync(error, "bench needs a name: bench freshness"),
                [var verb, ..] => await UsageAsync(error, $"unknown command '{verb}'"),
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

    private static async Task<int> UsageAsync(TextWriter error, string problem)
    {
        await error.WriteLineAsync($"fulfillment-cli: {problem}");
        return Help(error, 2);
    }

    /// <summary>The first problem with the options in <paramref name="args"/>, or null.</summary>
    private static string? CheckOptions(string[] args, Dictionary<string, bool> accepted)
    {
        for (var i = 1; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                continue;
            }

            if (!accepted.TryGetValue(args[i], out var takesValue))
            {
                return $"unknown option {args[i]} for {args[0]}";
            }

            if (takesValue)
            {
                if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    return $"option {args[i]} needs a value";
                }

                i++;
            }
        }

        return null;
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static async Task<int> BenchAsync(string[] args, TextWriter output, TextWriter error)
    {
        int Positive(string name, int fallback) =>
            Option(args, name) is not { } text ? fallback
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 ? value
            : throw new ArgumentException($"{name} must be a positive whole number, not '{text}'");
        int seconds, rate, fetchWait, linger;
        try
        {
            seconds = Positive("--seconds", 20);
            rate = Positive("--rate", 2000);
            fetchWait = Positive("--fetch-wait-ms", new ViewsSinkOptions().FetchWaitMaxMs);
            linger = Option(args, "--linger-ms") == "0" ? 0 : Positive("--linger-ms", new ViewsSinkOptions().MaxBatchWaitMs);
        }
        catch (ArgumentException e)
        {
            return await UsageAsync(error, e.Message);
        }

        return await FreshnessBench.RunAsync(seconds, rate, output, o =>
        {
            o.FetchWaitMaxMs = fetchWait;
            o.MaxBatchWaitMs = linger;
        });
    }

    /// <summary>Settings from environment variables, named as the workers' (<c>Section__Key</c>).</summary>
    private sealed class Env
    {
        private readonly IConfiguration _configuration;

        public Env(IReadOnlyDictionary<string, string?>? environment)
        {
            var builder = new ConfigurationBuilder();
            if (environment is null)
            {
                builder.AddEnvironmentVariables();
            }
            else
            {
                builder.AddInMemoryCollection(environment.Select(kv => KeyValuePair.Create(kv.Key.Replace("__", ":", StringComparison.Ordinal), kv.Value)));
            }

            _configuration = builder.Build();
        }

        public string Required(string name) =>
            _configuration[name.Replace("__", ":", StringComparison.Ordinal)] is { Length: > 0 } value
                ? value
                : throw new InvalidOperationException($"Environment variable {name} is not set (ops/fulfillment sets it for the embedded stack).");

        /// <summary>The views sink's options as the sink itself binds them, with <paramref name="schema"/> overriding.</summary>
        public ViewsSinkOptions Views(string? schema)
        {
            var options = new ViewsSinkOptions();
            _configuration.GetSection(ViewsSinkOptions.Section).Bind(options);
            options.Schema = SchemaMigrator.CheckSchemaName(schema ?? options.Schema);
            return options;
        }
    }

    private static async Task<int> AuditAsync(string orderId, ViewsSinkOptions options, bool json, Env env, TextWriter output)
    {
        await using var dataSource = NpgsqlDataSource.Create(env.Required("Postgres__ConnectionString"));
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

    private static async Task<int> ReplayAsync(ViewsSinkOptions options, bool keep, Env env, TextWriter output)
    {
        await using var dataSource = NpgsqlDataSource.Create(env.Required("Postgres__ConnectionString"));
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = env.Required("Kafka__SchemaRegistryUrl") });
        var clock = Stopwatch.StartNew();
        var report = await ReplayVerifier.VerifyAsync(dataSource, env.Required("Kafka__BootstrapServers"), new EventDecoder(registry), options, keep,
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

    private static async Task<int> ReseedAsync(ViewsSinkOptions options, Env env, TextWriter output)
    {
        await using var dataSource = NpgsqlDataSource.Create(env.Required("Postgres__ConnectionString"));
        var report = await Reseeder.ReseedAsync(dataSource, env.Required("Kafka__BootstrapServers"), options, CancellationToken.None);
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
