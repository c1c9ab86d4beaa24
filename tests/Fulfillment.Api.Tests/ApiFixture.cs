using System.Net.Http.Json;
using System.Text.Json;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Sinks.Views;
using Fulfillment.Sinks.Views.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fulfillment.Api.Tests;

/// <summary>One API fixture for every class that needs it: a second broker, registry, database and sink starting
/// beside the first only slows both (on a loaded machine past their start-up wait).</summary>
[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiFixture>
{
    public const string Name = "api";
}

/// <summary>The API in process on a kernel-chosen port, with a live views sink feeding its views from the same topics,
/// two tenants (acme: pool-a, pool-b; globex: pool-g) and some traffic already applied.</summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public const string AcmeKey = "acme-secret-key";
    public const string GlobexKey = "globex-secret-key";

    private readonly CancellationTokenSource _stop = new();
    private WebApplication? _app;
    private Task? _sink;

    public SinkEnvironment Env { get; } = new();

    public ViewTopics Topics { get; private set; } = null!;

    public string Schema { get; } = SinkEnvironment.UniqueSchema("api");

    public HttpClient Acme { get; private set; } = null!;

    public HttpClient Globex { get; private set; } = null!;

    public HttpClient Anonymous { get; private set; } = null!;

    /// <summary>The running API's services (its publisher, for relay tests).</summary>
    public IServiceProvider Services => _app!.Services;

    public async Task InitializeAsync()
    {
        await Env.InitializeAsync();
        Topics = Env.CreateTopics();
        var options = SinkEnvironment.Options(Topics, Schema, maxBatch: 500);
        await Env.MigrateAsync(Schema);
        var sink = Env.Sink(options);
        _sink = Task.Run(() => sink.RunAsync(_stop.Token));

        _app = ApiApp.Build([
            "--urls", "http://127.0.0.1:0",
            "--Kafka:BootstrapServers", Env.BootstrapServers,
            "--Kafka:SchemaRegistryUrl", Env.RegistryUrl,
            "--Postgres:ConnectionString", Env.Database.ConnectionString,
            "--Api:Schema", Schema,
            "--Api:OperatorCommandsTopic", Topics.OperatorCommands,
            "--Api:ShipmentsTopic", Topics.Shipments,
            "--Api:Tenants:0:Name", "acme",
            "--Api:Tenants:0:KeySha256", ApiKeys.Hash(AcmeKey),
            "--Api:Tenants:0:Pools:0", "pool-a",
            "--Api:Tenants:0:Pools:1", "pool-b",
            "--Api:Tenants:1:Name", "globex",
            "--Api:Tenants:1:KeySha256", ApiKeys.Hash(GlobexKey),
            "--Api:Tenants:1:Pools:0", "pool-g",
        ]);
        await _app.StartAsync();
        var url = new Uri(_app.Urls.Single());
        Acme = Client(url, AcmeKey);
        Globex = Client(url, GlobexKey);
        Anonymous = Client(url, null);

        using var p = Env.Producer();
        await p.SendAsync(Topics.RawIngest, "pool-a", Ev.Raw("pool-a", "dlv-1", "o-1", Ev.T0));
        await p.SendAsync(Topics.Orders, "pool-a", Ev.Placed("pool-a", Ev.Order("o-1", ("l1", "SKU-1", 2), ("l2", "SKU-2", 1)), Ev.T0.AddSeconds(1), causation: "dlv-1"));
        await p.SendAsync(Topics.Allocations, "pool-a", Ev.Allocated("pool-a", "o-1", Ev.T0.AddSeconds(2), ("l1", "SKU-1", "WH1", 2), ("l2", "SKU-2", "WH2", 1)));
        await p.SendAsync(Topics.Orders, "pool-a", Ev.Placed("pool-a", Ev.Order("o-2", ("l1", "SKU-9", 4)), Ev.T0.AddSeconds(3)));
        await p.SendAsync(Topics.Allocations, "pool-a", Ev.Backordered("pool-a", "o-2", Ev.T0.AddSeconds(4), "l1", "SKU-9", 4));
        await p.SendAsync(Topics.ChannelPushOutcomes, "pool-a", Ev.Push("pool-a", "o-1", "p-1", 1, PushOutcome.Failed, Ev.T0.AddSeconds(5)));
        await p.SendAsync(Topics.StockLevels, "pool-a", Ev.Level("pool-a", "SKU-1", "WH1", 10, 2, Ev.T0.AddSeconds(2)));
        await p.SendAsync(Topics.StockLevels, "pool-a", Ev.Level("pool-a", "SKU-1", "WH2", 5, 0, Ev.T0.AddSeconds(2)));
        await p.SendAsync(Topics.Orders, "pool-b", Ev.Placed("pool-b", Ev.Order("o-3", ("l1", "SKU-1", 2), ("l2", "SKU-2", 1)), Ev.T0));
        await p.SendAsync(Topics.Allocations, "pool-b", Ev.Allocated("pool-b", "o-3", Ev.T0.AddSeconds(1), ("l1", "SKU-1", "WH1", 2), ("l2", "SKU-2", "WH1", 1)));
        await p.SendAsync(Topics.Orders, "pool-g", Ev.Placed("pool-g", Ev.Order("o-g", ("l1", "SKU-1", 1)), Ev.T0));
        await p.SendAsync(Topics.StockLevels, "pool-g", Ev.Level("pool-g", "SKU-1", "WHG", 99, 0, Ev.T0));
        p.Flush();
        // The first batch waits for the sink's start (group join, schema fetches): minutes on a loaded 2-core machine.
        await Eventually(async () => (await Acme.GetFromJsonAsync<JsonElement>("/stock?pageSize=10")).GetProperty("total").GetInt64() == 2, seconds: 180);
        await Eventually(async () => (await Acme.GetFromJsonAsync<JsonElement>("/backorders")).GetProperty("total").GetInt64() == 1, seconds: 60);
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_sink is not null)
        {
            await _sink;
        }

        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Acme.Dispose();
        Globex.Dispose();
        Anonymous.Dispose();
        await Env.DisposeAsync();
        _stop.Dispose();
    }

    /// <summary>Waits until the views have caught up with what a test produced or commanded.</summary>
    public static async Task Eventually(Func<Task<bool>> condition, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The views did not reach the expected state in time.");
            }

            await Task.Delay(100);
        }
    }

    private static HttpClient Client(Uri url, string? key)
    {
        var client = new HttpClient { BaseAddress = url };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Add(ApiKeys.Header, key);
        }

        return client;
    }

    internal static NullLogger Logger => NullLogger.Instance;
}
