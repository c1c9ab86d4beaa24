using System.Diagnostics;
using System.Globalization;
using System.Text;
using Fulfillment.Testing;
using Xunit.Abstractions;

namespace Fulfillment.Demo.Tests;

/// <summary>
/// One fault drill end to end, exactly as <c>ops/fulfillment drill</c> runs it (ops/drills/drill.sh): its own stack on
/// free ports and a throwaway run dir, demo traffic from every channel (eBay polled), the webhook connector SIGKILLed
/// mid-run and restarted, then the drill's checks (every accepted order in the views, stock balanced, pushes settled)
/// and <c>replay --verify</c> with zero differences. Slow: a whole stack start, 40 s of traffic (enough for ship
/// confirmations and their pushes) and a replay — about 3 minutes on an idle 2-core machine, several under load. Needs the Release build of the hub (ops/fulfillment test
/// builds it).
/// </summary>
[Trait("Category", "Slow")]
public sealed class DrillTests(ITestOutputHelper log)
{
    private const string Drill = "kill-connector-webhooks";

    /// <summary>Ports the drill stack uses, as offsets from its base (drill.sh: registry, brokers, workers, stub, Postgres).</summary>
    private static readonly int[] PortOffsets = [81, 92, 93, 94, 100, 105, 106, 110, 111, 190, 432];

    [Fact]
    public async Task KillConnectorDrill_ShortTraffic_PassesWithZeroReplayDifferences()
    {
        var root = RepoRoot();
        var missing = new[]
        {
            "processors/Fulfillment.Processors.Worker", "sinks/Fulfillment.Sinks.Views", "ops/Fulfillment.Api", "connectors/Fulfillment.Connectors.Webhooks",
            "sinks/Fulfillment.Sinks.ChannelSync", "ops/Fulfillment.SchemaRegistry", "ops/Fulfillment.DevBroker", "ops/Fulfillment.Demo", "ops/Fulfillment.Cli",
        }.Select(p => Path.Combine(root, p, "bin", "Release", "net10.0", Path.GetFileName(p) + ".dll")).Where(p => !File.Exists(p)).ToList();
        missing.ShouldBeEmpty("the drill runs the Release build of every hub process; build it first (ops/fulfillment test does)");

        var runDir = Directory.CreateTempSubdirectory("fulfillment-drill-").FullName;
        var start = new ProcessStartInfo("bash", [Path.Combine(root, "ops", "drills", "drill.sh"), Drill])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        start.Environment["FULFILLMENT_DRILL_PORT_BASE"] = FreeBase().ToString(CultureInfo.InvariantCulture);
        start.Environment["FULFILLMENT_DRILL_RUN_DIR"] = runDir;
        start.Environment["DRILL_SECONDS"] = "40";
        start.Environment["DRILL_RATE"] = "20";
        var output = new StringBuilder();
        using var drill = new Process { StartInfo = start };
        drill.OutputDataReceived += (_, e) => Append(output, e.Data);
        drill.ErrorDataReceived += (_, e) => Append(output, e.Data);
        try
        {
            drill.Start();
            drill.BeginOutputReadLine();
            drill.BeginErrorReadLine();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(12));
            try
            {
                await drill.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                // SIGTERM: the script's trap stops its stack (Postgres cluster included); a SIGKILL would strand it.
                using (var term = Process.Start("kill", ["-TERM", drill.Id.ToString(CultureInfo.InvariantCulture)])!)
                {
                    await term.WaitForExitAsync();
                }

                await drill.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(1));
                throw new TimeoutException($"the drill did not finish in 12 minutes:\n{output}");
            }

            drill.WaitForExit();
            log.WriteLine(output.ToString());
            var text = output.ToString();
            drill.ExitCode.ShouldBe(0, text);
            text.ShouldContain($"=== {Drill} PASSED");
            text.ShouldContain("replay 0 difference(s)");
            text.ShouldContain("fault: SIGKILL connector-webhooks");
            // The eBay seller's orders came in by poll, not only webhooks.
            text.ShouldContain("eBay, polled");
        }
        finally
        {
            if (Environment.GetEnvironmentVariable("FULFILLMENT_TEST_KEEP_RUN_DIR") != "1")
            {
                Directory.Delete(runDir, recursive: true);
            }
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    /// <summary>A port base whose every drill port is free now (a drill run by hand uses 28000).</summary>
    private static int FreeBase()
    {
        for (var b = 30000; b < 60000; b += 1000)
        {
            if (PortOffsets.All(o => FreePorts.IsFree(b + o)))
            {
                return b;
            }
        }

        throw new InvalidOperationException("no free port base for the drill stack between 30000 and 60000");
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Fulfillment.Streams.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Fulfillment.Streams.sln not found above {AppContext.BaseDirectory}");
    }
}
