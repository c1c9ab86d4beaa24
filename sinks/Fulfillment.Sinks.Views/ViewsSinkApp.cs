using Confluent.SchemaRegistry;
using Fulfillment.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fulfillment.Sinks.Views;

/// <summary>
/// The views sink worker host. Configuration: <c>Kafka:BootstrapServers</c>, <c>Kafka:SchemaRegistryUrl</c>,
/// <c>Postgres:ConnectionString</c> (env <c>Kafka__…</c>, <c>Postgres__…</c>), <c>ViewsSink:*</c> (<see cref="ViewsSinkOptions"/>);
/// <c>/health</c> and <c>/metrics</c> on <c>--urls</c> (default <see cref="DefaultUrl"/>).
/// </summary>
public static class ViewsSinkApp
{
    public const string DefaultUrl = "http://127.0.0.1:18105";

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrWhiteSpace(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.AddFulfillmentDefaults("views-sink");
        builder.Services.AddValidatedOptions<KafkaOptions>(KafkaOptions.Section)
            .Validate(o => !string.IsNullOrWhiteSpace(o.SchemaRegistryUrl), "Kafka:SchemaRegistryUrl is required: values are Confluent wire-format Avro.");
        builder.Services.AddValidatedOptions<PostgresOptions>(PostgresOptions.Section);
        builder.Services.AddValidatedOptions<ViewsSinkOptions>(ViewsSinkOptions.Section);
        builder.Services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<PostgresOptions>>().Value.ConnectionString));
        builder.Services.AddHostedService<ViewsSinkService>();
        builder.Services.AddSingleton(sp => new StockAvailabilityExporter(
            sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<IOptions<ViewsSinkOptions>>().Value.Schema,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<StockAvailabilityExporter>()));
        var app = builder.Build();
        var exporter = app.Services.GetRequiredService<StockAvailabilityExporter>();
        Prometheus.Metrics.DefaultRegistry.AddBeforeCollectCallback(exporter.RefreshAsync);
        app.MapFulfillmentEndpoints();
        return app;
    }
}

internal sealed partial class ViewsSinkService(
    IOptions<ViewsSinkOptions> options,
    IOptions<KafkaOptions> kafka,
    NpgsqlDataSource dataSource,
    ILogger<ViewsSinkService> logger) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the loop starts and before /health answers: a sink never writes into a schema it has not migrated.
        // A Postgres still starting (57P03) or restarting is waited for rather than failing the start.
        await new TransientRetry(dataSource, logger, "Views sink", ViewsSinkMetrics.TransientErrors).RunAsync(
            "migrate", () => SchemaMigrator.MigrateAllAsync(dataSource, options.Value.Schema, cancellationToken), cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // Consume blocks its thread; keep it off the host's startup path.
        Task.Run(async () =>
        {
            using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = kafka.Value.SchemaRegistryUrl });
            var sink = new ViewsSink(options.Value, kafka.Value.BootstrapServers, dataSource, new EventDecoder(registry), logger);
            try
            {
                await sink.RunAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // Stopping: the last batch was either committed with its offsets or not at all.
            }
            catch (Exception e)
            {
                LogFailed(logger, e);
                throw;
            }
        }, CancellationToken.None);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Views sink stopped on an error; the host stops with it")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
