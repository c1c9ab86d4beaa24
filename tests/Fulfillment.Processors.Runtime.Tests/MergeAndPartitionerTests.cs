using System.Text;
using Fulfillment.Processors.Runtime.State;

namespace Fulfillment.Processors.Runtime.Tests;

public class TaskRunnerTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static TaskRunner Runner(int inputs)
    {
        var builder = new TopologyBuilder("m");
        for (var i = 0; i < inputs; i++)
        {
            builder.AddInput($"in{i}", Serdes.Bytes, Serdes.Bytes, (_, _) => { });
        }

        var topology = builder.Build();
        return new TaskRunner(0, new StreamTask(topology, 0, new InMemoryTaskStorage(0), _ => { }, TimeProvider.System), inputs);
    }

    private static void Enqueue(TaskRunner runner, int input, long timestamp) =>
        runner.Queues[input].Enqueue(new RawRecord($"in{input}", 0, runner.Queues[input].Count, timestamp, null, null, []));

    private static List<(int Input, long Timestamp)> Drain(TaskRunner runner, Func<int, bool> caughtUp)
    {
        var order = new List<(int, long)>();
        while (runner.Pick(Now, TimeSpan.FromSeconds(1), caughtUp) is var pick and >= 0)
        {
            order.Add((pick, runner.Queues[pick].Dequeue().TimestampMs));
        }

        return order;
    }

    [Fact]
    public void Pick_TwoInputsAllBuffered_LowestTimestampFirstAndTiesByDeclarationOrder()
    {
        var runner = Runner(2);
        Enqueue(runner, 0, 5);
        Enqueue(runner, 0, 7);
        Enqueue(runner, 1, 5);
        Enqueue(runner, 1, 6);

        Drain(runner, _ => true).ShouldBe([(0, 5L), (1, 5L), (1, 6L), (0, 7L)]);
    }

    [Fact]
    public void Pick_OtherInputEmptyAndBehind_WaitsUntilMaxIdleThenProceeds()
    {
        var runner = Runner(2);
        Enqueue(runner, 0, 5);

        runner.Pick(Now, TimeSpan.FromSeconds(1), _ => false).ShouldBe(-1);
        runner.Pick(Now.AddMilliseconds(999), TimeSpan.FromSeconds(1), _ => false).ShouldBe(-1);
        runner.Pick(Now.AddSeconds(1), TimeSpan.FromSeconds(1), _ => false).ShouldBe(0);
    }

    [Fact]
    public void Pick_AfterTheIdleWaitExpired_KeepsProcessingUntilTheOtherInputHasData()
    {
        var runner = Runner(2);
        Enqueue(runner, 0, 5);
        Enqueue(runner, 0, 6);
        runner.Pick(Now, TimeSpan.FromSeconds(1), _ => false).ShouldBe(-1);
        runner.Pick(Now.AddSeconds(1), TimeSpan.FromSeconds(1), _ => false).ShouldBe(0);
        runner.Queues[0].Dequeue();

        runner.Pick(Now.AddSeconds(1), TimeSpan.FromSeconds(1), _ => false).ShouldBe(0);

        runner.Queues[0].Dequeue();
        Enqueue(runner, 1, 7);
        Enqueue(runner, 0, 8);
        runner.Pick(Now.AddSeconds(1), TimeSpan.FromSeconds(1), _ => false).ShouldBe(1);
        runner.BlockedSince.ShouldBeNull();
    }

    [Fact]
    public void Pick_OtherInputEmptyButCaughtUp_ProceedsAtOnce()
    {
        var runner = Runner(2);
        Enqueue(runner, 1, 5);

        runner.Pick(Now, TimeSpan.FromSeconds(1), _ => true).ShouldBe(1);
    }

    [Fact]
    public void Pick_SingleInput_NeverWaits()
    {
        var runner = Runner(1);
        Enqueue(runner, 0, 1);

        runner.Pick(Now, TimeSpan.FromSeconds(1), _ => false).ShouldBe(0);
    }
}

public class Murmur2Tests
{
    [Theory]
    [InlineData("kafka", 0xd067cf64)]
    [InlineData("giberish123456789", 0x8f552b0c)]
    [InlineData("1234", 0x9fc97b14)]
    [InlineData("234", 0xe7c009ca)]
    [InlineData("34", 0x873930da)]
    [InlineData("4", 0x5a4b5ca1)]
    [InlineData("PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c)]
    [InlineData("", 0x106e08d9)]
    public void Hash_LibrdkafkaReferenceVectors_MatchJavaMurmur2(string key, uint expected) =>
        ((uint)Murmur2.Hash(Encoding.UTF8.GetBytes(key))).ShouldBe(expected);

    [Fact]
    public void Hash_JavaUtilsVector_MatchesSignedResult() =>
        Murmur2.Hash("21"u8).ShouldBe(-973_932_308);
}

public class RuntimeMetricsTests
{
    [Fact]
    public async Task Registry_AfterProcessing_ExposesRuntimeMetricsWithUnitsInNames()
    {
        var builder = new TopologyBuilder("metrics-" + Guid.NewGuid().ToString("N")[..8]);
        var output = builder.AddOutput("out", Serdes.Utf8, Serdes.Int64);
        var input = builder.AddInput("in", Serdes.Utf8, Serdes.Int64, (ctx, r) => ctx.Forward(output, r.Key, r.Value));
        using (var driver = new TopologyTestDriver(builder.Build()))
        {
            driver.Pipe(input, "k", 1);
            driver.PipeRaw("in", [1], [2]);
        }

        using var text = new MemoryStream();
        await Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(text);
        var exported = Encoding.UTF8.GetString(text.ToArray());

        exported.ShouldContain("fulfillment_runtime_records_in_total{");
        exported.ShouldContain("fulfillment_runtime_records_out_total{");
        exported.ShouldContain("fulfillment_runtime_processing_duration_seconds_bucket{");
        exported.ShouldContain("fulfillment_runtime_event_age_at_output_seconds_bucket{");
        exported.ShouldContain("fulfillment_runtime_dead_letters_total{");
        foreach (var line in exported.Split('\n').Where(l => l.StartsWith("fulfillment_runtime_", StringComparison.Ordinal)))
        {
            var name = line.Split('{', ' ')[0];
            name.ShouldMatch("_(total|seconds|records)(_bucket|_sum|_count)?$");
        }
    }
}
