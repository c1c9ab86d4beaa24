using System.Text.Json;
using Confluent.Kafka;
using Dapper;
using Fulfillment.Hosting;
using Npgsql;

namespace Fulfillment.Sinks.Views.Durable;

/// <summary>What <see cref="Reseeder.ReseedAsync"/> did.</summary>
/// <param name="Produced">Records re-produced per topic.</param>
/// <param name="SkippedTopics">Archived topics left alone because the broker still had records on them.</param>
/// <param name="OffsetsReset">Whether the views sink's stored positions were cleared (the broker had lost its data).</param>
public sealed record ReseedReport(IReadOnlyDictionary<string, int> Produced, IReadOnlyList<string> SkippedTopics, bool OffsetsReset);

/// <summary>
/// Makes an empty development broker whole again after a restart (ARCHITECTURE.md, "The two stacks"): re-produces every
/// topic archived in <c>durable.topic_archive</c> — raw deliveries, normalized orders, operator commands and shipment
/// confirmations, push outcomes — byte for byte: same key, value, headers and record timestamp, so same partition and
/// same event ids. Then the processor rebuilds the same state and re-derives the same allocations and stock levels, the
/// views converge on the same rows, and channel sync recognises what it already pushed (its handled-records ledger).
/// It also clears the views sink's stored positions when they point past what the broker now holds, so the sink re-reads
/// the topics from the start (idempotent: the views end identical). Run it after the broker and registry are up and
/// before any worker starts.
/// <para>
/// Why the normalized orders are archived rather than re-normalized from the raw deliveries: the processor orders its
/// inputs by record timestamp and stamps its outputs with that stream time, and the normalizing producer's timestamps
/// are nowhere else; a TikTok Shop order is completed by an order-detail call to TikTok, which a re-normalization
/// would repeat (a network call at start-up, and possibly a different answer); and a normalizer changed since would
/// give different events. Re-producing the records the processor consumed gives it exactly its input again.
/// </para>
/// </summary>
public static class Reseeder
{
    public static async Task<ReseedReport> ReseedAsync(
        NpgsqlDataSource dataSource, string bootstrapServers, ViewsSinkOptions views, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(views);
        await SchemaMigrator.MigrateAllAsync(dataSource, views.Schema, ct);
        await using var connection = await dataSource.OpenConnectionAsync(ct);

        var stored = await new Projection.ViewWriter(dataSource, views.Schema, views.Consumer)
            .ReadOffsetsAsync(views.Topics.All().Select(t => t.Name), ct);
        using var probe = new ConsumerBuilder<byte[], byte[]>(KafkaDefaults.Consumer(bootstrapServers, $"reseed-{Guid.NewGuid():N}")).Build();
        long High(string topic, int partition) =>
            probe.QueryWatermarkOffsets(new TopicPartition(topic, partition), TimeSpan.FromSeconds(10)).High.Value;

        var offsetsReset = false;
        if (stored.Any(s => s.Value > High(s.Key.Topic, s.Key.Partition)))
        {
            await connection.ExecuteAsync(new CommandDefinition($"DELETE FROM {views.Schema}.sink_offsets", cancellationToken: ct));
            offsetsReset = true;
        }

        var topics = (await connection.QueryAsync<string>(new CommandDefinition(
            $"SELECT DISTINCT topic FROM {SchemaMigrator.DurableSchema}.topic_archive ORDER BY topic", cancellationToken: ct))).ToList();
        var produced = new Dictionary<string, int>(StringComparer.Ordinal);
        var failures = 0;
        var skipped = new List<string>();
        using var producer = new ProducerBuilder<byte[], byte[]>(KafkaDefaults.Producer(bootstrapServers, "reseed")).Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).Build();
        foreach (var topic in topics)
        {
            var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10));
            var partitions = metadata.Topics.Single().Partitions.Select(p => p.PartitionId).ToList();
            if (partitions.Any(p => High(topic, p) > 0))
            {
                skipped.Add(topic);
                continue;
            }

            var count = 0;
            await using var command = new NpgsqlCommand(
                $"SELECT key, value, headers::text, timestamp_ms FROM {SchemaMigrator.DurableSchema}.topic_archive WHERE topic = @t ORDER BY seq", connection);
            command.Parameters.AddWithValue("t", topic);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var headers = new Headers();
                foreach (var h in JsonSerializer.Deserialize<List<ArchivedHeader>>(reader.GetString(2)) ?? [])
                {
                    headers.Add(h.name, Convert.FromBase64String(h.value));
                }

                producer.Produce(topic, new Message<byte[], byte[]>
                {
                    Key = reader.IsDBNull(0) ? null! : (byte[])reader[0],
                    Value = (byte[])reader[1],
                    Headers = headers,
                    Timestamp = new Timestamp(reader.GetInt64(3), TimestampType.CreateTime),
                }, report =>
                {
                    if (report.Error.IsError)
                    {
                        Interlocked.Increment(ref failures);
                    }
                });
                count++;
            }

            produced[topic] = count;
        }

        producer.Flush(ct);
        if (failures > 0)
        {
            throw new InvalidOperationException($"{failures} archived record(s) could not be re-produced; the broker is incomplete. Run the re-seed again after fixing the broker.");
        }

        return new ReseedReport(produced, skipped, offsetsReset);
    }

#pragma warning disable IDE1006, CA1812 // JSON shape written by the sink: lower-case names, built by the serializer.
    private sealed record ArchivedHeader(string name, string value);
#pragma warning restore IDE1006, CA1812
}
