using Confluent.Kafka;
using Fulfillment.Schemas.Topics;
using Fulfillment.Testing;

namespace Fulfillment.Ops.Tests.DevBroker;

/// <summary>The development broker executable, as the ops tooling runs it: fixed ports, bootstrap file, catalog topics.</summary>
public sealed class DevBrokerProcessTests : IClassFixture<DevBrokerProcessTests.RunningBroker>
{
    private const string ExtraTopic = "devbroker-extra";
    private const int ExtraPartitions = 6;
    private readonly RunningBroker _broker;

    public DevBrokerProcessTests(RunningBroker broker) => _broker = broker;

    [Fact]
    public void Start_WithBootstrapFile_FileListsTheFixedPorts()
    {
        File.ReadAllText(_broker.BootstrapFile).Trim().ShouldBe(_broker.ExpectedBootstrap);
    }

    [Fact]
    public void Start_Default_CreatesEveryCatalogTopicAndExtraTopicsWithTheirPartitionCounts()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _broker.ExpectedBootstrap }).Build();
        var expected = TopicCatalog.All.ToDictionary(t => t.Name, t => t.Partitions);
        expected[ExtraTopic] = ExtraPartitions;

        // Per-topic metadata requests would auto-create missing topics (with 4 partitions); list all instead.
        var actual = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.ToDictionary(t => t.Topic, t => t.Partitions.Count);

        foreach (var (name, partitions) in expected)
        {
            actual.ShouldContainKey(name);
            actual[name].ShouldBe(partitions, name);
        }
    }

    [Fact]
    public void Metadata_FromFixedPort_AdvertisesFixedPortsForEveryBroker()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _broker.ExpectedBootstrap }).Build();

        var brokers = admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers;

        brokers.Select(b => (b.Host, b.Port)).OrderBy(b => b.Port)
            .ShouldBe(Enumerable.Range(_broker.BasePort, 3).Select(p => ("127.0.0.1", p)));
    }

    [Fact]
    public async Task ProduceConsume_ThroughFixedPorts_KeysHeadersAndValuesRoundTrip()
    {
        var config = new ProducerConfig { BootstrapServers = _broker.ExpectedBootstrap, Partitioner = Partitioner.Murmur2Random };
        using (var producer = new ProducerBuilder<string, string>(config).Build())
        {
            for (var i = 0; i < 60; i++)
            {
                var result = await producer.ProduceAsync(ExtraTopic, new Message<string, string>
                {
                    Key = $"key-{i}",
                    Value = $"value-{i}",
                    Headers = [new Header("trace", BitConverter.GetBytes(i))],
                });
                result.Status.ShouldBe(PersistenceStatus.Persisted);
            }
        }

        using var consumer = new ConsumerBuilder<string, string>(ConsumerConfig()).Build();
        consumer.Subscribe(ExtraTopic);
        var seen = new Dictionary<string, (string Value, int Trace)>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (seen.Count < 60 && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } r && r.Message.Key.StartsWith("key-", StringComparison.Ordinal))
            {
                seen[r.Message.Key] = (r.Message.Value, BitConverter.ToInt32(r.Message.Headers.GetLastBytes("trace")));
            }
        }

        consumer.Close();
        seen.Count.ShouldBe(60);
        for (var i = 0; i < 60; i++)
        {
            seen[$"key-{i}"].ShouldBe(($"value-{i}", i));
        }
    }

    [Fact]
    public void ClassicGroup_TwoConsumers_ShareAllPartitionsWithoutOverlap()
    {
        var group = DevBrokerFixture.UniqueName("classic");
        using var first = new ConsumerBuilder<Ignore, Ignore>(ConsumerConfig(group)).Build();
        using var second = new ConsumerBuilder<Ignore, Ignore>(ConsumerConfig(group)).Build();
        first.Subscribe(ExtraTopic);
        second.Subscribe(ExtraTopic);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !(first.Assignment.Count > 0 && second.Assignment.Count > 0
            && first.Assignment.Count + second.Assignment.Count == ExtraPartitions))
        {
            // Both members must keep polling for the rebalance to complete.
            first.Consume(TimeSpan.FromMilliseconds(100));
            second.Consume(TimeSpan.FromMilliseconds(100));
        }

        first.Assignment.ShouldNotBeEmpty();
        second.Assignment.ShouldNotBeEmpty();
        first.Assignment.Concat(second.Assignment).Select(tp => tp.Partition.Value).Order()
            .ShouldBe(Enumerable.Range(0, ExtraPartitions));
        first.Close();
        second.Close();
    }

    [Fact]
    public async Task Sigterm_RunningBroker_ExitsZeroRemovesBootstrapFileAndFreesPorts()
    {
        await using var broker = await RunningBroker.StartAsync();

        broker.Process.Terminate();
        var exitCode = await broker.Process.WaitForExitAsync(TimeSpan.FromSeconds(20));

        exitCode.ShouldBe(0, broker.Process.Output);
        File.Exists(broker.BootstrapFile).ShouldBeFalse();
        Enumerable.Range(broker.BasePort, 3).ShouldAllBe(port => FreePorts.IsFree(port));
    }

    [Fact]
    public async Task ParentPid_ParentKilled_BrokerStopsCleanly()
    {
        using var parent = ProcessRunner.Start("/bin/sh", ["-c", "echo up; exec sleep 300"]);
        await parent.WaitForLineAsync(line => line == "up", TimeSpan.FromSeconds(10));
        var file = Path.Combine(Path.GetTempPath(), $"devbroker-{Guid.NewGuid():N}.bootstrap");
        using var broker = ProcessRunner.Start(RunningBroker.Executable,
            ["--brokers", "1", "--base-port", "0", "--no-catalog", "--bootstrap-file", file, "--parent-pid", $"{parent.Id}"]);
        await broker.WaitForLineAsync(line => line.StartsWith("devbroker ready", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        File.Exists(file).ShouldBeTrue();

        parent.Kill();
        var exitCode = await broker.WaitForExitAsync(TimeSpan.FromSeconds(20));

        exitCode.ShouldBe(0, broker.Output);
        File.Exists(file).ShouldBeFalse();
    }

    [Fact]
    public async Task Start_BasePortInUse_ExitsNonZeroWithoutBootstrapFile()
    {
        var port = FreePorts.ConsecutiveRange(3);
        using var squatter = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port + 1);
        squatter.Start();
        var file = Path.Combine(Path.GetTempPath(), $"devbroker-{Guid.NewGuid():N}.bootstrap");
        using var process = ProcessRunner.Start(RunningBroker.Executable, ["--base-port", $"{port}", "--bootstrap-file", file]);

        var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(20));

        exitCode.ShouldBe(1, process.Output);
        process.Output.ShouldContain("failed to start");
        File.Exists(file).ShouldBeFalse();
    }

    private ConsumerConfig ConsumerConfig(string? group = null) => new()
    {
        BootstrapServers = _broker.ExpectedBootstrap,
        GroupId = group ?? DevBrokerFixture.UniqueName("proc"),
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = false,
        SessionTimeoutMs = 6000,
        HeartbeatIntervalMs = 500,
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range,
    };

    /// <summary>One broker process (3 brokers on free fixed ports) shared by the tests of this class.</summary>
    public sealed class RunningBroker : IAsyncLifetime, IAsyncDisposable
    {
        public static string Executable => Path.Combine(AppContext.BaseDirectory, "Fulfillment.DevBroker");

        public ProcessRunner Process { get; private set; } = null!;

        public int BasePort { get; private set; }

        public string BootstrapFile { get; } = Path.Combine(Path.GetTempPath(), $"devbroker-{Guid.NewGuid():N}.bootstrap");

        public string ExpectedBootstrap => string.Join(',', Enumerable.Range(BasePort, 3).Select(p => $"127.0.0.1:{p}"));

        public static async Task<RunningBroker> StartAsync()
        {
            var broker = new RunningBroker();
            await broker.InitializeAsync();
            return broker;
        }

        public async Task InitializeAsync()
        {
            BasePort = FreePorts.ConsecutiveRange(3);
            Process = ProcessRunner.Start(Executable, [
                "--brokers", "3", "--base-port", $"{BasePort}", "--bootstrap-file", BootstrapFile,
                "--topic", $"{ExtraTopic}:{ExtraPartitions}",
            ]);
            await Process.WaitForLineAsync(line => line.StartsWith("devbroker ready", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        }

        public Task DisposeAsync()
        {
            Process.Dispose();
            File.Delete(BootstrapFile);
            return Task.CompletedTask;
        }

        async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
    }
}
