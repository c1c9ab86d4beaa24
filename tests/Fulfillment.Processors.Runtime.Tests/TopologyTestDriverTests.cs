using CsCheck;
using System.Text;
using Fulfillment.Processors.Runtime.TestWorker;

namespace Fulfillment.Processors.Runtime.Tests;

public class TopologyTestDriverTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static LedgerHandles Ledger() => LedgerTopology.Build("ledger", "entries", "balances-out", "ledger-dlq");

    [Fact]
    public void Ledger_SeveralEntries_ForwardsRunningBalancesAndStoresThem()
    {
        var ledger = Ledger();
        using var driver = new TopologyTestDriver(ledger.Topology);

        driver.Pipe(ledger.Input, "a", 10, T0);
        driver.Pipe(ledger.Input, "b", 5, T0);
        driver.Pipe(ledger.Input, "a", -3, T0);

        driver.ReadOutput(ledger.Output).ShouldBe(
        [
            new("a", (10L, 1L)),
            new("b", (5L, 1L)),
            new("a", (7L, 2L)),
        ]);
        driver.ReadStore(ledger.Balances).ShouldBe([new("a", 7L), new("b", 5L)]);
        driver.ReadStore(ledger.Counts).ShouldBe([new("a", 2L), new("b", 1L)]);
    }

    [Fact]
    public void Forward_WithoutExplicitId_DerivesEventIdFromInputCoordinates()
    {
        var ledger = Ledger();
        using var driver = new TopologyTestDriver(ledger.Topology);

        driver.Pipe(ledger.Input, "a", 1, T0);
        driver.Pipe(ledger.Input, "a", 2, T0);

        driver.ReadOutput("balances-out").Select(r => r.EventId).ShouldBe(["entries-0@0#0", "entries-0@1#0"]);
    }

    [Fact]
    public void Pipe_ValueThatDoesNotDeserialize_GoesToDeadLetterWithReasonAndPartitionContinues()
    {
        var ledger = Ledger();
        using var driver = new TopologyTestDriver(ledger.Topology);

        driver.PipeRaw("entries", Encoding.UTF8.GetBytes("a"), [1, 2, 3], T0);
        driver.Pipe(ledger.Input, "a", 4, T0);

        var dead = driver.ReadOutput("ledger-dlq").ShouldHaveSingleItem();
        Encoding.UTF8.GetString(RuntimeHeaders.Find(dead.Headers, RuntimeHeaders.DeadLetterReason)!).ShouldBe("deserialization");
        Encoding.UTF8.GetString(RuntimeHeaders.Find(dead.Headers, RuntimeHeaders.DeadLetterException)!).ShouldContain("FormatException");
        Encoding.UTF8.GetString(RuntimeHeaders.Find(dead.Headers, RuntimeHeaders.DeadLetterSourceOffset)!).ShouldBe("0");
        dead.Value.ShouldBe(new byte[] { 1, 2, 3 });
        driver.ReadOutput(ledger.Output).ShouldBe([new("a", (4L, 1L))]);
    }

    [Fact]
    public void Pipe_HandlerThrowsAfterWritingStore_RollsBackItsWritesAndDeadLetters()
    {
        var ledger = Ledger();
        using var driver = new TopologyTestDriver(ledger.Topology);

        driver.Pipe(ledger.Input, "a", 10, T0);
        driver.Pipe(ledger.Input, "a", LedgerTopology.PoisonAmount, T0);
        driver.Pipe(ledger.Input, "a", 1, T0);

        driver.ReadStore(ledger.Balances).ShouldBe([new("a", 11L)]);
        driver.ReadOutput(ledger.Output).Select(p => p.Value).ShouldBe([(10L, 1L), (11L, 2L)]);
        var dead = driver.ReadOutput("ledger-dlq").ShouldHaveSingleItem();
        Encoding.UTF8.GetString(RuntimeHeaders.Find(dead.Headers, RuntimeHeaders.DeadLetterReason)!).ShouldBe("handler");
        Encoding.UTF8.GetString(RuntimeHeaders.Find(dead.Headers, RuntimeHeaders.DeadLetterException)!).ShouldContain("Poison entry.");
    }

    [Fact]
    public void Pipe_SeveralPartitions_RoutesByMurmur2LikeKafka()
    {
        var ledger = Ledger();
        using var driver = new TopologyTestDriver(ledger.Topology, partitions: 8);

        driver.Pipe(ledger.Input, "kafka", 1, T0);

        var expected = (int)(0xd067cf64 & 0x7fffffff) % 8;
        driver.ReadOutput("balances-out").ShouldHaveSingleItem().EventId.ShouldBe($"entries-{expected}@0#0");
    }

    [Fact]
    public void StreamTimePunctuator_RecordsCrossIntervalBoundaries_FiresOncePerCrossingAtTheBoundary()
    {
        var fired = new List<DateTimeOffset>();
        var builder = new TopologyBuilder("p");
        var output = builder.AddOutput("ticks", Serdes.Utf8, Serdes.Int64);
        var input = builder.AddInput("in", Serdes.Utf8, Serdes.Int64, (_, _) => { });
        builder.AddPunctuator("tick", PunctuationType.StreamTime, TimeSpan.FromMinutes(1), (ctx, time) =>
        {
            fired.Add(time);
            ctx.Forward(output, "tick", time.ToUnixTimeMilliseconds());
        });
        using var driver = new TopologyTestDriver(builder.Build());

        driver.Pipe(input, "k", 0, T0.AddSeconds(30));
        driver.Pipe(input, "k", 0, T0.AddSeconds(59));
        driver.Pipe(input, "k", 0, T0.AddSeconds(61));
        driver.Pipe(input, "k", 0, T0.AddSeconds(10));
        driver.Pipe(input, "k", 0, T0.AddMinutes(3).AddSeconds(5));

        fired.ShouldBe([T0.AddMinutes(1), T0.AddMinutes(3)]);
        driver.ReadOutput("ticks").Select(r => r.EventId)
            .ShouldBe([$"p-0/tick@{T0.AddMinutes(1).ToUnixTimeMilliseconds()}#0", $"p-0/tick@{T0.AddMinutes(3).ToUnixTimeMilliseconds()}#0"]);
        driver.StreamTime().ShouldBe(T0.AddMinutes(3).AddSeconds(5));
    }

    [Fact]
    public void WallClockPunctuator_ClockAdvances_FiresWhenDueOnly()
    {
        var fired = new List<DateTimeOffset>();
        var builder = new TopologyBuilder("w");
        builder.AddInput("in", Serdes.Utf8, Serdes.Int64, (_, _) => { });
        builder.AddPunctuator("flush", PunctuationType.WallClock, TimeSpan.FromSeconds(10), (_, time) => fired.Add(time));
        using var driver = new TopologyTestDriver(builder.Build(), startTime: T0);

        driver.AdvanceWallClock(TimeSpan.FromSeconds(9));
        driver.AdvanceWallClock(TimeSpan.FromSeconds(1));
        driver.AdvanceWallClock(TimeSpan.FromSeconds(5));
        driver.AdvanceWallClock(TimeSpan.FromSeconds(5));

        fired.ShouldBe([T0.AddSeconds(10), T0.AddSeconds(20)]);
    }

    [Fact]
    public void Forward_ToUndeclaredTopic_DeadLettersTheRecord()
    {
        var builder = new TopologyBuilder("u");
        var input = builder.AddInput("in", Serdes.Utf8, Serdes.Int64, (ctx, r) => ctx.Forward("typo", null, null));
        using var driver = new TopologyTestDriver(builder.Build());

        driver.Pipe(input, "k", 1, T0);

        Encoding.UTF8.GetString(RuntimeHeaders.Find(driver.ReadOutput("u-dlq").ShouldHaveSingleItem().Headers, RuntimeHeaders.DeadLetterException)!)
            .ShouldContain("'typo' is not a declared output");
    }

    [Fact]
    public void Ledger_RandomEntries_StoreEqualsSumsAndLastOutputPerAccount()
    {
        Gen.Int[0, 20].Select(Gen.Long[-1000, 1000]).Array[1, 200].Sample(entries =>
        {
            var ledger = Ledger();
            using var driver = new TopologyTestDriver(ledger.Topology, partitions: 3);
            foreach (var (account, amount) in entries)
            {
                driver.Pipe(ledger.Input, $"acct-{account}", amount, T0);
            }

            var expected = entries.GroupBy(e => $"acct-{e.Item1}").Select(g => (g.Key, g.Sum(e => e.Item2))).Order().ToList();
            driver.ReadStore(ledger.Balances).Select(p => (p.Key, p.Value)).Order().ToList().ShouldBe(expected);
            driver.ReadOutput(ledger.Output).GroupBy(p => p.Key).Select(g => (g.Key, g.Last().Value.Balance)).Order().ToList().ShouldBe(expected);
        });
    }
}
