using System.Globalization;
using Confluent.Kafka;
using Dapper;
using Fulfillment.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Fulfillment.Sinks.Views.Replay;

/// <summary>What <see cref="ReplayVerifier.VerifyAsync"/> found.</summary>
public sealed record ReplayReport(string LiveSchema, string ReplaySchema, long RecordsReplayed, int Rounds, IReadOnlyList<RowDifference> Differences)
{
    public bool Identical => Differences.Count == 0;
}

/// <summary>The topics cannot reproduce the views (records were dropped by retention before replay could read them).</summary>
public sealed class ReplayImpossibleException(string message) : Exception(message);

/// <summary>
/// replay --verify: rebuilds every view from the topics into a fresh schema with the same sink code (from offset 0, up
/// to exactly the positions the live views reflect) and diffs it with the live views row by row.
/// </summary>
public static class ReplayVerifier
{
    private const int MaxRounds = 5;

    public static async Task<ReplayReport> VerifyAsync(
        NpgsqlDataSource dataSource, string bootstrapServers, EventDecoder decoder, ViewsSinkOptions live, bool keepSchema,
        ILogger logger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(live);
        var replaySchema = "replay_" + DateTime.UtcNow.ToString("yyyyMMdd_HHmmss_fff", CultureInfo.InvariantCulture);
        await SchemaMigrator.MigrateAsync(dataSource, SchemaMigrator.ViewsSet, replaySchema, ct);
        var replayOptions = new ViewsSinkOptions
        {
            Schema = replaySchema,
            Consumer = "replay",
            GroupId = live.GroupId + "-replay",
            MaxBatch = live.MaxBatch,
            MaxBatchWaitMs = live.MaxBatchWaitMs,
            Archive = false,
            Topics = live.Topics,
        };
        var sink = new ViewsSink(replayOptions, bootstrapServers, dataSource, decoder, logger);
        var liveWriter = new Projection.ViewWriter(dataSource, live.Schema, live.Consumer);
        var topics = live.Topics.All().Select(t => t.Name).ToList();
        try
        {
            var targets = await liveWriter.ReadOffsetsAsync(topics, ct);
            CheckNothingDropped(bootstrapServers, topics, targets);
            for (var round = 1; ; round++)
            {
                await sink.RunToAsync(targets.ToDictionary(t => new TopicPartition(t.Key.Topic, t.Key.Partition), t => t.Value), ct);

                await using var connection = await dataSource.OpenConnectionAsync(ct);
                // One snapshot for reading the live positions and diffing: the live sink may keep writing meanwhile.
                await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
                async Task<Dictionary<(string, int), long>> LiveOffsets(string consumer) =>
                    (await connection.QueryAsync<(string Topic, int Partition, long Next)>(new CommandDefinition(
                        $"SELECT topic, partition, next_offset FROM {live.Schema}.sink_offsets WHERE consumer = @c AND topic = ANY(@t)",
                        new { c = consumer, t = topics.ToArray() }, tx, cancellationToken: ct)))
                    .ToDictionary(r => (r.Topic, r.Partition), r => r.Next);
                var now = await LiveOffsets(live.Consumer);
                // The live audit index commits just after the view rows; diff only once it has reached the same positions.
                var settled = SameOffsets(now, targets) && SameOffsets(await LiveOffsets(liveWriter.AuditConsumer), targets);
                if (settled || round == MaxRounds)
                {
                    var differences = settled
                        ? await ViewDiff.CompareAsync(connection, live.Schema, replaySchema, tx: tx, ct: ct)
                        : throw new InvalidOperationException(
                            $"The live views kept moving for {MaxRounds} rounds; stop the producers (or the stack's traffic) and verify again.");
                    await tx.CommitAsync(ct);
                    return new ReplayReport(live.Schema, replaySchema, sink.RecordsWritten, round, differences);
                }

                targets = now;
            }
        }
        finally
        {
            if (!keepSchema)
            {
                await using var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS {replaySchema} CASCADE");
                await drop.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
    }

    private static bool SameOffsets(Dictionary<(string, int), long> a, Dictionary<(string, int), long> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);

    /// <summary>Replay from offset 0 is only a rebuild when offset 0 is still there: the development broker drops the
    /// oldest batches beyond 5 MiB per partition, silently (facts/kafka-dev-broker.md). Fail loudly instead.</summary>
    private static void CheckNothingDropped(string bootstrapServers, IEnumerable<string> topics, Dictionary<(string Topic, int Partition), long> targets)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(KafkaDefaults.Consumer(bootstrapServers, $"replay-watermarks-{Guid.NewGuid():N}")).Build();
        var lost = new List<string>();
        foreach (var ((topic, partition), next) in targets)
        {
            if (next == 0 || !topics.Contains(topic))
            {
                continue;
            }

            var marks = consumer.QueryWatermarkOffsets(new TopicPartition(topic, partition), TimeSpan.FromSeconds(10));
            if (marks.Low.Value > 0)
            {
                lost.Add($"{topic}[{partition}] starts at offset {marks.Low.Value}");
            }
        }

        if (lost.Count > 0)
        {
            throw new ReplayImpossibleException(
                "Records the live views were built from are gone from the broker, so a replay cannot rebuild them: " + string.Join("; ", lost));
        }
    }
}
