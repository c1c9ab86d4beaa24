using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Fulfillment.Processors.Runtime.State;
using Fulfillment.Processors.Runtime.TestWorker;
using Fulfillment.DevBroker;
using Fulfillment.Testing;

namespace Fulfillment.Processors.Runtime.Tests;

[CollectionDefinition(Name)]
public sealed class BrokerCollection : ICollectionFixture<DevBrokerFixture>
{
    public const string Name = "dev broker";
}

/// <summary>One ledger run on the development broker: unique topics, a deterministic entry stream, the expected result
/// from the in-memory driver, and readers for what the workers produced.</summary>
internal sealed class LedgerScenario : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly MockCluster _cluster;
    private readonly List<(string Key, byte[] Value)> _entries = [];

    public LedgerScenario(DevBrokerFixture broker, int partitions, string name)
        : this(broker.Cluster, partitions, name, Guid.NewGuid().ToString("N")[..8])
    {
    }

    /// <summary>A scenario on <paramref name="cluster"/> with topic names fixed by <paramref name="suffix"/> (to replay
    /// the same names on a fresh broker).</summary>
    public LedgerScenario(MockCluster cluster, int partitions, string name, string suffix)
    {
        _cluster = cluster;
        Partitions = partitions;
        App = $"{name}-{suffix}";
        Input = $"in-{suffix}";
        Output = $"out-{suffix}";
        DeadLetter = $"dlq-{suffix}";
        Ledger = LedgerTopology.Build(App, Input, Output, DeadLetter);
        foreach (var topic in new[] { Input, Output, DeadLetter }.Concat(Ledger.Topology.StoreNames.Select(Ledger.Topology.ChangelogTopic)))
        {
            cluster.CreateTopic(topic, partitions);
        }

        StateRoot = Path.Combine(Path.GetTempPath(), "rt-it-" + App);
    }

    public int Partitions { get; }

    public string App { get; }

    public string Input { get; }

    public string Output { get; }

    public string DeadLetter { get; }

    public string StateRoot { get; }

    public LedgerHandles Ledger { get; }

    public string Bootstrap => _cluster.BootstrapServers;

    public int Produced => _entries.Count;

    /// <summary>Entries for <paramref name="accounts"/> accounts from a seeded generator; every 5,003rd value is
    /// malformed (dead-letter: deserialization) and every 7,919th is the poison amount (dead-letter: handler).</summary>
    public static IEnumerable<(string Key, byte[] Value)> Entries(int count, int accounts, int seed, int start = 0)
    {
        var random = new Random(seed);
        for (var i = start; i < start + count; i++)
        {
            var key = $"acct-{random.Next(accounts)}";
            var amount = random.Next(-100, 101);
            if (i % 5003 == 5002)
            {
                yield return (key, [1, 2, 3]);
            }
            else if (i % 7919 == 7918)
            {
                yield return (key, Serdes.Int64.Serialize(LedgerTopology.PoisonAmount)!);
            }
            else
            {
                yield return (key, Serdes.Int64.Serialize(amount)!);
            }
        }
    }

    /// <summary>Produces entries in order (one idempotent producer keeps per-partition order), optionally paced.</summary>
    public void Produce(IEnumerable<(string Key, byte[] Value)> entries, double? perSecond = null, CancellationToken cancellationToken = default)
    {
        var config = new ProducerConfig
        {
            BootstrapServers = Bootstrap,
            Partitioner = Confluent.Kafka.Partitioner.Murmur2Random,
            LingerMs = 5,
            Acks = Acks.All,
            EnableIdempotence = true,
            CompressionType = CompressionType.Lz4,
        };
        using var producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        var started = Stopwatch.StartNew();
        var sent = 0;
        foreach (var (key, value) in entries)
        {
            var timestamp = T0.AddMilliseconds(_entries.Count);
            _entries.Add((key, value));
            while (true)
            {
                try
                {
                    producer.Produce(Input, new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = value, Timestamp = new Timestamp(timestamp) });
                    break;
                }
                catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(20));
                }
            }

            sent++;
            if (perSecond is { } rate && sent % 100 == 0)
            {
                var due = TimeSpan.FromSeconds(sent / rate) - started.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    Thread.Sleep(due);
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
        }

        producer.Flush(TimeSpan.FromSeconds(60)).ShouldBe(0);
    }

    /// <summary>What an uninterrupted run produces: the driver fed the same per-partition sequences.</summary>
    public (Dictionary<string, OutputRecord> Outputs, Dictionary<string, OutputRecord> DeadLetters, List<(string, long)> Balances, List<(string, long)> Counts) Expected()
    {
        using var driver = new TopologyTestDriver(Ledger.Topology, Partitions);
        for (var i = 0; i < _entries.Count; i++)
        {
            driver.PipeRaw(Input, Encoding.UTF8.GetBytes(_entries[i].Key), _entries[i].Value, T0.AddMilliseconds(i));
        }

        return (
            driver.ReadOutput(Output).ToDictionary(r => r.EventId!),
            driver.ReadOutput(DeadLetter).ToDictionary(r => r.EventId!),
            [.. driver.ReadStore(Ledger.Balances).Select(p => (p.Key, p.Value)).Order()],
            [.. driver.ReadStore(Ledger.Counts).Select(p => (p.Key, p.Value)).Order()]);
    }

    /// <summary>Reads a topic from the start until <paramref name="distinctIds"/> distinct event ids are seen, deduplicating
    /// by id. Fails on a duplicate id with a different key/value, and if retention dropped anything (low watermark above 0).</summary>
    public Dictionary<string, OutputRecord> ReadDeduplicated(string topic, int distinctIds, TimeSpan timeout)
    {
        var config = ConsumerConfig();
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        var partitions = Enumerable.Range(0, Partitions).Select(p => new TopicPartition(topic, p)).ToList();
        consumer.Assign(partitions.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        var seen = new Dictionary<string, OutputRecord>();
        var deadline = Stopwatch.StartNew();
        while (seen.Count < distinctIds && deadline.Elapsed < timeout)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null)
            {
                continue;
            }

            var headers = result.Message.Headers.Select(h => new RecordHeader(h.Key, h.GetValueBytes())).ToList();
            var record = new OutputRecord(topic, result.Message.Key, result.Message.Value, headers, result.Message.Timestamp.UtcDateTime);
            var id = record.EventId.ShouldNotBeNull();
            if (seen.TryGetValue(id, out var previous))
            {
                previous.Key.ShouldBe(record.Key, $"event {id} re-emitted with another key");
                previous.Value.ShouldBe(record.Value, $"event {id} re-emitted with another value");
            }
            else
            {
                seen[id] = record;
            }
        }

        foreach (var tp in partitions)
        {
            consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5)).Low.Value.ShouldBe(0, $"{tp} lost records to retention");
        }

        return seen;
    }

    /// <summary>Per output partition and source task (from the event id), the event ids in the order
    /// <paramref name="records"/> lists them; one line per (partition, task), sorted, for comparison.</summary>
    public static List<string> SequencesByTask(IEnumerable<(int Partition, string EventId)> records) =>
    [
        .. records
            .GroupBy(r => (r.Partition, Task: SourceTask(r.EventId)))
            .Select(g => $"{g.Key.Partition}/{g.Key.Task}: {string.Join(",", g.Select(r => r.EventId).Distinct())}")
            .Order(StringComparer.Ordinal),
    ];

    /// <summary>The same for records as emitted (partitioned by key, murmur2, like the producer does).</summary>
    public static List<string> SequencesByTask(IEnumerable<OutputRecord> emitted, int partitions) =>
        SequencesByTask(emitted.Select(r => (Murmur2.Partition(r.Key!, partitions), r.EventId!)));

    /// <summary>Reads every partition of <paramref name="topic"/> in offset order until <paramref name="distinctIds"/>
    /// distinct event ids are seen, and groups them like <see cref="SequencesByTask(IEnumerable{ValueTuple{int, string}})"/>.</summary>
    public List<string> OutputSequencesByTask(string topic, int distinctIds, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(ConsumerConfig()).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var read = new List<(int, string)>();
        var ids = new HashSet<string>();
        var deadline = Stopwatch.StartNew();
        while (ids.Count < distinctIds && deadline.Elapsed < timeout)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } result)
            {
                var id = Encoding.UTF8.GetString(result.Message.Headers.GetLastBytes(RuntimeHeaders.EventId));
                ids.Add(id);
                read.Add((result.Partition.Value, id));
            }
        }

        return SequencesByTask(read);
    }

    /// <summary>The input partition an event id <c>{topic}-{partition}@{offset}#{n}</c> came from.</summary>
    private static int SourceTask(string eventId)
    {
        var at = eventId.IndexOf('@', StringComparison.Ordinal);
        var dash = eventId.LastIndexOf('-', at);
        return int.Parse(eventId.AsSpan(dash + 1, at - dash - 1), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The stores as the changelogs hold them (what any new owner would restore).</summary>
    public (List<(string, long)> Balances, List<(string, long)> Counts) RestoreFromChangelogs()
    {
        var balances = new List<(string, long)>();
        var counts = new List<(string, long)>();
        var config = ConsumerConfig();
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        for (var p = 0; p < Partitions; p++)
        {
            var restorer = new ChangelogRestorer(2, requireMarkers: true);
            foreach (var store in Ledger.Topology.Stores)
            {
                var tp = new TopicPartition(Ledger.Topology.ChangelogTopic(store.Name), p);
                var marks = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5));
                marks.Low.Value.ShouldBe(0, $"{tp} lost records to retention");
                if (marks.High.Value == 0)
                {
                    continue;
                }

                consumer.Assign(new TopicPartitionOffset(tp, 0));
                while (consumer.Position(tp).Value < marks.High.Value)
                {
                    if (consumer.Consume(TimeSpan.FromSeconds(1)) is { } r)
                    {
                        restorer.Add(store.Index, r.Message.Key, r.Message.Value, [.. r.Message.Headers.Select(h => new RecordHeader(h.Key, h.GetValueBytes()))]);
                    }
                }

                consumer.Unassign();
            }

            var result = restorer.Complete();
            balances.AddRange(result.Writes[0].Where(w => w.Value is not null).Select(w => (Encoding.UTF8.GetString(w.Key), Serdes.Int64.Deserialize(w.Value))));
            counts.AddRange(result.Writes[1].Where(w => w.Value is not null).Select(w => (Encoding.UTF8.GetString(w.Key), Serdes.Int64.Deserialize(w.Value))));
        }

        return ([.. balances.Order()], [.. counts.Order()]);
    }

    /// <summary>Asserts the deduplicated outputs, dead letters and changelog state equal the uninterrupted run.</summary>
    public void VerifyAgainstUninterruptedRun(TimeSpan timeout)
    {
        var expected = Expected();
        var outputs = ReadDeduplicated(Output, expected.Outputs.Count, timeout);
        var deadLetters = ReadDeduplicated(DeadLetter, expected.DeadLetters.Count, TimeSpan.FromSeconds(30));
        outputs.Count.ShouldBe(expected.Outputs.Count);
        foreach (var (id, record) in expected.Outputs)
        {
            outputs.TryGetValue(id, out var actual).ShouldBeTrue($"missing output {id}");
            actual!.Key.ShouldBe(record.Key, id);
            actual.Value.ShouldBe(record.Value, id);
        }

        deadLetters.Keys.Order().ShouldBe(expected.DeadLetters.Keys.Order());
        var state = RestoreFromChangelogs();
        state.Balances.ShouldBe(expected.Balances);
        state.Counts.ShouldBe(expected.Counts);
    }

    private ConsumerConfig ConsumerConfig() => new()
    {
        BootstrapServers = Bootstrap,
        GroupId = "verify-" + Guid.NewGuid().ToString("N"),
        EnableAutoCommit = false,
    };

    public void Dispose()
    {
        if (Directory.Exists(StateRoot))
        {
            Directory.Delete(StateRoot, recursive: true);
        }
    }
}

