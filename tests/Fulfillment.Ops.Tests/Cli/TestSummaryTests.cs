using System.Text.RegularExpressions;
using Fulfillment.Ops.Tests.Support;

namespace Fulfillment.Ops.Tests.Cli;

/// <summary>ops/dev/test-summary.sh on TRX files written by real `dotnet test` runs (Fixtures/Trx).</summary>
public sealed partial class TestSummaryTests
{
    private static readonly string Passing = Repo.Path("tests", "Fulfillment.Ops.Tests", "Fixtures", "Trx", "passing.trx.xml");
    private static readonly string Mixed = Repo.Path("tests", "Fulfillment.Ops.Tests", "Fixtures", "Trx", "mixed.trx.xml");
    private static readonly string Crash = Repo.Path("tests", "Fulfillment.Ops.Tests", "Fixtures", "Trx", "crash.trx.xml");

    [GeneratedRegex(@"^(\w+: )?\d+ passed, \d+ failed(, \d+ skipped)?$", RegexOptions.Multiline)]
    private static partial Regex SummaryLine();

    private static ShellResult Summarize(params string[] rows) =>
        Shell.Run("bash", [Repo.Path("ops/dev/test-summary.sh")], stdin: string.Join('\n', rows) + "\n");

    private static string LastLine(ShellResult r) => r.StdOut.TrimEnd('\n').Split('\n')[^1];

    [Fact]
    public void Summary_AllPassing_PrintsTotalsAndExitsZero()
    {
        var r = Summarize($"A.Tests|0|{Passing}|");

        r.ExitCode.ShouldBe(0);
        LastLine(r).ShouldBe("3 passed, 0 failed, 0 skipped");
    }

    [Fact]
    public void Summary_FailedAndSkippedTests_AreCountedAndExitIsNonZero()
    {
        var r = Summarize($"A.Tests|0|{Passing}|", $"B.Tests|1|{Mixed}|");

        r.ExitCode.ShouldNotBe(0);
        LastLine(r).ShouldBe("5 passed, 1 failed, 1 skipped");
        r.StdOut.ShouldContain("FAIL  B.Tests");
    }

    [Fact]
    public void Summary_FailedTest_ListsItsNameAndMessageHeadBeforeTheTable()
    {
        // CI shows only the end of a run's output: the failure itself has to be there, not just the counts.
        var r = Summarize($"A.Tests|0|{Passing}|", $"B.Tests|1|{Mixed}|");

        var output = r.StdOut;
        output.ShouldContain("  T.C\n      Assert.Equal() Failure: Values differ\n      Expected: 1\n      Actual:   2\n");
        output.IndexOf("T.C", StringComparison.Ordinal).ShouldBeLessThan(output.IndexOf("test projects:", StringComparison.Ordinal));
        output.ShouldNotContain("T.B"); // a passed test is not listed
        LastLine(r).ShouldBe("5 passed, 1 failed, 1 skipped");
    }

    [Fact]
    public void Summary_CrashedTestHost_CountsAsAFailure()
    {
        // A FailFast in a test aborts the run: the TRX has all-zero counters and only the exit code tells.
        var r = Summarize($"A.Tests|0|{Passing}|", $"C.Tests|1|{Crash}|");

        r.ExitCode.ShouldNotBe(0);
        LastLine(r).ShouldBe("3 passed, 1 failed, 0 skipped");
        r.StdOut.ShouldContain("crash or abort");
    }

    [Fact]
    public void Summary_ProjectThatFailedToBuild_CountsAsAFailureAndIsListed()
    {
        var r = Summarize($"A.Tests|0|{Passing}|", "D.Tests|build||build failed (log: x)");

        r.ExitCode.ShouldNotBe(0);
        LastLine(r).ShouldBe("3 passed, 1 failed, 0 skipped");
        r.StdOut.ShouldContain("FAIL  D.Tests");
        r.StdOut.ShouldContain("build failed (log: x)");
    }

    [Fact]
    public void Summary_TimedOutProjectWithoutResults_CountsAsAFailure()
    {
        var r = Summarize("E.Tests|124|/nonexistent/E.trx|timed out after 1800s");

        r.ExitCode.ShouldNotBe(0);
        LastLine(r).ShouldBe("0 passed, 1 failed, 0 skipped");
        r.StdOut.ShouldContain("timed out after 1800s");
    }

    [Fact]
    public void Summary_SuccessfulExitButNoResultsFile_CountsAsAFailure()
    {
        var r = Summarize("F.Tests|0||");

        r.ExitCode.ShouldNotBe(0);
        LastLine(r).ShouldBe("0 passed, 1 failed, 0 skipped");
        r.StdOut.ShouldContain("no test results");
    }

    [Fact]
    public void Summary_ManyProjects_PrintsExactlyOneSummaryLineAndItIsLast()
    {
        var r = Summarize($"A.Tests|0|{Passing}|", $"B.Tests|1|{Mixed}|", $"C.Tests|1|{Crash}|", "D.Tests|build||build failed");

        SummaryLine().Matches(r.StdOut).Count.ShouldBe(1);
        SummaryLine().IsMatch(LastLine(r)).ShouldBeTrue();
        r.StdOut.ShouldContain("PASS  A.Tests");
    }
}
