using System.Diagnostics;
using System.Globalization;
using System.Text;
using Fulfillment.Testing;

namespace Fulfillment.Ops.Tests.Support;

/// <summary>
/// `ops/fulfillment up --no-build` as a user runs it, in its own run dir and on shifted ports (FULFILLMENT_RUN_DIR,
/// FULFILLMENT_PORT_OFFSET) so it never meets a stack a developer runs on the default ports. Stopped with SIGINT, as Ctrl-C
/// does. Needs the solution's Release build (`ops/fulfillment test` builds it before the tests).
/// `up`'s output goes to <c>up.out</c> in the run dir (kept with FULFILLMENT_TEST_KEEP_RUN_DIR=1), not through pipes to
/// this process, so the stack never depends on the test host reading it.
/// </summary>
internal sealed class EmbeddedStack : IDisposable
{
    private static readonly int[] DefaultPorts = [18080, 18081, 18100, 18105, 18110, 18111, 19090, 19092, 19093, 19094, 55432];
    private readonly Dictionary<string, string> _env;
    private Process? _up;
    private long _outputStart;

    public EmbeddedStack(IReadOnlyDictionary<string, string>? extraEnv = null)
    {
        RunDir = Directory.CreateTempSubdirectory("fulfillment-stack-").FullName;
        Offset = FreeOffset();
        _env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["FULFILLMENT_RUN_DIR"] = RunDir,
            ["FULFILLMENT_PORT_OFFSET"] = Offset.ToString(CultureInfo.InvariantCulture),
            // Its own cluster in its own run dir, named outright: `ops/fulfillment test` exports FULFILLMENT_PG_DIR (its
            // test cluster), and a stack inheriting it took that cluster on 55432 for its own while this class connects
            // to 55432 + offset (CI failed right after `up` with "connection refused").
            ["FULFILLMENT_PG_DIR"] = Path.Combine(RunDir, "postgres"),
        };
        foreach (var (k, v) in extraEnv ?? new Dictionary<string, string>())
        {
            _env[k] = v;
        }
    }

    public string RunDir { get; }

    /// <summary>Throws with `up`'s output when it is no longer running (a service died, or it stopped).</summary>
    public void EnsureRunning()
    {
        if (_up is { HasExited: true } up)
        {
            throw new InvalidOperationException($"ops/fulfillment up exited with {up.ExitCode}:\n{Output}");
        }
    }

    public int Offset { get; }

    public Uri ApiUrl => new($"http://127.0.0.1:{18080 + Offset}");

    public Uri WebhookUrl => new($"http://127.0.0.1:{18110 + Offset}");

    /// <summary>The hub database of the stack (its own Postgres cluster in the run dir). No pooling: the cluster stops and
    /// starts with the stack, and a pooled connection from before a restart fails its next command with 57P01
    /// ("terminating connection due to administrator command") — which once made a restart test fail right after the
    /// second `up` and stop that stack on the way out.</summary>
    public string PostgresConnectionString => $"Host=127.0.0.1;Port={55432 + Offset};Username=postgres;Database=fulfillment;Pooling=false";

    /// <summary>What the current (or last) `up` printed so far.</summary>
    public string Output
    {
        get
        {
            var path = OutputPath;
            if (!File.Exists(path))
            {
                return "";
            }

            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Seek(Math.Min(_outputStart, stream.Length), SeekOrigin.Begin);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
    }

    private string OutputPath => Path.Combine(RunDir, "up.out");

    /// <summary>Writes a secret into the run dir's secrets.env before the first `up`, which keeps what it finds.</summary>
    public void SetSecret(string name, string value) =>
        File.AppendAllText(Path.Combine(RunDir, "secrets.env"), $"{name}={value}\n");

    /// <summary>Starts `up` and waits for its summary.</summary>
    public void Start(TimeSpan timeout)
    {
        _outputStart = File.Exists(OutputPath) ? new FileInfo(OutputPath).Length : 0;
        var psi = new ProcessStartInfo("bash")
        {
            WorkingDirectory = Repo.Root,
            UseShellExecute = false,
        };
        // exec: the pid is `up`'s own, so SIGINT reaches it as Ctrl-C would.
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec \"$0\" up --no-build </dev/null >>\"$1\" 2>&1");
        psi.ArgumentList.Add(Repo.Path("ops", "fulfillment"));
        psi.ArgumentList.Add(OutputPath);
        foreach (var (k, v) in _env)
        {
            psi.Environment[k] = v;
        }

        // Inherited from a parent `ops/fulfillment`, these would point the stack at another cluster or database.
        psi.Environment.Remove("FULFILLMENT_PG_PORT");
        psi.Environment.Remove("FULFILLMENT_PG_DATABASE");

        var up = Process.Start(psi) ?? throw new InvalidOperationException("could not start ops/fulfillment up");
        _up = up;

        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains("Fulfillment.Streams is up.", StringComparison.Ordinal))
        {
            if (up.HasExited)
            {
                throw new InvalidOperationException($"ops/fulfillment up exited with {up.ExitCode} before it was up:\n{Output}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"ops/fulfillment up not up after {timeout.TotalSeconds:F0} s:\n{Output}");
            }

            Thread.Sleep(250);
        }
    }

    /// <summary>SIGINT to `up` (Ctrl-C) and wait for it to stop everything; returns its exit code.</summary>
    public int Stop(TimeSpan timeout)
    {
        var up = _up ?? throw new InvalidOperationException("not started");
        var sent = DateTime.UtcNow;
        if (!up.HasExited)
        {
            Shell.Run("kill", ["-INT", up.Id.ToString(CultureInfo.InvariantCulture)]).ExitCode.ShouldBe(0);
        }

        if (!up.WaitForExit(timeout))
        {
            var status = File.Exists($"/proc/{up.Id}/status") ? File.ReadAllText($"/proc/{up.Id}/status") : "gone";
            throw new TimeoutException($"ops/fulfillment up still running {timeout.TotalSeconds:F0} s after SIGINT at {sent:HH:mm:ss.fff} ({status}):\n{Output}");
        }

        up.WaitForExit();
        var code = up.ExitCode;
        up.Dispose();
        _up = null;
        return code;
    }

    /// <summary>The last lines of a service's log, for failure messages.</summary>
    public string LogTail(string service, int lines = 40)
    {
        var path = Path.Combine(RunDir, "logs", service + ".log");
        return File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(lines)) : $"(no {path})";
    }

    /// <summary>Runs a verb of ops/fulfillment against this stack.</summary>
    public ShellResult Cli(params string[] args) =>
        Shell.Run("bash", [Repo.Path("ops", "fulfillment"), .. args], timeout: TimeSpan.FromMinutes(2), env: _env);

    public void Dispose()
    {
        try
        {
            if (_up is { HasExited: false })
            {
                Stop(TimeSpan.FromSeconds(120));
            }
        }
        catch (TimeoutException)
        {
        }
        finally
        {
            // Whatever a failed start or stop left behind (services, the Postgres cluster) goes with `down`.
            Cli("down");
            if (Environment.GetEnvironmentVariable("FULFILLMENT_TEST_KEEP_RUN_DIR") != "1")
            {
                Directory.Delete(RunDir, recursive: true);
            }
        }
    }

    /// <summary>An offset under which every port of the stack is free now.</summary>
    private static int FreeOffset()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var offset = Random.Shared.Next(1500, 9000);
            if (DefaultPorts.All(p => FreePorts.IsFree(p + offset)))
            {
                return offset;
            }
        }

        throw new InvalidOperationException("no port offset with every port free");
    }
}
