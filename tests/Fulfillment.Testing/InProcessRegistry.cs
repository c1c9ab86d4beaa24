using Fulfillment.SchemaRegistry;
using Microsoft.AspNetCore.Builder;

namespace Fulfillment.Testing;

/// <summary>
/// Our schema registry (ops/Fulfillment.SchemaRegistry), the real app in process on a kernel-chosen 127.0.0.1 port, on
/// its own throwaway database (or one you give it). As a class fixture: <c>IClassFixture&lt;InProcessRegistry&gt;</c>;
/// per test: <c>await using var registry = await InProcessRegistry.StartAsync()</c>. Pass <see cref="Url"/> as
/// <c>Kafka:SchemaRegistryUrl</c> / <c>SchemaRegistryConfig.Url</c>.
/// </summary>
public sealed class InProcessRegistry : IAsyncLifetime, IAsyncDisposable
{
    private readonly string? _connectionString;
    private readonly string[] _extraArgs;
    private PostgresDatabase? _ownDatabase;
    private WebApplication? _app;
    private HttpClient? _http;
    private int _disposed;
    private bool _started;

    /// <summary>For xunit fixtures: a registry on a database of its own, quiet logging.</summary>
    public InProcessRegistry()
        : this(null, [])
    {
    }

    private InProcessRegistry(string? connectionString, string[] extraArgs)
    {
        _connectionString = connectionString;
        _extraArgs = extraArgs;
    }

    /// <summary>Base URL without a trailing slash, e.g. <c>http://127.0.0.1:40123</c>.</summary>
    public string Url => BaseAddress.ToString().TrimEnd('/');

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>A client on <see cref="BaseAddress"/>.</summary>
    public HttpClient Http => _http ?? throw new InvalidOperationException("The registry is not started.");

    /// <summary>The registry's database connection string.</summary>
    public string ConnectionString => _connectionString ?? _ownDatabase?.ConnectionString
        ?? throw new InvalidOperationException("The registry is not started.");

    /// <summary>Starts a registry. Without <paramref name="connectionString"/> it creates (and later drops) a database;
    /// <paramref name="extraArgs"/> are more configuration overrides (<c>--Registry:DefaultCompatibility</c>, <c>NONE</c>).</summary>
    public static async Task<InProcessRegistry> StartAsync(string? connectionString = null, params string[] extraArgs)
    {
        var registry = new InProcessRegistry(connectionString, extraArgs);
        try
        {
            await registry.InitializeAsync();
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }

        return registry;
    }

    public async Task InitializeAsync()
    {
        if (_connectionString is null)
        {
            _ownDatabase = await PostgresDatabase.CreateAsync("registry");
        }

        // Quiet by default: request logs of a registry are noise in every test that merely needs one.
        _app = RegistryApp.Build([
            "--urls", "http://127.0.0.1:0", "--Postgres:ConnectionString", ConnectionString,
            "--Logging:LogLevel:Default", "Warning", .. _extraArgs]);
        await _app.StartAsync();
        _started = true;
        BaseAddress = new Uri(_app.Urls.Single());
        _http = new HttpClient { BaseAddress = BaseAddress };
    }

    public async Task DisposeAsync() => await ((IAsyncDisposable)this).DisposeAsync();

    async ValueTask IAsyncDisposable.DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _http?.Dispose();
        if (_app is not null)
        {
            // A host that failed to start cannot be stopped, only disposed.
            if (_started)
            {
                await _app.StopAsync();
            }

            await _app.DisposeAsync();
        }

        if (_ownDatabase is not null)
        {
            await _ownDatabase.DisposeAsync();
        }
    }
}
