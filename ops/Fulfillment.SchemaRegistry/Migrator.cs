using Fulfillment.Hosting;
using Npgsql;

namespace Fulfillment.SchemaRegistry;

/// <summary>The registry's schema (<c>registry</c>), migrated by the hub's one runner (<see cref="SqlMigrator"/>) from the
/// embedded <c>Migrations/*.sql</c> scripts.</summary>
public static class Migrator
{
    public const string Schema = "registry";

    private const string ResourcePrefix = "Fulfillment.SchemaRegistry.Migrations.";

    /// <summary>Names of the embedded scripts, in the order they apply.</summary>
    public static IReadOnlyList<string> ScriptNames { get; } =
        [.. SqlMigrator.EmbeddedScripts(typeof(Migrator).Assembly, ResourcePrefix).Select(s => s.Name)];

    /// <summary>Brings the <c>registry</c> schema up to date; returns the scripts applied by this call.</summary>
    public static Task<IReadOnlyList<string>> MigrateAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        SqlMigrator.MigrateAsync(dataSource, Schema, typeof(Migrator).Assembly, ResourcePrefix, ct);
}
