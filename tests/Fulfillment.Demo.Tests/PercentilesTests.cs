using CsCheck;

namespace Fulfillment.Demo.Tests;

public class PercentilesTests
{
    [Fact]
    public void Of_OneToHundred_NearestRank()
    {
        double[] samples = [.. Enumerable.Range(1, 100).Select(i => (double)i)];

        Percentiles.Of(samples, 0.50).ShouldBe(50);
        Percentiles.Of(samples, 0.99).ShouldBe(99);
        Percentiles.Of(samples, 1.0).ShouldBe(100);
        Percentiles.Of(samples, 0.001).ShouldBe(1);
    }

    [Fact]
    public void Of_SmallSets_P99IsTheMaximumBelowAHundredSamples()
    {
        Percentiles.Of([7.0], 0.99).ShouldBe(7);
        Percentiles.Of([1.0, 2.0], 0.5).ShouldBe(1);
        Percentiles.Of([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.99).ShouldBe(10);
        double.IsNaN(Percentiles.Of([], 0.5)).ShouldBeTrue();
    }

    [Fact]
    public void Of_AnySamples_AtLeastPOfSamplesAtOrBelowAndFewerStrictlyBelow()
    {
        Gen.Double[0, 1000].Array[1, 300].Select(Gen.Double[0.01, 1.0]).Sample((values, p) =>
        {
            var sorted = values.Order().ToArray();
            var q = Percentiles.Of(sorted, p);

            sorted.ShouldContain(q);
            (sorted.Count(v => v <= q) >= p * sorted.Length - 1e-9).ShouldBeTrue();
            (sorted.Count(v => v < q) < p * sorted.Length).ShouldBeTrue();
        });
    }

    [Fact]
    public void Of_OutOfRangeFraction_Throws()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => Percentiles.Of([1.0], 0));
        Should.Throw<ArgumentOutOfRangeException>(() => Percentiles.Of([1.0], 1.5));
    }

    [Fact]
    public void LatencyRecorder_Window_ResetsAfterEachTakeAndAllKeepsEverything()
    {
        var recorder = new LatencyRecorder();
        foreach (var v in Enumerable.Range(1, 100))
        {
            recorder.Add(101 - v);
        }

        recorder.TakeWindow().ShouldBe((50.0, 99.0, 100));
        recorder.Add(500);
        recorder.TakeWindow().ShouldBe((500.0, 500.0, 1));
        recorder.All().Length.ShouldBe(101);
        recorder.All()[^1].ShouldBe(500);
    }

    [Fact]
    public void Throughput_SeenOverSpanFromFirstSendToLastArrival()
    {
        E2eResult.Throughput(10_000, 5.0, 7.0).ShouldBe(5000);
        E2eResult.Throughput(0, 5.0, 7.0).ShouldBe(0);
        E2eResult.Throughput(10, 5.0, 5.0).ShouldBe(0);
    }

    [Fact]
    public void E2eResult_Percentiles_FromSortedLatencies()
    {
        var r = new E2eResult(200, 200, 0, 100, [.. Enumerable.Range(1, 200).Select(i => (double)i)], 2);

        r.P50.ShouldBe(100);
        r.P99.ShouldBe(198);
        r.Max.ShouldBe(200);
    }
}
