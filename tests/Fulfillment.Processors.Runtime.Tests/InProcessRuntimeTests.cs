using Fulfillment.Processors.Runtime.State;
using Fulfillment.Testing;

namespace Fulfillment.Processors.Runtime.Tests;

[Collection(BrokerCollection.Name)]
public class InProcessRuntimeTests(DevBrokerFixture broker)
{
    [Fact]
    public async Task Runtime_LedgerOnDevBroker_OutputAndChangelogStateEqualTheDriver()
    {
        using var scenario = new LedgerScenario(broker, partitions: 4, "inproc");
        scenario.Produce(LedgerScenario.Entries(20_000, accounts: 50, seed: 1));
        var runtime = new StreamRuntime(scenario.Ledger.Topology, new StreamRuntimeOptions
        {
            BootstrapServers = scenario.Bootstrap,
            StorageFactory = new RocksDbTaskStorageFactory(scenario.StateRoot),
            SessionTimeout = TimeSpan.FromSeconds(3),
            CommitInterval = TimeSpan.FromMilliseconds(200),
        });
        using var stop = new CancellationTokenSource();
        var run = runtime.RunAsync(stop.Token);

        scenario.VerifyAgainstUninterruptedRun(TimeSpan.FromSeconds(60));

        await stop.CancelAsync();
        await run;
        runtime.EffectiveGuarantee.ShouldBe(ProcessingGuarantee.AtLeastOnceIdempotent);
    }
}
