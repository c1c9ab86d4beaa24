using Fulfillment.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fulfillment.SchemaRegistry;

/// <summary>
/// Builds the registry web application. Configuration: <c>Postgres:ConnectionString</c> (required; env
/// <c>Postgres__ConnectionString</c>), <c>Registry:DefaultCompatibility</c> (default BACKWARD), listen address via the
/// standard <c>--urls</c> / <c>ASPNETCORE_URLS</c> (default <c>http://127.0.0.1:18081</c>).
/// </summary>
public static class RegistryApp
{
    public const string DefaultUrl = "http://127.0.0.1:18081";

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrWhiteSpace(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.AddFulfillmentDefaults("schema-registry");
        builder.Services.AddValidatedOptions<PostgresOptions>(PostgresOptions.Section);
        builder.Services.AddValidatedOptions<RegistryOptions>(RegistryOptions.Section);
        builder.Services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<PostgresOptions>>().Value.ConnectionString));
        builder.Services.AddSingleton<RegistryStore>();
        // Registered before the web server starts: no request is served until the schema is migrated.
        builder.Services.AddHostedService<MigrationService>();
        builder.Services.AddHealthChecks().AddCheck<PostgresHealthCheck>("postgres");

        var app = builder.Build();
        app.Use(RegistryEndpoints.HandleErrorsAsync);
        app.MapFulfillmentEndpoints();
        app.MapRegistryEndpoints();
        return app;
    }
}

internal sealed partial class MigrationService(NpgsqlDataSource dataSource, ILogger<MigrationService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var applied = await Migrator.MigrateAsync(dataSource, cancellationToken);
        LogMigrated(logger, applied.Count, string.Join(", ", applied));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Registry database migrated: {Count} script(s) applied ({Scripts})")]
    private static partial void LogMigrated(ILogger logger, int count, string scripts);
}

internal static partial class RegistryLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "Registry store failed while serving {Path}")]
    public static partial void StoreFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected failure while serving {Path}")]
    public static partial void Unexpected(ILogger logger, string path, Exception exception);
}
