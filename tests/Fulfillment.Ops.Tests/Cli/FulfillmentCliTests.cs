using System.Diagnostics;
using Fulfillment.Ops.Tests.Support;

namespace Fulfillment.Ops.Tests.Cli;

public sealed class FulfillmentCliTests : IDisposable
{
    // A private .run/ so these tests never touch a stack a developer is running from the same checkout.
    private readonly string _runDir = Directory.CreateTempSubdirectory("fulfillment-cli-").FullName;

    private Dictionary<string, string> RunEnv => new() { ["FULFILLMENT_RUN_DIR"] = _runDir };

    public void Dispose() => Directory.Delete(_runDir, recursive: true);

    [Fact]
    public void Bench_UnknownName_ExitsTwoAndListsKnownNames()
    {
        var r = Shell.Bash("ops/fulfillment", "bench", "nope");

        r.ExitCode.ShouldBe(2);
        r.StdErr.ShouldContain("unknown benchmark 'nope'");
        r.StdErr.ShouldContain("known benchmarks:");
        r.StdErr.ShouldContain("all");
    }

    [Fact]
    public void Bench_WithoutName_ExitsTwo()
    {
        var r = Shell.Bash("ops/fulfillment", "bench");

        r.ExitCode.ShouldBe(2);
        r.StdErr.ShouldContain("known benchmarks:");
    }

    [Fact]
    public void UnknownVerb_ExitsTwoWithUsage()
    {
        var r = Shell.Bash("ops/fulfillment", "nope");

        r.ExitCode.ShouldBe(2);
        r.StdErr.ShouldContain("unknown command 'nope'");
        r.StdErr.ShouldContain("usage: ops/fulfillment");
    }

    [Fact]
    public void Help_ListsTheStableVerbs()
    {
        var r = Shell.Bash("ops/fulfillment", "help");

        r.ExitCode.ShouldBe(0);
        foreach (var verb in new[] { "up [--demo]", "down", "status", "test", "bench NAME", "demo --rate N --duration S", "drill NAME" })
        {
            r.StdOut.ShouldContain(verb);
        }
    }

    [Fact]
    public void Up_UnknownOption_ExitsTwoWithoutStartingAnything()
    {
        var r = Shell.Run("bash", [Repo.Path("ops/fulfillment"), "up", "--bogus"], env: RunEnv);

        r.ExitCode.ShouldBe(2);
        r.StdErr.ShouldContain("unknown option --bogus");
        Directory.Exists(Path.Combine(_runDir, "logs")).ShouldBeFalse();
    }

    [Fact]
    public void Services_ListsInfrastructureOnTheFixedPorts()
    {
        var services = ServiceTable.Load().ToDictionary(s => s.Name);

        services["devbroker"].Port.ShouldBe(19092);
        services["devbroker"].Health.ShouldBe("tcp:19092,19093,19094");
        services["schema-registry"].Health.ShouldBe("http://127.0.0.1:18081/health");
        services["prometheus"].Health.ShouldBe("http://127.0.0.1:19090/-/ready");
        services.Values.Where(s => !s.IsWorker).Select(s => s.Name).ShouldBe(["devbroker", "schema-registry", "prometheus"]);
        services.Values.Where(s => s.IsWorker).ShouldAllBe(s => s.Health == $"http://127.0.0.1:{s.Port}/health");
        services.Values.Where(s => s.IsWorker && s.Name != "api").ShouldAllBe(s => s.Port >= 18100);
        services["api"].Port.ShouldBe(18080);
    }

    [Fact]
    public void Services_StartOrder_IsProcessorsThenSinksThenConnectorsThenApi()
    {
        var workers = ServiceTable.Load().Where(s => s.IsWorker).Select(s => s.Name).ToList();

        workers.ShouldBe(["inventory-pool", "views-sink", "sink-channel-sync", "connector-webhooks", "api"]);
    }

