using Fulfillment.DevBroker;
using Fulfillment.Processors.Runtime.State;
using Fulfillment.Testing;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Fulfillment.Processors.Runtime.Tests;

[Collection(BrokerCollection.Name)]
public class InProcessRuntimeTests(DevBrokerFixture broker, ITestOutputHelper output)
{
    private static StreamRuntime Runtime(LedgerScenario scenario, ProcessingGuarantee guarantee, StaleStateHandling onStale = StaleStateHandling.Rebuild) =>
        new(scenario.Ledger.Topology, new StreamRuntimeOptions
        {
            BootstrapServers = scenario.Bootstrap,
            StorageFactory = new RocksDbTaskStorageFactory(scenario.StateRoot),
            Guarantee = guarantee,
            OnStaleState = onStale,
            SessionTimeout = TimeSpan.FromSeconds(3),
            CommitInterval = TimeSpan.FromMilliseconds(200),
        });

    [Theory]
    [InlineData(ProcessingGuarantee.Auto, ProcessingGuarantee.AtLeastOnceIdempotent)]
    [InlineData(ProcessingGuarantee.ExactlyOnceV2, ProcessingGuarantee.ExactlyOnceV2)]
    public async Task Runtime_LedgerOnDevBroker_OutputAndChangelogStateEqualTheDriver(ProcessingGuarantee configured, ProcessingGuarantee effective)
    {
        using var scenario = new LedgerScenario(broker, partitions: 4, "inproc");
        scenario.Produce(LedgerScenario.Entries(20_000, accounts: 50, seed: 1));
        var runtime = Runtime(scenario, configured);
        using var stop = new CancellationTokenSource();
        var run = runtime.RunAsync(stop.Token);

        scenario.VerifyAgainstUninterruptedRun(TimeSpan.FromSeconds(60));

        await stop.CancelAsync();
        await run;
        runtime.EffectiveGuarantee.ShouldBe(effective);
    }

    [Theory]
    [InlineData(ProcessingGuarantee.AtLeastOnceIdempotent)]
    [InlineData(ProcessingGuarantee.ExactlyOnceV2)]
    public async Task Runtime_FourProcessingThreads_OutputsStoresAndPerTaskOrderEqualTheSingleThreadedRun(ProcessingGuarantee guarantee)
    {
        // 8 tasks on 4 threads; the driver is the single-threaded reference (same per-partition record sequences).
        using var scenario = new LedgerScenario(broker, partitions: 8, "threads");
        scenario.Produce(LedgerScenario.Entries(20_000, accounts: 64, seed: 5));
        var runtime = new StreamRuntime(scenario.Ledger.Topology, new StreamRuntimeOptions
        {
            BootstrapServers = scenario.Bootstrap,
            StorageFactory = new RocksDbTaskStorageFactory(scenario.StateRoot),
            Guarantee = guarantee,
            SessionTimeout = TimeSpan.FromSeconds(3),
            CommitInterval = TimeSpan.FromMilliseconds(200),
            ProcessingThreads = 4,
        });
        using var stop = new CancellationTokenSource();
        var run = runtime.RunAsync(stop.Token);

        // Byte-identical outputs (key, value per event id), dead letters and changelog state.
        scenario.VerifyAgainstUninterruptedRun(TimeSpan.FromSeconds(90));
        // And each output partition holds each task's outputs in the task's order, exactly as one thread emits them.
        var expected = scenario.Expected().Outputs.Values.ToList();
        scenario.OutputSequencesByTask(scenario.Output, expected.Count, TimeSpan.FromSeconds(30))
            .ShouldBe(LedgerScenario.SequencesByTask(expected, scenario.Partitions));

        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Runtime_LocalStateAheadOfAFreshBroker_WipesAndRebuildsFromTheNewBroker()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var stateRoot = Path.Combine(Path.GetTempPath(), "rt-stale-" + suffix);
        using (var first = MockCluster.Start())
        {
            using var old = new LedgerScenario(first, 2, "fresh", suffix);
            old.Produce(LedgerScenario.Entries(5_000, accounts: 20, seed: 8));
            await RunUntilVerified(old, stateRoot, new TestLogger(output));
        }

        using var fresh = MockCluster.Start();
        using var scenario = new LedgerScenario(fresh, 2, "fresh", suffix);
        scenario.Produce(LedgerScenario.Entries(1_000, accounts: 20, seed: 9));
        var logger = new TestLogger(output);
        await RunUntilVerified(scenario, stateRoot, logger);
        logger.Lines.Count(l => l.Contains("the broker looks fresh", StringComparison.Ordinal)).ShouldBe(2);
        Directory.Delete(stateRoot, recursive: true);
    }

    [Fact]
    public async Task Runtime_LocalStateAheadOfAFreshBrokerWithFailPolicy_StopsWithAnError()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var stateRoot = Path.Combine(Path.GetTempPath(), "rt-stale-" + suffix);
        using (var first = MockCluster.Start())
        {
            using var old = new LedgerScenario(first, 2, "fail", suffix);
            old.Produce(LedgerScenario.Entries(2_000, accounts: 20, seed: 8));
            await RunUntilVerified(old, stateRoot, new TestLogger(output));
        }

        using var fresh = MockCluster.Start();
        using var scenario = new LedgerScenario(fresh, 2, "fail", suffix);
        scenario.Produce(LedgerScenario.Entries(100, accounts: 20, seed: 9));
        var runtime = new StreamRuntime(scenario.Ledger.Topology, new StreamRuntimeOptions
        {
            BootstrapServers = scenario.Bootstrap,
            StorageFactory = new RocksDbTaskStorageFactory(stateRoot),
            OnStaleState = StaleStateHandling.Fail,
            SessionTimeout = TimeSpan.FromSeconds(3),
        }, new TestLogger(output));

        var error = await Should.ThrowAsync<StreamRuntimeException>(() => runtime.RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60)));
        error.Message.ShouldContain("ahead of the broker");
        Directory.Delete(stateRoot, recursive: true);
    }

    private static async Task RunUntilVerified(LedgerScenario scenario, string stateRoot, TestLogger logger)
    {
        var runtime = new StreamRuntime(scenario.Ledger.Topology, new StreamRuntimeOptions
        {
            BootstrapServers = scenario.Bootstrap,
            StorageFactory = new RocksDbTaskStorageFactory(stateRoot),
            SessionTimeout = TimeSpan.FromSeconds(3),
            CommitInterval = TimeSpan.FromMilliseconds(200),
        }, logger);
        using var stop = new CancellationTokenSource();
        var run = runtime.RunAsync(stop.Token);
        scenario.VerifyAgainstUninterruptedRun(TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        await run;
    }
}

internal sealed class TestLogger(ITestOutputHelper output) : ILogger<StreamRuntime>
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel}: {formatter(state, exception)} {exception?.Message}";
        _lines.Enqueue(line);
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test already finished.
        }
    }
}
