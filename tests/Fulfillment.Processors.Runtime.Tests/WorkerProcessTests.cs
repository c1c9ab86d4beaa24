using System.Diagnostics;
using Fulfillment.Testing;
using Xunit.Abstractions;

namespace Fulfillment.Processors.Runtime.Tests;

/// <summary>Separate worker processes against the development broker in this process.</summary>
[Collection(BrokerCollection.Name)]
public class WorkerProcessTests(DevBrokerFixture broker, ITestOutputHelper output)
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Restore_LocalStateWiped_RebuildsFromChangelogAndContinuesCorrectly()
    {
        using var scenario = new LedgerScenario(broker, partitions: 4, "restore");
        scenario.Produce(LedgerScenario.Entries(10_000, accounts: 40, seed: 2));
        using (var first = new WorkerProcess(scenario, "a"))
        {
            scenario.ReadDeduplicated(scenario.Output, scenario.Expected().Outputs.Count, TimeSpan.FromSeconds(60))
                .Count.ShouldBe(scenario.Expected().Outputs.Count, first.Log);
            await first.StopAsync(TimeSpan.FromSeconds(30));
            output.WriteLine(first.Log);
        }

        var stateDir = Path.Combine(scenario.StateRoot, "a");
        Directory.Exists(stateDir).ShouldBeTrue();
        Directory.Delete(stateDir, recursive: true);
        scenario.Produce(LedgerScenario.Entries(10_000, accounts: 40, seed: 3, start: 10_000));

        using var second = new WorkerProcess(scenario, "a");
        try
        {
            await second.WaitForLogAsync("Tasks assigned: 0,1,2,3", Startup);
            scenario.VerifyAgainstUninterruptedRun(TimeSpan.FromSeconds(60));
            second.Lines.Count(l => l.Contains("changelog records", StringComparison.Ordinal)).ShouldBe(4, second.Log);
            await second.StopAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            output.WriteLine(second.Log);
        }
    }

    [Fact]
    public async Task Rebalance_OneOfTwoWorkersKilled_OtherTakesOverWithCorrectState()
    {
        using var scenario = new LedgerScenario(broker, partitions: 6, "rebalance");
        using var a = new WorkerProcess(scenario, "a");
        using var b = new WorkerProcess(scenario, "b");
        try
        {
            await WorkerProcess.WaitForTasksAsync(Startup, (a, t => t.Count == 3), (b, t => t.Count == 3));
            scenario.Produce(LedgerScenario.Entries(12_000, accounts: 60, seed: 4));
            scenario.ReadDeduplicated(scenario.Output, scenario.Expected().Outputs.Count, TimeSpan.FromSeconds(60))
                .Count.ShouldBe(scenario.Expected().Outputs.Count);
            b.Kill();
            scenario.Produce(LedgerScenario.Entries(12_000, accounts: 60, seed: 5, start: 12_000));

            await WorkerProcess.WaitForTasksAsync(Startup, (a, t => t.Count == 6));
            scenario.VerifyAgainstUninterruptedRun(TimeSpan.FromSeconds(60));
            await a.StopAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            output.WriteLine(a.Log);
            output.WriteLine(b.Log);
        }
    }

    [Fact]
    public async Task IdleWorker_NoTraffic_UsesLessThanTwoPercentOfACore()
    {
        using var scenario = new LedgerScenario(broker, partitions: 8, "idle");
        using var worker = new WorkerProcess(scenario, "a");
        await worker.WaitForLogAsync("Tasks assigned", Startup);
        await Task.Delay(TimeSpan.FromSeconds(2));

        var cpuBefore = worker.CpuTime;
        var wall = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(5));
        var share = (worker.CpuTime - cpuBefore) / wall.Elapsed;

        output.WriteLine($"idle worker CPU: {share:P2} of a core");
        share.ShouldBeLessThan(0.02);
        await worker.StopAsync(TimeSpan.FromSeconds(30));
    }
}
