namespace Fulfillment.Testing.Tests;

public sealed class ProcessRunnerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Terminate_ShellTrappingSigterm_RunsItsHandlerAndExitCode()
    {
        using var process = ProcessRunner.Start("/bin/sh", ["-c", "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done"]);
        await process.WaitForLineAsync(line => line == "ready", Timeout);

        process.Terminate();

        (await process.WaitForExitAsync(Timeout)).ShouldBe(7);
        process.Output.ShouldContain("got-term");
    }

    [Fact]
    public async Task Kill_ShellTrappingSigterm_DiesBySigkill()
    {
        using var process = ProcessRunner.Start("/bin/sh", ["-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"]);
        await process.WaitForLineAsync(line => line == "ready", Timeout);

        process.Kill();

        (await process.WaitForExitAsync(Timeout)).ShouldBe(128 + 9);
    }

    [Fact]
    public async Task Dispose_RunningProcessTree_KillsChildrenToo()
    {
        int childPid;
        using (var process = ProcessRunner.Start("/bin/sh", ["-c", "sleep 300 & echo child=$!; wait"]))
        {
            var line = await process.WaitForLineAsync(l => l.StartsWith("child=", StringComparison.Ordinal), Timeout);
            childPid = int.Parse(line["child=".Length..], System.Globalization.CultureInfo.InvariantCulture);
            Directory.Exists($"/proc/{childPid}").ShouldBeTrue();
        }

        // A killed child can linger as a zombie for a moment until init reaps it.
        var deadline = DateTime.UtcNow + Timeout;
        while (IsAlive(childPid) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        IsAlive(childPid).ShouldBeFalse();
    }

    [Fact]
    public async Task WaitForLineAsync_ProcessExitsWithoutLine_ThrowsTimeoutWithOutput()
    {
        using var process = ProcessRunner.Start("/bin/sh", ["-c", "echo something-else; exit 3"]);

        var error = await Should.ThrowAsync<TimeoutException>(() => process.WaitForLineAsync(line => line == "never", Timeout));

        error.Message.ShouldContain("something-else");
    }

    [Fact]
    public async Task Start_WithEnvironment_ChildSeesValuesAndRemovals()
    {
        Environment.SetEnvironmentVariable("FULFILLMENT_RUNNER_REMOVED", "present");
        using var process = ProcessRunner.Start(
            "/bin/sh",
            ["-c", "echo \"v=$FULFILLMENT_RUNNER_VALUE r=${FULFILLMENT_RUNNER_REMOVED:-gone}\""],
            new Dictionary<string, string?> { ["FULFILLMENT_RUNNER_VALUE"] = "42", ["FULFILLMENT_RUNNER_REMOVED"] = null });

        (await process.WaitForExitAsync(Timeout)).ShouldBe(0);
        await process.WaitForLineAsync(line => line == "v=42 r=gone", Timeout);
    }

    private static bool IsAlive(int pid)
    {
        var status = $"/proc/{pid}/status";
        try
        {
            return File.ReadLines(status).Any(l => l.StartsWith("State:", StringComparison.Ordinal) && !l.Contains('Z', StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    }
}