/// <summary>A TestWorker process running the ledger topology.</summary>
internal sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    public WorkerProcess(LedgerScenario scenario, string instance, string? stateDir = null, string sessionTimeoutMs = "3000")
    {
        Instance = instance;
        StateDir = stateDir ?? Path.Combine(scenario.StateRoot, instance);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            WorkerDll, "--bootstrap", scenario.Bootstrap, "--app", scenario.App, "--input", scenario.Input, "--output", scenario.Output,
            "--dlq", scenario.DeadLetter, "--state", StateDir, "--instance", instance, "--session-timeout-ms", sessionTimeoutMs,
        })
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the worker.");
        _process.OutputDataReceived += (_, e) => Collect(e.Data);
        _process.ErrorDataReceived += (_, e) => Collect(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Instance { get; }

    public string StateDir { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> Lines => [.. _lines];

    public string Log => string.Join('\n', _lines);

    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    private static string WorkerDll
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var configuration = dir.Parent!.Name;
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Fulfillment.Streams.sln")))
            {
                dir = dir.Parent;
            }

            return Path.Combine(dir!.FullName, "tests", "Fulfillment.Processors.Runtime.TestWorker", "bin", configuration, "net10.0",
                "Fulfillment.Processors.Runtime.TestWorker.dll");
        }
    }

    private void Collect(string? line)
    {
        if (line is not null)
        {
            _lines.Enqueue($"[{Instance}] {line}");
        }
    }

    /// <summary>Waits until the log has a line containing <paramref name="text"/> after line <paramref name="fromLine"/>.</summary>
    public async Task WaitForLogAsync(string text, TimeSpan timeout, int fromLine = 0)
    {
        var deadline = Stopwatch.StartNew();
        while (!_lines.Skip(fromLine).Any(l => l.Contains(text, StringComparison.Ordinal)))
        {
            if (_process.HasExited && !_lines.Skip(fromLine).Any(l => l.Contains(text, StringComparison.Ordinal)))
            {
                throw new InvalidOperationException($"Worker {Instance} exited ({_process.ExitCode}) before logging '{text}':\n{Log}");
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"Worker {Instance} did not log '{text}' within {timeout}:\n{Log}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The tasks the worker holds per its log: the last assignment, or none if revoked/lost since.</summary>
    public IReadOnlySet<int> CurrentTasks
    {
        get
        {
            var last = _lines.LastOrDefault(l => l.Contains("Tasks assigned:", StringComparison.Ordinal)
                || l.Contains("Tasks revoked", StringComparison.Ordinal) || l.Contains("Tasks lost", StringComparison.Ordinal));
            if (last is null || !last.Contains("Tasks assigned:", StringComparison.Ordinal))
            {
                return new HashSet<int>();
            }

            var list = last[(last.IndexOf("Tasks assigned:", StringComparison.Ordinal) + "Tasks assigned:".Length)..].Split(" (")[0].Trim();
            return list.Length == 0 ? new HashSet<int>() : list.Split(',').Select(x => int.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        }
    }

    /// <summary>Waits until the workers' current tasks are exactly <paramref name="expected"/> each.</summary>
    public static async Task WaitForTasksAsync(TimeSpan timeout, params (WorkerProcess Worker, Func<IReadOnlySet<int>, bool> Expected)[] workers)
    {
        var deadline = Stopwatch.StartNew();
        while (!workers.All(w => w.Expected(w.Worker.CurrentTasks)))
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"Task assignment not reached within {timeout}:\n{string.Join('\n', workers.Select(w => w.Worker.Log))}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL: no commit, no leave-group, native state as the kernel left it.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
    }

    /// <summary>SIGTERM: the worker commits, leaves the group and exits 0.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            _process.ExitCode.ShouldBe(0, Log);
            return;
        }

        using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.ExitCode.ShouldBe(0, Log);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
