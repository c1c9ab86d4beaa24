using System.Net;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Fulfillment.Api.Tests;

/// <summary>
/// A command reaches its topic once, whatever the client or the API does: a retry without an Idempotency-Key of a
/// command that carries its own id gets the same command id; a command the broker acknowledged just before the API
/// died (stored, on the topic, not marked produced) is found on the topic by the restart's relay and not produced again.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class CommandOnceTests(ApiFixture f)
{
    private static async Task<(HttpStatusCode Status, JsonElement Body)> Post(HttpClient client, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(new Uri(path, UriKind.Relative), content);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task<(string Topic, byte[] Value, long Ms)> Archived(string commandId)
    {
        await using var db = await f.Env.DataSource.OpenConnectionAsync();
        return await db.QuerySingleAsync<(string, byte[], long)>(
            "SELECT a.topic, a.value, a.timestamp_ms FROM durable.operator_commands c JOIN durable.topic_archive a ON a.topic = c.topic AND a.event_id = c.event_id WHERE c.command_id = @commandId",
            new { commandId });
    }

    /// <summary>How many records on the topic carry exactly these value bytes.</summary>
    private int CopiesOnTopic(string topic, byte[] value)
    {
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(new ConsumerConfig
        {
            BootstrapServers = f.Env.BootstrapServers, GroupId = "copies-" + Guid.NewGuid().ToString("N"), EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest, EnableAutoCommit = false,
        }).Build();
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var partitions = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single().Partitions
            .Select(p => new TopicPartitionOffset(topic, p.PartitionId, Offset.Beginning)).ToList();
        consumer.Assign(partitions);
        var open = partitions.Select(p => p.Partition.Value).ToHashSet();
        var copies = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (open.Count > 0 && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (result is null)
            {
                continue;
            }

            if (result.IsPartitionEOF)
            {
                open.Remove(result.Partition.Value);
            }
            else if (result.Message.Value.AsSpan().SequenceEqual(value))
            {
                copies++;
            }
        }

        open.ShouldBeEmpty("the topic was not read to its end");
        return copies;
    }

    [Fact]
    public async Task ReceiveWithoutKey_RetriedWithSameReceiptId_SameCommandOnceAndConflictOnDifferentBody()
    {
        const string Body = """{"locationId":"WH1","receiptId":"po-retry-1","lines":[{"sku":"SKU-3","quantity":4}]}""";
        var first = await Post(f.Acme, "/pools/pool-a/stock/receive", Body);
        var retry = await Post(f.Acme, "/pools/pool-a/stock/receive", Body);
        var other = await Post(f.Acme, "/pools/pool-a/stock/receive", Body.Replace("4", "5", StringComparison.Ordinal));
        var otherPool = await Post(f.Acme, "/pools/pool-b/stock/receive", Body);

        first.Status.ShouldBe(HttpStatusCode.Accepted, first.Body.ToString());
        retry.Status.ShouldBe(HttpStatusCode.Accepted);
        var id = first.Body.GetProperty("commandId").GetString()!;
        retry.Body.GetProperty("commandId").GetString().ShouldBe(id);
        retry.Body.GetProperty("status").GetString().ShouldBe("duplicate");
        other.Status.ShouldBe(HttpStatusCode.UnprocessableEntity);
        other.Body.GetProperty("title").GetString().ShouldBe("Command id reused");
        otherPool.Body.GetProperty("commandId").GetString().ShouldNotBe(id);

        var (topic, value, _) = await Archived(id);
        CopiesOnTopic(topic, value).ShouldBe(1);
    }

    [Fact]
    public async Task AdjustWithoutKey_SentTwice_TwoCommands()
    {
        // An adjustment has no id of its own: two identical ones are two corrections, not a retry.
        const string Body = """{"locationId":"WH1","reason":"Damaged","lines":[{"sku":"SKU-4","quantity":-1}]}""";
        var first = await Post(f.Acme, "/pools/pool-a/stock/adjust", Body);
        var second = await Post(f.Acme, "/pools/pool-a/stock/adjust", Body);

        first.Status.ShouldBe(HttpStatusCode.Accepted);
        second.Status.ShouldBe(HttpStatusCode.Accepted);
        second.Body.GetProperty("commandId").GetString().ShouldNotBe(first.Body.GetProperty("commandId").GetString());
        second.Body.GetProperty("status").GetString().ShouldBe("accepted");
    }

    [Fact]
    public async Task RelayPending_CommandOnTopicButNotMarkedProduced_MarkedWithoutProducingAgain()
    {
        var sent = await Post(f.Acme, "/pools/pool-a/transfers", """{"transferId":"t-crash-1","fromLocationId":"WH1","toLocationId":"WH2","lines":[{"sku":"SKU-1","quantity":1}]}""");
        sent.Status.ShouldBe(HttpStatusCode.Accepted, sent.Body.ToString());
        var id = sent.Body.GetProperty("commandId").GetString()!;
        var (topic, value, _) = await Archived(id);
        CopiesOnTopic(topic, value).ShouldBe(1);

        // What an API killed between the broker's acknowledgement and its own bookkeeping leaves behind.
        await using (var db = await f.Env.DataSource.OpenConnectionAsync())
        {
            await db.ExecuteAsync("UPDATE durable.operator_commands SET produced_at = NULL WHERE command_id = @id", new { id });
        }

        var produced = await f.Services.GetRequiredService<CommandPublisher>().RelayPendingAsync(CancellationToken.None);

        produced.ShouldBe(0);
        CopiesOnTopic(topic, value).ShouldBe(1);
        await using var check = await f.Env.DataSource.OpenConnectionAsync();
        (await check.QuerySingleAsync<bool>("SELECT produced_at IS NOT NULL FROM durable.operator_commands WHERE command_id = @id", new { id })).ShouldBeTrue();
    }

    [Fact]
    public async Task TopicRecordFinder_RecordOnTopicOrNot_FoundOnlyWhenThere()
    {
        var sent = await Post(f.Acme, "/pools/pool-b/stock/count", """{"locationId":"WH1","countId":"cc-find-1","lines":[{"sku":"SKU-2","quantity":7}]}""");
        sent.Status.ShouldBe(HttpStatusCode.Accepted, sent.Body.ToString());
        var (topic, value, ms) = await Archived(sent.Body.GetProperty("commandId").GetString()!);
        var finder = f.Services.GetRequiredService<TopicRecordFinder>();
        var altered = value.ToArray();
        altered[^1] ^= 0x5a;

        finder.Contains(topic, value, ms, CancellationToken.None).ShouldBeTrue();
        finder.Contains(topic, altered, ms, CancellationToken.None).ShouldBeFalse();
    }
}
