using Fulfillment.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>Builds the outbound channel sync worker host (<c>/health</c>, <c>/metrics</c> on <c>--urls</c>, default
/// <see cref="DefaultUrl"/>). Configuration: <c>Kafka</c>, <c>ChannelSync</c> (shops, endpoints, tokens via the environment).</summary>
public static class ChannelSyncApp
{
    public const string DefaultUrl = "http://127.0.0.1:18111";

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrWhiteSpace(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.AddFulfillmentDefaults("sink-channel-sync");
        var services = builder.Services;
        services.AddValidatedOptions<KafkaOptions>(KafkaOptions.Section);
        services.AddValidatedOptions<ChannelSyncOptions>(ChannelSyncOptions.Section);
        services.AddSingleton<IValidateOptions<ChannelSyncOptions>, ChannelSyncOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        services.AddHttpClient(nameof(ChannelSync), c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddSingleton<IChannelPusher>(sp => new ShopifyPusher(Client(sp)));
        services.AddSingleton<IChannelPusher>(sp => new WooCommercePusher(Client(sp)));
        services.AddSingleton<IChannelPusher>(sp => new AmazonPusher(Client(sp)));
        services.AddSingleton<IChannelPusher>(sp => new EbayPusher(Client(sp)));
        services.AddSingleton<IChannelPusher>(sp => new TikTokShopPusher(Client(sp), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IChannelPusherLookup, PusherLookup>();
        services.AddSingleton<IPushRecorder, KafkaPushRecorder>();
        // The handled-records ledger survives a broker that forgets (the embedded stack's development broker): with
        // Postgres configured it lives there; without, Kafka's committed offsets are the only memory.
        var postgres = builder.Configuration[$"{PostgresOptions.Section}:{nameof(PostgresOptions.ConnectionString)}"];
        if (string.IsNullOrWhiteSpace(postgres))
        {
            services.AddSingleton<IHandledLedger, InMemoryHandledLedger>();
        }
        else
        {
            services.AddSingleton(_ => NpgsqlDataSource.Create(postgres));
            services.AddSingleton<IHandledLedger>(sp => new PostgresHandledLedger(
                sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<IOptions<ChannelSyncOptions>>().Value.LedgerSchema));
        }

        services.AddSingleton(sp => new PushExecutor(
            sp.GetServices<IChannelPusher>(), sp.GetRequiredService<IPushRecorder>(), sp.GetRequiredService<IOptions<ChannelSyncOptions>>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<PushExecutor>>()));
        services.AddHostedService<ChannelSyncWorker>();

        var app = builder.Build();
        app.MapFulfillmentEndpoints();
        return app;
    }

    private static HttpClient Client(IServiceProvider sp) => sp.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(ChannelSync));
}