    [Fact]
    public void Services_WithPortOffset_ShiftsEveryPortAndHealthCheck()
    {
        var defaults = ServiceTable.Load();
        var r = Shell.Run("bash", [Repo.Path("ops/fulfillment"), "services"], env: new Dictionary<string, string> { ["FULFILLMENT_PORT_OFFSET"] = "1000" });

        r.ExitCode.ShouldBe(0, r.Output);
        var shifted = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToDictionary(f => f[0]);
        foreach (var s in defaults)
        {
            int.Parse(shifted[s.Name][1], System.Globalization.CultureInfo.InvariantCulture).ShouldBe(s.Port + 1000);
            shifted[s.Name][2].ShouldNotContain(s.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        shifted["devbroker"][2].ShouldBe("tcp:20092,20093,20094");
    }

    [Fact]
    public void ServicesBuildFilter_Written_ListsEveryDotnetServiceTheCliAndTheDemoFromTheSolution()
    {
        var r = Shell.Run("bash", [Repo.Path("ops/fulfillment"), "services", "--build-filter"], env: RunEnv);

        r.ExitCode.ShouldBe(0, r.Output);
        var path = r.StdOut.Trim();
        path.ShouldStartWith(_runDir);
        using var filter = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        var solution = filter.RootElement.GetProperty("solution");
        solution.GetProperty("path").GetString().ShouldBe(Repo.Path("Fulfillment.Streams.sln"));
        var projects = solution.GetProperty("projects").EnumerateArray().Select(p => p.GetString()!).ToList();
        var inSolution = File.ReadAllText(Repo.Path("Fulfillment.Streams.sln"));
        foreach (var project in projects)
        {
            // Solution filters name projects as the solution does (backslashes); each must be there and exist.
            inSolution.ShouldContain($"\"{project}\"");
            File.Exists(Repo.Path(project.Replace('\\', '/'))).ShouldBeTrue(project);
        }

        // Every program of the hub and nothing else: the executables outside tests/, less benchmarks and the schema
        // code generator (a build tool the schema project runs itself).
        var expected = Directory.EnumerateFiles(Repo.Path("."), "*.csproj", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Repo.Path("."), f).Replace('\\', '/'))
            .Where(f => !f.StartsWith("tests/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(Repo.Path(f)).Contains("<OutputType>Exe</OutputType>", StringComparison.Ordinal))
            .Where(f => !f.EndsWith(".Bench.csproj", StringComparison.Ordinal) && !f.EndsWith(".CodeGen.csproj", StringComparison.Ordinal))
            .Select(f => f.Replace('/', '\\'));
        projects.ShouldBe(expected, ignoreOrder: true);
    }

    [Fact]
    public void Services_WithANonNumericOffset_ExitsTwo()
    {
        var r = Shell.Run("bash", [Repo.Path("ops/fulfillment"), "services"], env: new Dictionary<string, string> { ["FULFILLMENT_PORT_OFFSET"] = "abc" });

        r.ExitCode.ShouldBe(2);
        r.StdErr.ShouldContain("FULFILLMENT_PORT_OFFSET must be a number");
    }

    [Fact]
    public void Demo_WithoutRunningStack_SaysSoAndExitsOne()
    {
        var r = Shell.Run("bash", [Repo.Path("ops/fulfillment"), "demo", "--rate", "10", "--duration", "1"], env: RunEnv);

        r.ExitCode.ShouldBe(1);
        r.StdErr.ShouldContain("not running");
    }

    [Theory]
    [InlineData("--duration", "5")]
    [InlineData("--rate", "0", "--duration", "5")]
    [InlineData("--rate", "10")]
    [InlineData("--rate", "10", "--duration", "x")]
    public void Demo_WithoutValidRateAndDuration_ExitsTwo(params string[] args)
    {
        var r = Shell.Run("bash", [Repo.Path("ops/fulfillment"), "demo", .. args], env: RunEnv);

        r.ExitCode.ShouldBe(2, r.Output);
    }

    [Fact]
    public void Up_WhileAnotherUpHoldsTheLock_SaysSoAndExitsNonZero()
    {
        // Stand-in for a running `up`: a process holding the lock, recorded in up.pid.
        using var holder = Process.Start(new ProcessStartInfo("flock", [Path.Combine(_runDir, "up.lock"), "sleep", "60"])
        {
            UseShellExecute = false,
        })!;
        try
        {
            WaitUntil(() => File.Exists(Path.Combine(_runDir, "up.lock")) && LockHeld());
            File.WriteAllText(Path.Combine(_runDir, "up.pid"), $"{holder.Id} {StartTime(holder.Id)}\n");

            var r = Shell.Run("bash", [Repo.Path("ops/fulfillment"), "up"], env: RunEnv);

            r.ExitCode.ShouldNotBe(0);
            r.StdErr.ShouldContain($"already running (up pid {holder.Id})");
            File.Exists(Path.Combine(_runDir, "up.pid")).ShouldBeTrue();
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }
    }

    [Fact]
    public void Down_WithLeftoverServiceAndNoUp_StopsItAndRemovesItsPidFile()
    {
        using var leftover = Process.Start(new ProcessStartInfo("setsid", ["sleep", "300"]) { UseShellExecute = false })!;
        var pids = Directory.CreateDirectory(Path.Combine(_runDir, "pids")).FullName;
        File.WriteAllText(Path.Combine(pids, "schema-registry.pid"), $"{leftover.Id} {StartTime(leftover.Id)}\n");

        var r = Shell.Run("bash", [Repo.Path("ops/fulfillment"), "down"], env: RunEnv);

        r.ExitCode.ShouldBe(0, r.Output);
        r.StdOut.ShouldContain($"stopped leftover schema-registry (pid {leftover.Id})");
        leftover.WaitForExit(5000).ShouldBeTrue();
        File.Exists(Path.Combine(pids, "schema-registry.pid")).ShouldBeFalse();
    }

    [Fact]
    public void Down_WithStalePidFileOfAReusedPid_LeavesThatProcessAlone()
    {
        // The pid is alive but its start time differs: it is some other process now, not our old service.
        using var other = Process.Start(new ProcessStartInfo("sleep", ["60"]) { UseShellExecute = false })!;
        try
        {
            var pids = Directory.CreateDirectory(Path.Combine(_runDir, "pids")).FullName;
            File.WriteAllText(Path.Combine(pids, "devbroker.pid"), $"{other.Id} 1\n");

            var r = Shell.Run("bash", [Repo.Path("ops/fulfillment"), "down"], env: RunEnv);

            r.ExitCode.ShouldBe(0, r.Output);
            r.StdOut.ShouldContain("nothing running");
            other.HasExited.ShouldBeFalse();
            File.Exists(Path.Combine(pids, "devbroker.pid")).ShouldBeFalse();
        }
        finally
        {
            other.Kill();
            other.WaitForExit();
        }
    }

    private bool LockHeld() =>
        Shell.Run("flock", ["-n", Path.Combine(_runDir, "up.lock"), "true"]).ExitCode != 0;

    private static string StartTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields[19];
    }

    private static void WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("condition not met in 10 s");
            }

            Thread.Sleep(50);
        }
    }
}
