using Microsoft.AspNetCore.Builder;

namespace Fulfillment.SchemaRegistry.Tests.Infrastructure;

/// <summary>The real registry app, in process, on a kernel-chosen 127.0.0.1 port.</summary>
public sealed class RegistryServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RegistryServer(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress };
    }

    public Uri BaseAddress { get; }

    public string Url => BaseAddress.ToString().TrimEnd('/');

    public HttpClient Http { get; }

    public static async Task<RegistryServer> StartAsync(string connectionString, params string[] extraArgs)
    {
        var app = RegistryApp.Build(["--urls", "http://127.0.0.1:0", "--Postgres:ConnectionString", connectionString, .. extraArgs]);
        await app.StartAsync();
        return new RegistryServer(app, new Uri(app.Urls.Single()));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A database plus a registry on it, per test class.</summary>
public sealed class RegistryFixture : IAsyncLifetime
{
    private TestDatabase? _database;
    private RegistryServer? _server;

    public TestDatabase Database => _database ?? throw new InvalidOperationException("Fixture not initialised");

    public RegistryServer Server => _server ?? throw new InvalidOperationException("Fixture not initialised");

    public HttpClient Http => Server.Http;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync();
        _server = await RegistryServer.StartAsync(_database.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}
