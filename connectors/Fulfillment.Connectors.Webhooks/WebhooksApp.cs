using Fulfillment.Connectors.Channels;
using Fulfillment.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>
/// Builds the webhook receiver host. Configuration: <c>Kafka:BootstrapServers</c>, <c>Kafka:SchemaRegistryUrl</c>,
/// <c>Postgres:ConnectionString</c>, <c>Channels</c> (shops, pools, secrets via the environment), <c>Connectors</c>
/// (topics, limits). Listens on <c>--urls</c> (default <see cref="DefaultUrl"/>).
/// </summary>
public static class WebhooksApp
{
    public const string DefaultUrl = "http://127.0.0.1:18110";

    /// <param name="args">Command-line arguments (configuration overrides).</param>
    /// <param name="configureServices">Extra registrations, e.g. an <see cref="IAmazonNotificationQueue"/> or an <see cref="IOrderFetcher"/>.</param>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configureServices = null)
    {
        // No file watching for configuration changes: nothing here reloads, and a recursive watcher on the content root
        // (the repository or a deploy folder full of logs) costs CPU on every file written under it.
        var builder = WebApplication.CreateBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
        if (string.IsNullOrWhiteSpace(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.AddFulfillmentDefaults("connector-webhooks");
        // With any level enabled for this category (the defaults keep Warning), ASP.NET Core starts an Activity and a
        // logging scope for every request, yet the category only ever logs request start/finish at Information.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        var services = builder.Services;
        services.AddValidatedOptions<KafkaOptions>(KafkaOptions.Section);
        services.AddValidatedOptions<PostgresOptions>(PostgresOptions.Section);
        services.AddValidatedOptions<ChannelsOptions>(ChannelsOptions.Section);
        services.AddValidatedOptions<ConnectorOptions>(ConnectorOptions.Section);
        var maxBody = builder.Configuration.GetSection(ConnectorOptions.Section).GetValue<int?>(nameof(ConnectorOptions.MaxBodyBytes)) ?? new ConnectorOptions().MaxBodyBytes;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = maxBody;
            k.AddServerHeader = false;
        });
        // Requests are parsed and their handlers started on the socket's event thread instead of being handed to the
        // thread pool, and answers are sent from the thread that wrote them: two fewer thread hops per request. Safe here
        // because nothing on the request path blocks (the receivers are pure CPU, the store is awaited).
        builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp =>
        {
            // The group-commit INSERT, the outbox DELETE and the checkpoint statements repeat thousands of times: prepared
            // once per connection, Postgres stops parsing and planning them per batch (unless the operator chose otherwise).
            var connection = new NpgsqlConnectionStringBuilder(sp.GetRequiredService<IOptions<PostgresOptions>>().Value.ConnectionString);
            if (connection.MaxAutoPrepare == 0)
            {
                connection.MaxAutoPrepare = 16;
            }

            return NpgsqlDataSource.Create(connection);
        });
        services.AddSingleton(sp => new ShopDirectory(sp.GetRequiredService<IOptions<ChannelsOptions>>().Value));
        services.AddSingleton<ShopifyReceiver>();
        services.AddSingleton<WooCommerceReceiver>();
        services.AddSingleton<TikTokShopReceiver>();
        services.AddSingleton<AmazonReceiver>();
        services.AddSingleton<EbayReceiver>();
        services.AddSingleton<IChannelReceiver>(sp => sp.GetRequiredService<ShopifyReceiver>());
        services.AddSingleton<IChannelReceiver>(sp => sp.GetRequiredService<WooCommerceReceiver>());
        services.AddSingleton<IChannelReceiver>(sp => sp.GetRequiredService<TikTokShopReceiver>());
        services.AddSingleton<IChannelReceiver>(sp => sp.GetRequiredService<AmazonReceiver>());
        services.AddSingleton<IChannelReceiver>(sp => sp.GetRequiredService<EbayReceiver>());

        // Migrations run before anything that touches the table, and before the server takes requests.
        services.AddHostedService<MigrationService>();
        services.AddSingleton<RawDeliveryStore>();
        services.AddHostedService(sp => sp.GetRequiredService<RawDeliveryStore>());
        services.AddSingleton<EventPublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<EventPublisher>());
        services.AddSingleton<OutboxSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxSweeper>());
        services.AddSingleton<UnknownSenderLimiter>();
        services.AddSingleton<IngestPipeline>();
        services.AddSingleton<PollCheckpoints>();
        services.AddHttpClient(nameof(PollerService), c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddSingleton<IOrderPoller>(sp => ActivatorUtilities.CreateInstance<AmazonOrdersPoller>(sp, PollClient(sp)));
        services.AddSingleton<IOrderPoller>(sp => ActivatorUtilities.CreateInstance<WooCommerceReconciliationPoller>(sp, PollClient(sp)));
        services.AddSingleton<IOrderPoller>(sp => ActivatorUtilities.CreateInstance<EbayOrdersPoller>(sp, PollClient(sp)));
        services.AddHostedService<PollerService>();
        services.AddSingleton<IOrderFetcher>(sp => ActivatorUtilities.CreateInstance<TikTokShopOrderFetcher>(sp, PollClient(sp)));
        services.AddHealthChecks().AddCheck<PostgresHealthCheck>("postgres");

        configureServices?.Invoke(services);
        if (services.Any(d => d.ServiceType == typeof(IAmazonNotificationQueue)))
        {
            services.AddSingleton<AmazonQueueWorker>();
            services.AddHostedService(sp => sp.GetRequiredService<AmazonQueueWorker>());
        }

        var app = builder.Build();
        app.MapFulfillmentEndpoints();
        app.MapWebhookEndpoints();
        return app;
    }

    private static HttpClient PollClient(IServiceProvider sp) => sp.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(PollerService));
}

internal sealed partial class MigrationService(NpgsqlDataSource dataSource, ILogger<MigrationService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // The one migration runner (Fulfillment.Hosting): each script once, recorded in public.schema_migrations, under a
        // per-schema advisory lock. The scripts stay idempotent, so a database migrated by the earlier run-every-start
        // runner simply re-applies them once.
        await SqlMigrator.MigrateAsync(dataSource, "public", typeof(MigrationService).Assembly,
            "Fulfillment.Connectors.Webhooks.Migrations.", cancellationToken);
        LogMigrated(logger);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Connector database migrated")]
    private static partial void LogMigrated(ILogger logger);
}
