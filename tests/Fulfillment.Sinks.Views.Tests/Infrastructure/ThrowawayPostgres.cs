using System.Diagnostics;
using Fulfillment.Testing;
using Npgsql;

namespace Fulfillment.Sinks.Views.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL cluster of the test's own (ops/dev/postgres.sh with its own data dir and a free port), for tests that
/// stop and restart the server: the shared cluster on 55432 serves every other test and must never go down.
/// </summary>
public sealed class ThrowawayPostgres : IAsyncDisposable
{
    private readonly string _dir;

    private ThrowawayPostgres(string dir, int port)
    {
        _dir = dir;
        Port = port;
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Timeout=5;Command Timeout=60";
    }

    public int Port { get; }

    public string ConnectionString { get; }

    /// <summary>Creates (initdb) and starts a cluster in a fresh directory under the temp dir.</summary>
    public static async Task<ThrowawayPostgres> StartAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"views-pg-{Guid.NewGuid():N}"[..24]);
        var cluster = new ThrowawayPostgres(dir, FreePorts.ConsecutiveRange());
        await cluster.StartServerAsync();
        return cluster;
    }

    /// <summary>Starts the (stopped) server again on the same data dir and port.</summary>
    public Task StartServerAsync() => ScriptAsync("start");

    /// <summary>Stops the server the way an operator or a package upgrade does (<c>pg_ctl -m fast</c>: sessions are
    /// terminated with 57P01, new connections refused).</summary>
    public Task StopServerAsync() => ScriptAsync("stop");

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await StopServerAsync();
        }
        finally
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private async Task ScriptAsync(string verb)
    {
        var start = new ProcessStartInfo("bash", [RepoPaths.Get("ops", "dev", "postgres.sh"), verb, "--dir", _dir, "--port", $"{Port}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // Durability is not under test here, and fsync on a loaded machine slows the restart a lot.
        start.Environment["FULFILLMENT_PG_FSYNC"] = "off";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"postgres.sh {verb} failed ({process.ExitCode}): {await stdout}{await stderr}");
        }
    }
}
