using System.Text;
using CsCheck;
using Fulfillment.Connectors.Channels;
using Fulfillment.Connectors.Tests.Infrastructure;
using Fulfillment.Connectors.Webhooks;
using Fulfillment.Schemas.Ingest;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Fulfillment.Connectors.Tests;

[Collection(ConnectorStackCollection.Name)]
public class RawDeliveryStoreTests(ConnectorStack stack)
{
    [Fact]
    public void Version7Floor_AnyTime_SortsBelowIdsOfThatMillisecondAndAboveEarlierOnes()
    {
        // Postgres orders uuids bytewise; the sweeper's "stored before T" is a range of the outbox's primary key.
        Gen.Long[0, 253_402_300_799_000L - 2].Sample(ms =>
        {
            var time = DateTimeOffset.FromUnixTimeMilliseconds(ms);
            var floor = RawDeliveryStore.Version7Floor(time.UtcDateTime);
            var next = RawDeliveryStore.Version7Floor(time.UtcDateTime.AddMilliseconds(1));
            var id = Guid.CreateVersion7(time);
            Compare(floor, id).ShouldBeLessThanOrEqualTo(0);
            Compare(id, next).ShouldBeLessThan(0);
        });
    }

    [Fact]
    public async Task ConcurrentInserts_DuplicatesInAndAcrossBatches_EachDeliveryReportedNewExactlyOnceAndEveryRowStored()
    {
        var store = stack.Services.GetRequiredService<RawDeliveryStore>();
        var source = $"groupcommit-{Guid.NewGuid():N}";
        var deliveryIds = Enumerable.Range(0, 60).Select(i => $"evt-{i}").ToArray();
        // Each accepted delivery arrives three times at once (they land in the same batch or in concurrent batches), and
        // a rejected delivery with the same id each time: rejected rows are kept but never take part in dedupe.
        var rows = deliveryIds.SelectMany(d => new[] { Row(source, d, true), Row(source, d, true), Row(source, d, false), Row(source, d, true) })
            .OrderBy(_ => Random.Shared.Next()).ToArray();

        var results = await Task.WhenAll(rows.Select(r => Task.Run(() => store.InsertAsync(r, CancellationToken.None))));

        var byRow = rows.Zip(results);
        foreach (var d in deliveryIds)
        {
            byRow.Count(x => x.First.DeliveryId == d && x.First.Accepted && x.Second).ShouldBe(1, d);
            byRow.Single(x => x.First.DeliveryId == d && !x.First.Accepted).Second.ShouldBeTrue(d);
        }

        (await StoredCountsAsync(source)).ShouldBe((deliveryIds.Length, deliveryIds.Length));
    }

    /// <summary>Rows stored for <paramref name="source"/>: (accepted, rejected).</summary>
    private async Task<(long Accepted, long Rejected)> StoredCountsAsync(string source)
    {
        await using var connection = new NpgsqlConnection(stack.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FILTER (WHERE accepted), count(*) FILTER (WHERE NOT accepted) FROM raw_deliveries WHERE source = @s", connection);
        command.Parameters.AddWithValue("s", source);
        await using var reader = await command.ExecuteReaderAsync();
        (await reader.ReadAsync()).ShouldBeTrue();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    [Fact]
    public async Task InsertAsync_RetryOfStoredDeliveryAmongNewOnes_RetryReportedDuplicateOthersStored()
    {
        // A batch is first tried without ON CONFLICT; a delivery already stored fails it, and it is stored again guarded.
        var store = stack.Services.GetRequiredService<RawDeliveryStore>();
        var source = $"retry-{Guid.NewGuid():N}";
        (await store.InsertAsync(Row(source, "evt-1", true), CancellationToken.None)).ShouldBeTrue();

        var results = await Task.WhenAll(
            new[] { Row(source, "evt-2", true), Row(source, "evt-1", true), Row(source, "evt-3", true), Row(source, "evt-1", false) }
                .Select(r => store.InsertAsync(r, CancellationToken.None)));
        var afterwards = (await store.InsertAsync(Row(source, "evt-4", true), CancellationToken.None),
            await store.InsertAsync(Row(source, "evt-3", true), CancellationToken.None));

        results.ShouldBe([true, false, true, true]);
        afterwards.ShouldBe((true, false));
        (await StoredCountsAsync(source)).ShouldBe((4L, 1L));
    }

    [Fact]
    public async Task MarkPublished_OutboxPlannedWhileEmpty_DeletesThroughPrimaryKeyOnceItFills()
    {
        // The mark connection prepares its DELETE once; Postgres then caches a generic plan. Made while the outbox was empty
        // and freshly vacuumed (as right after a start), that plan used to be a sequential scan, kept while the table filled
        // with live and dead rows.
        var schema = $"mark_{Guid.NewGuid():N}";
        await using var connection = new NpgsqlConnection(stack.ConnectionString);
        await connection.OpenAsync();
        await ExecAsync(connection, $"CREATE SCHEMA {schema}; SET search_path = {schema}; CREATE TABLE raw_unpublished (id uuid PRIMARY KEY)");
        try
        {
            await ExecAsync(connection, "VACUUM ANALYZE raw_unpublished");
            await ExecAsync(connection, RawDeliveryStore.MarkSessionSql);
            await ExecAsync(connection, $"SET plan_cache_mode = force_generic_plan; PREPARE mark(uuid[]) AS {RawDeliveryStore.MarkPublishedSql}; EXECUTE mark('{{}}')");
            await ExecAsync(connection, "INSERT INTO raw_unpublished SELECT gen_random_uuid() FROM generate_series(1, 20000); DELETE FROM raw_unpublished WHERE random() < 0.9");

            await using var explain = new NpgsqlCommand($"EXPLAIN EXECUTE mark('{{{Guid.NewGuid()}}}')", connection);
            var plan = new StringBuilder();
            await using (var reader = await explain.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    plan.AppendLine(reader.GetString(0));
                }
            }

            plan.ToString().ShouldContain("raw_unpublished_pkey");
            plan.ToString().ShouldNotContain("Seq Scan");
        }
        finally
        {
            await ExecAsync(connection, $"DEALLOCATE ALL; DROP SCHEMA {schema} CASCADE");
        }
    }

    private static async Task ExecAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static RawDeliveryRow Row(string source, string deliveryId, bool accepted) => new(
        Guid.CreateVersion7(), source, deliveryId, accepted, accepted ? DeliveryStatus.Accepted : DeliveryStatus.Unauthorized,
        "shop", "pool", IngestTransport.Webhook, "orders/create", "POST", "/webhooks/test", null, "application/json",
        [new("X-Test", deliveryId)], Encoding.UTF8.GetBytes($$"""{"id":"{{deliveryId}}"}"""), DateTime.UtcNow, accepted,
        accepted ? null : "signature does not match");

    /// <summary>Bytewise, as Postgres compares uuids (Npgsql sends them in RFC 4122 byte order).</summary>
    private static int Compare(Guid a, Guid b)
    {
        Span<byte> x = stackalloc byte[16];
        Span<byte> y = stackalloc byte[16];
        a.TryWriteBytes(x, bigEndian: true, out _);
        b.TryWriteBytes(y, bigEndian: true, out _);
        return x.SequenceCompareTo(y);
    }
}
