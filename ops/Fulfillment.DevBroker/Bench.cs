using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;

namespace Fulfillment.DevBroker;

/// <summary>
/// `Fulfillment.DevBroker bench [--messages N] [--size BYTES]`: produce then consume N small messages once directly
/// against the mock listeners and once through the fixed-port forwarders, printing RESULT lines.
/// </summary>
internal static class Bench
{
    private const int Partitions = 32;
    private const string Topic = "bench";

    public static int Run(string[] args)
    {
        var messages = 500_000;
        var size = 100;
        string? external = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--messages" when i + 1 < args.Length: messages = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--size" when i + 1 < args.Length: size = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--bootstrap" when i + 1 < args.Length: external = args[++i]; break;
                default:
                    Console.Error.WriteLine($"bench: unknown argument '{args[i]}' (use --messages N --size BYTES --bootstrap SERVERS)");
                    return 2;
            }
        }

        // Stay well under the 5 MiB per-partition retention cap, or the consume count would silently fall short.
        if ((long)messages * (size + 70) / Partitions > 4L * 1024 * 1024)
        {
            Console.Error.WriteLine($"bench: {messages} x {size} B would exceed the broker's per-partition retention cap over {Partitions} partitions");
            return 2;
        }

        if (external is not null)
        {
            return Measure("external", external, messages, size) ? 0 : 1;
        }

        var failed = false;
        foreach (var (label, basePort) in new[] { ("direct", (int?)null), ("forwarded", FreePort()) })
        {
            using var cluster = MockCluster.Start(new MockClusterOptions
            {
                BrokerCount = 1,
                FixedBasePort = basePort,
                Topics = [new MockTopic(Topic, Partitions)],
            });
            failed |= !Measure(label, cluster.BootstrapServers, messages, size);
        }

        return failed ? 1 : 0;
    }

    private static bool Measure(string label, string bootstrap, int messages, int size)
    {
        var produced = Produce(bootstrap, messages, size, out var produceSeconds);
        var consumed = Consume(bootstrap, messages, out var consumeSeconds);
        Console.WriteLine(FormattableString.Invariant(
            $"RESULT name=devbroker.{label}.produce_msgs_per_s value={messages / produceSeconds:F0} unit=msgs/s"));
        Console.WriteLine(FormattableString.Invariant(
            $"RESULT name=devbroker.{label}.consume_msgs_per_s value={messages / consumeSeconds:F0} unit=msgs/s"));
        if (produced != messages || consumed != messages)
        {
            Console.Error.WriteLine($"bench: {label}: produced {produced}, consumed {consumed}, expected {messages}");
            return false;
        }

        return true;
    }

    private static long Produce(string bootstrap, int messages, int size, out double seconds)
    {
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrap,
            LingerMs = 5,
            Acks = Acks.All,
            QueueBufferingMaxMessages = 1_000_000,
            Partitioner = Partitioner.Murmur2Random,
        };
        long delivered = 0;
        var payload = new byte[size];
        using var producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        Action<DeliveryReport<byte[], byte[]>> onDelivery = report =>
        {
            if (!report.Error.IsError)
            {
                Interlocked.Increment(ref delivered);
            }
        };
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < messages; i++)
        {
            var key = BitConverter.GetBytes(i);
            while (true)
            {
                try
                {
                    producer.Produce(Topic, new Message<byte[], byte[]> { Key = key, Value = payload }, onDelivery);
                    break;
                }
                catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(10));
                }
            }
        }

        producer.Flush(TimeSpan.FromMinutes(2));
        seconds = clock.Elapsed.TotalSeconds;
        return Interlocked.Read(ref delivered);
    }

    private static long Consume(string bootstrap, int messages, out double seconds)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "bench-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            // Any gap must show, not be skipped over.
            AutoOffsetReset = AutoOffsetReset.Error,
        };
        int partitions;
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            partitions = admin.GetMetadata(Topic, TimeSpan.FromSeconds(10)).Topics.Single().Partitions.Count;
        }

        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(Topic, p, Offset.Beginning)));
        long count = 0;
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromMinutes(2);
        while (count < messages && clock.Elapsed < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (result is not null && !result.IsPartitionEOF)
            {
                count++;
            }
        }

        seconds = clock.Elapsed.TotalSeconds;
        consumer.Close();
        return count;
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
