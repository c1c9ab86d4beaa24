using System.Globalization;
using System.Runtime.InteropServices;
using Fulfillment.Schemas.Topics;

namespace Fulfillment.DevBroker;

/// <summary>The development broker process started by the ops tooling (issue 2, item 3).</summary>
internal static class Program
{
    private const string Usage = """
        Fulfillment.DevBroker - development Kafka broker (librdkafka's in-memory mock cluster).

        Usage: Fulfillment.DevBroker [options]
               Fulfillment.DevBroker bench [--messages N] [--size BYTES] [--bootstrap SERVERS]
                 produce then consume N messages in-process directly and through the forwarder, or against
                 SERVERS (a running broker; uses topic "bench", which must exist: --topic bench:32)

        Options:
          --brokers N               number of brokers (default 3)
          --base-port P             broker i listens on 127.0.0.1:(P+i) (default 19092) through a small TCP forwarder;
                                    0 = the brokers' own kernel-chosen ports, no forwarder
          --bootstrap-file PATH     write the bootstrap list there once ready (atomically); deleted on exit
          --topic NAME:PARTITIONS   create this topic too (repeatable; overrides a catalog topic of the same name)
          --parent-pid PID          stop cleanly (as on SIGTERM) once process PID is gone, so a crashed launcher leaves
                                    no broker behind
          --no-catalog              do not create the topics of Fulfillment.Schemas TopicCatalog.All
          --session-timeout-ms MS   broker-side session timeout of KIP-848 groups (group.protocol=consumer)
          --heartbeat-interval-ms MS  broker-side heartbeat interval of KIP-848 groups
          --help                    this text

        Stops cleanly (exit 0) on SIGTERM or SIGINT.

        Know before you rely on it (facts/kafka-dev-broker.md):
          * Everything is in memory: a restart starts empty.
          * RETENTION CAP: each partition keeps at most 5 MiB of batches (or 100,000 batches); the OLDEST batches are
            DROPPED SILENTLY beyond that and the low watermark moves up. One batch that pushes a partition over 5 MiB can
            wipe the partition. Spread volume over partitions, compress (lz4/zstd), and run consumers with
            auto.offset.reset=error or compare positions with the low watermark so loss is never silent.
          * No compaction, no time retention; read_committed is not enforced; offsets sent with SendOffsetsToTransaction
            are not stored; no zombie fencing.
          * AdminClient cannot create/delete topics (topics come from the catalog and --topic; metadata requests
            auto-create unknown topics with 4 partitions). Never call ListConsumerGroups, DescribeConsumerGroups or
            DeleteGroups against it: the client process crashes.
          * Classic groups: after the last member leaves, a new member waits the group's session.timeout.ms - 1 s
            (a client setting: 6000 -> 5 s, 3000 -> 2 s; measured); use short client session timeouts, unique group
            ids in tests, or group.protocol=consumer (whose broker-side timeouts --session-timeout-ms and
            --heartbeat-interval-ms set).
        """;

    private static int Main(string[] args)
    {
        if (args is ["bench", .. var benchArgs])
        {
            return Bench.Run(benchArgs);
        }

        Settings settings;
        try
        {
            settings = Settings.Parse(args);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"devbroker: {e.Message}");
            Console.Error.WriteLine("devbroker: see --help");
            return 2;
        }

        if (settings.Help)
        {
            Console.WriteLine(Usage);
            return 0;
        }

        using var stop = new ManualResetEventSlim();
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        MockCluster cluster;
        try
        {
            cluster = MockCluster.Start(new MockClusterOptions
            {
                BrokerCount = settings.Brokers,
                FixedBasePort = settings.BasePort == 0 ? null : settings.BasePort,
                Topics = settings.Topics,
                GroupConsumerSessionTimeoutMs = settings.SessionTimeoutMs,
                GroupConsumerHeartbeatIntervalMs = settings.HeartbeatIntervalMs,
            });
        }
        catch (Exception e) when (e is InvalidOperationException or System.Net.Sockets.SocketException or DllNotFoundException)
        {
            Console.Error.WriteLine($"devbroker: failed to start: {e.Message}");
            return 1;
        }

