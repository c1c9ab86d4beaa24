using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Fulfillment.DevBroker;
using Fulfillment.Processors.Runtime;
using Fulfillment.Processors.Runtime.State;

// Runtime benchmark: a stateful topology (running sum and count per key in RocksDB, one output per input) run by one
// runtime against the development broker on this machine (in this process).
//   1. throughput: a backlog of --records entries is processed from cold start to the last record;
//   2. latency: entries are produced at --rate per second for --seconds, stamped with the wall clock; p99 is measured
//      from that timestamp to when a separate consumer receives the output.
// Prints RESULT lines for `ops/fulfillment bench runtime`.
var records = IntArg("--records", 400_000);
var rate = IntArg("--rate", 20_000);
var seconds = IntArg("--seconds", 5);
var fetchWaitMs = IntArg("--fetch-wait-ms", -1);
const int partitions = 16;
const int keys = 10_000;

var suffix = Guid.NewGuid().ToString("N")[..8];
var app = $"bench-{suffix}";
var input = $"bench-in-{suffix}";
var output = $"bench-out-{suffix}";
var builder = new TopologyBuilder(app);
var sums = builder.AddStore("sums", Serdes.Utf8, Serdes.Int64);
var counts = builder.AddStore("counts", Serdes.Utf8, Serdes.Int64);
var outputHandle = builder.AddOutput(output, Serdes.Utf8, Serdes.Int64);
builder.AddInput(input, Serdes.Utf8, Serdes.Int64, (ctx, r) =>
{
    var sum = ctx.Store(sums).GetOrDefault(r.Key, 0) + r.Value;
    ctx.Store(sums).Put(r.Key, sum);
    ctx.Store(counts).Put(r.Key, ctx.Store(counts).GetOrDefault(r.Key, 0) + 1);
    ctx.Forward(outputHandle, r.Key, sum);
});
var topology = builder.Build();

using var cluster = MockCluster.Start(new MockClusterOptions
{
    Topics = [.. new[] { input, output, topology.DeadLetterTopic, topology.ChangelogTopic("sums"), topology.ChangelogTopic("counts") }
        .Select(t => new MockTopic(t, partitions))],
});
var stateDir = Path.Combine(Path.GetTempPath(), "runtime-bench-" + suffix);
var producerConfig = new ProducerConfig
{
    BootstrapServers = cluster.BootstrapServers,
    EnableIdempotence = true,
    Acks = Acks.All,
    Partitioner = Partitioner.Murmur2Random,
    CompressionType = CompressionType.Lz4,
    LingerMs = 5,
};
var keyBytes = Enumerable.Range(0, keys).Select(k => Encoding.UTF8.GetBytes($"key-{k}")).ToArray();
var random = new Random(1);

using (var producer = new ProducerBuilder<byte[], byte[]>(producerConfig).Build())
{
    for (var i = 0; i < records; i++)
    {
        Produce(producer, keyBytes[random.Next(keys)], DateTimeOffset.UtcNow);
    }

    producer.Flush(TimeSpan.FromSeconds(120));
}

var runtime = new StreamRuntime(topology, new StreamRuntimeOptions
{
    BootstrapServers = cluster.BootstrapServers,
    StorageFactory = new RocksDbTaskStorageFactory(stateDir),
    SessionTimeout = TimeSpan.FromSeconds(6),
    ConsumerConfig = fetchWaitMs >= 0 ? new ConsumerConfig { FetchWaitMaxMs = fetchWaitMs } : null,
});
using var stop = new CancellationTokenSource();
var run = runtime.RunAsync(stop.Token);
try
{
    // Throughput: from the first processed record to the last of the backlog.
    var counter = RecordsIn();
    while (counter() == 0)
    {
        Thread.Sleep(1);
        ThrowIfFailed(run);
    }

    var clock = Stopwatch.StartNew();
    var startCount = counter();
    while (counter() < records)
    {
        Thread.Sleep(1);
        ThrowIfFailed(run);
    }

    var throughput = (records - startCount) / clock.Elapsed.TotalSeconds;

    // Latency: paced production, outputs read by an independent consumer.
    using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
    {
        BootstrapServers = cluster.BootstrapServers,
        GroupId = "bench-latency-" + suffix,
        EnableAutoCommit = false,
        FetchWaitMaxMs = 5,
    }).Build();
    consumer.Assign(Enumerable.Range(0, partitions).Select(p =>
        new TopicPartitionOffset(output, p, consumer.QueryWatermarkOffsets(new TopicPartition(output, p), TimeSpan.FromSeconds(10)).High)));
    var total = rate * seconds;
    var latencies = new List<double>(total);
    var produceDone = false;
    var producing = Task.Run(() =>
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(producerConfig).Build();
        var paced = Stopwatch.StartNew();
        for (var i = 0; i < total; i++)
        {
            Produce(producer, keyBytes[random.Next(keys)], DateTimeOffset.UtcNow);
            if (i % 100 == 99 && TimeSpan.FromSeconds((i + 1) / (double)rate) - paced.Elapsed is { } ahead && ahead > TimeSpan.Zero)
            {
                Thread.Sleep(ahead);
            }
        }

        producer.Flush(TimeSpan.FromSeconds(60));
        produceDone = true;
    });
    var deadline = Stopwatch.StartNew();
    while (latencies.Count < total && deadline.Elapsed < TimeSpan.FromSeconds(seconds + 60))
    {
        if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } result)
        {
            latencies.Add((DateTimeOffset.UtcNow - result.Message.Timestamp.UtcDateTime).TotalMilliseconds);
        }

        ThrowIfFailed(run);
    }

    await producing;
    if (!produceDone || latencies.Count < total)
    {
        throw new InvalidOperationException($"Only {latencies.Count} of {total} outputs arrived.");
    }

    latencies.Sort();
    var p99 = latencies[(int)Math.Ceiling(latencies.Count * 0.99) - 1];
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"# {records} backlog records on {partitions} partitions, {keys} keys; latency phase {total} records at {rate}/s; p50 {latencies[latencies.Count / 2]:F1} ms"));
    var commits = RuntimeMetrics.CommitLatency.WithLabels(app);
    var age = RuntimeMetrics.EventAgeAtOutput.WithLabels(app);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"# commits {commits.Count} mean {commits.Sum / Math.Max(1, commits.Count) * 1000:F1} ms; event age at output mean {age.Sum / Math.Max(1, age.Count) * 1000:F1} ms over {age.Count}"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT name=runtime.records_per_s value={throughput:F0} unit=records/s"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT name=runtime.p99_ms value={p99:F1} unit=ms"));
}
finally
{
    await stop.CancelAsync();
    await run;
    Directory.Delete(stateDir, recursive: true);
}

return 0;

Func<double> RecordsIn()
{
    var child = RuntimeMetrics.RecordsIn.WithLabels(app, input);
    return () => child.Value;
}

void Produce(IProducer<byte[], byte[]> producer, byte[] key, DateTimeOffset timestamp)
{
    var value = new byte[8];
    System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(value, 1);
    while (true)
    {
        try
        {
            producer.Produce(input, new Message<byte[], byte[]> { Key = key, Value = value, Timestamp = new Timestamp(timestamp) });
            return;
        }
        catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
        {
            producer.Poll(TimeSpan.FromMilliseconds(10));
        }
    }
}

static void ThrowIfFailed(Task run)
{
    if (run.IsFaulted)
    {
        run.GetAwaiter().GetResult();
    }
}

int IntArg(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}
