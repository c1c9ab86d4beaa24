using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Fulfillment.Hosting;
using Fulfillment.Sinks.Views;
using Microsoft.Extensions.Options;
using Npgsql;
using Scalar.AspNetCore;

namespace Fulfillment.Api;

/// <summary>
/// The REST API host. Configuration: <c>Kafka:BootstrapServers</c>, <c>Kafka:SchemaRegistryUrl</c>,
/// <c>Postgres:ConnectionString</c>, <c>Api:*</c> (<see cref="ApiOptions"/>: views schema, tenants with key hashes and
/// pools); listens on <c>--urls</c> (default <see cref="DefaultUrl"/>). OpenAPI document at <c>/openapi/v1.json</c>,
/// browsable reference at <c>/scalar/v1</c>.
/// </summary>
public static class ApiApp
{
    public const string DefaultUrl = "http://127.0.0.1:18080";

    public static WebApplication Build(string[] args, Action<IServiceCollection>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrWhiteSpace(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.AddFulfillmentDefaults("api");
        builder.Services.AddValidatedOptions<KafkaOptions>(KafkaOptions.Section)
            .Validate(o => !string.IsNullOrWhiteSpace(o.SchemaRegistryUrl), "Kafka:SchemaRegistryUrl is required: commands are produced as Confluent wire-format Avro.");
        builder.Services.AddValidatedOptions<PostgresOptions>(PostgresOptions.Section);
        builder.Services.AddValidatedOptions<ApiOptions>(ApiOptions.Section)
            .Validate(o => o.Tenants.Count > 0, "Api:Tenants needs at least one tenant (Name, KeySha256, Pools).")
            .Validate(o => o.Tenants.All(t => t.Pools.Count > 0 && System.Text.RegularExpressions.Regex.IsMatch(t.KeySha256, "^[0-9a-fA-F]{64}$")),
                "Every Api:Tenants entry needs KeySha256 (64 hex characters) and at least one pool.");
        builder.Services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<PostgresOptions>>().Value.ConnectionString));
        builder.Services.AddSingleton<ISchemaRegistryClient>(sp =>
            new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = sp.GetRequiredService<IOptions<KafkaOptions>>().Value.SchemaRegistryUrl }));
        builder.Services.AddSingleton(sp =>
            new ProducerBuilder<string, byte[]>(KafkaDefaults.Producer(sp.GetRequiredService<IOptions<KafkaOptions>>().Value.BootstrapServers, "api")).Build());
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddSingleton<TopicRecordFinder>();
        builder.Services.AddSingleton<CommandPublisher>();
        builder.Services.AddSingleton<QueryEndpoints.Views>();
        builder.Services.AddHostedService<ApiStartup>();
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<UnavailableExceptionHandler>();
        builder.Services.AddOpenApi();
        configure?.Invoke(builder.Services);

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapFulfillmentEndpoints();
        app.MapOpenApi();
        app.MapScalarApiReference();
        app.MapQueryEndpoints();
        app.MapCommandEndpoints();
        return app;
    }
}

internal sealed partial class ApiStartup(
    NpgsqlDataSource dataSource, IOptions<ApiOptions> options, CommandPublisher publisher, ILogger<ApiStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // The views schema is normally created by the sink; migrating here too lets the API start first.
        await SchemaMigrator.MigrateAllAsync(dataSource, options.Value.Schema, cancellationToken);
        var relayed = await publisher.RelayPendingAsync(cancellationToken);
        LogStarted(logger, options.Value.Schema, options.Value.Tenants.Count, relayed);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "API ready: views schema {Schema}, {Tenants} tenant(s), {Relayed} stored command(s) produced at startup")]
    private static partial void LogStarted(ILogger logger, string schema, int tenants, int relayed);
}