        using (cluster)
        {
            try
            {
                if (settings.BootstrapFile is { } file)
                {
                    WriteAtomically(file, cluster.BootstrapServers);
                }

                if (settings.ParentPid is { } parent)
                {
                    WatchParent(parent, stop);
                }

                Console.WriteLine(
                    $"devbroker ready: bootstrap={cluster.BootstrapServers} brokers={cluster.BrokerCount} " +
                    $"topics={settings.Topics.Count} pid={Environment.ProcessId}");
                stop.Wait();
            }
            finally
            {
                if (settings.BootstrapFile is { } file)
                {
                    File.Delete(file);
                }
            }
        }

        Console.WriteLine("devbroker stopped");
        return 0;

        void Stop(PosixSignalContext context)
        {
            // Handled here: the main thread disposes the cluster and removes the bootstrap file before exiting 0.
            context.Cancel = true;
            stop.Set();
        }
    }

    private static void WatchParent(int pid, ManualResetEventSlim stop) => _ = Task.Run(async () =>
    {
        while (!stop.IsSet)
        {
            try
            {
                using var parent = System.Diagnostics.Process.GetProcessById(pid);
                if (parent.HasExited)
                {
                    break;
                }
            }
            catch (ArgumentException)
            {
                break;
            }

            await Task.Delay(500);
        }

        Console.WriteLine($"devbroker: parent process {pid} is gone, stopping");
        stop.Set();
    });

    private static void WriteAtomically(string path, string content)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = $"{full}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temp, content + "\n");
        File.Move(temp, full, overwrite: true);
    }

    private sealed record Settings(
        int Brokers,
        int BasePort,
        string? BootstrapFile,
        IReadOnlyList<MockTopic> Topics,
        int? SessionTimeoutMs,
        int? HeartbeatIntervalMs,
        int? ParentPid,
        bool Help)
    {
        public static Settings Parse(string[] args)
        {
            var brokers = 3;
            var basePort = 19092;
            string? bootstrapFile = null;
            int? session = null, heartbeat = null, parent = null;
            var catalog = true;
            var help = false;
            var extra = new List<MockTopic>();
            for (var i = 0; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--brokers": brokers = Int(args, ref i, 1, 16); break;
                    case "--base-port": basePort = Int(args, ref i, 0, 65535 - 16); break;
                    case "--bootstrap-file": bootstrapFile = Value(args, ref i); break;
                    case "--topic": extra.Add(Topic(Value(args, ref i))); break;
                    case "--no-catalog": catalog = false; break;
                    case "--parent-pid": parent = Int(args, ref i, 1, int.MaxValue); break;
                    case "--session-timeout-ms": session = Int(args, ref i, 1, int.MaxValue); break;
                    case "--heartbeat-interval-ms": heartbeat = Int(args, ref i, 1, int.MaxValue); break;
                    case "--help" or "-h": help = true; break;
                    default: throw new FormatException($"unknown argument '{args[i]}'");
                }
            }

            var topics = new Dictionary<string, MockTopic>(StringComparer.Ordinal);
            if (catalog)
            {
                foreach (var spec in TopicCatalog.All)
                {
                    topics[spec.Name] = new MockTopic(spec.Name, spec.Partitions);
                }
            }

            foreach (var topic in extra)
            {
                topics[topic.Name] = topic;
            }

            return new Settings(brokers, basePort, bootstrapFile, [.. topics.Values], session, heartbeat, parent, help);
        }

        private static string Value(string[] args, ref int i) =>
            ++i < args.Length ? args[i] : throw new FormatException($"{args[i - 1]} needs a value");

        private static int Int(string[] args, ref int i, int min, int max)
        {
            var name = args[i];
            var text = Value(args, ref i);
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
                ? value
                : throw new FormatException($"{name} must be an integer in [{min}, {max}], got '{text}'");
        }

        private static MockTopic Topic(string text)
        {
            var colon = text.LastIndexOf(':');
            return colon > 0
                && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var partitions)
                && partitions >= 1
                ? new MockTopic(text[..colon], partitions)
                : throw new FormatException($"--topic expects NAME:PARTITIONS, got '{text}'");
        }
    }
}
