using System.Diagnostics;
using Fulfillment.Testing;
using Xunit.Abstractions;

namespace Fulfillment.Processors.Runtime.Tests;

[Collection(BrokerCollection.Name)]
public class FaultInjectionTests(DevBrokerFixture broker, ITestOutputHelper output)
{
    /// <summary>
    /// 200,000 ledger entries on 12 partitions while worker processes are SIGKILLed at random moments and restarted
    /// (six kills, one of them of the second worker), and a second worker joins and later leaves. The deduplicated
    /// output, the dead letters and the state in the changelogs must equal the in-memory driver's uninterrupted run.
    /// The seed of the kill schedule is printed so a failure can be replayed.
    /// </summary>
    [Fact]
    public async Task FaultInjection_WorkersKilledJoiningAndLeaving_ResultEqualsUninterruptedRun()
    {
        const int total = 200_000;
        var seed = Environment.GetEnvironmentVariable("RUNTIME_FAULT_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
        var random = new Random(seed);
        output.WriteLine($"fault schedule seed {seed}");
        using var scenario = new LedgerScenario(broker, partitions: 12, "faults");
        var all = new List<WorkerProcess>();
        var clock = Stopwatch.StartNew();

        WorkerProcess Start(string instance)
        {
            var worker = new WorkerProcess(scenario, instance);
            all.Add(worker);
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s start {instance} (pid {worker.Pid})");
            return worker;
        }

        WorkerProcess KillAndRestart(WorkerProcess worker)
        {
            worker.HasExited.ShouldBeFalse($"worker {worker.Instance} died on its own:\n{worker.Log}");
            worker.Kill();
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s SIGKILL {worker.Instance}");
            return Start(worker.Instance);
        }

        Task Pause() => Task.Delay(random.Next(2500, 6000));

        try
        {
            var a = Start("a");
            await WorkerProcess.WaitForTasksAsync(TimeSpan.FromSeconds(60), (a, t => t.Count == 12));
            var producing = Task.Run(() => scenario.Produce(LedgerScenario.Entries(total, accounts: 500, seed: seed), perSecond: 5000));

            await Pause();
            a = KillAndRestart(a);
            await Pause();
            var b = Start("b");
            await Pause();
            a = KillAndRestart(a);
            await Pause();
            b = KillAndRestart(b);
            await Pause();
            a = KillAndRestart(a);
            await Pause();
            b.HasExited.ShouldBeFalse(b.Log);
            await b.StopAsync(TimeSpan.FromSeconds(30));
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s b left (SIGTERM)");
            await Pause();
            a = KillAndRestart(a);
            await Pause();
            a = KillAndRestart(a);

            await producing;
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s produced {scenario.Produced}");
            scenario.VerifyAgainstUninterruptedRun(TimeSpan.FromSeconds(180));
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s verified");
            a.HasExited.ShouldBeFalse(a.Log);
            await a.StopAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            foreach (var worker in all)
            {
                worker.Dispose();
                foreach (var line in worker.Lines.Where(l => !l.Contains("dead-lettered", StringComparison.Ordinal) && !l.StartsWith($"[{worker.Instance}]       at ", StringComparison.Ordinal)))
                {
                    output.WriteLine(line);
                }
            }
        }
    }
}
