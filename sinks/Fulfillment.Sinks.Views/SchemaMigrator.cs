using Fulfillment.Hosting;
using Npgsql;

namespace Fulfillment.Sinks.Views;

/// <summary>
/// Applies the embedded <c>Migrations/{Set}/*.sql</c> scripts to one schema, in name order, each once, in one transaction
/// under an advisory lock per schema, so a sink, the API and the CLI starting together neither race nor half-apply.
/// Scripts name no schema: they run with <c>search_path</c> set to the target, which is what lets replay build the same
/// views under another name.
/// </summary>
public static class SchemaMigrator
{
    /// <summary>Script set of the views (any schema name).</summary>
    public const string ViewsSet = "Views";

    /// <summary>Script set of the durable copies (schema <see cref="DurableSchema"/>).</summary>
    public const string DurableSet = "Durable";

    /// <summary>Schema of the durable copies.</summary>
    public const string DurableSchema = "durable";

    /// <summary>Throws unless <paramref name="schema"/> is a plain lower-case identifier (it is spliced into SQL).</summary>
    public static string CheckSchemaName(string schema) => SqlMigrator.CheckSchemaName(schema);

    /// <summary>Creates and migrates the views schema <paramref name="schema"/> and the durable schema.</summary>
    public static async Task MigrateAllAsync(NpgsqlDataSource dataSource, string schema, CancellationToken ct)
    {
        await MigrateAsync(dataSource, DurableSet, DurableSchema, ct);
        await MigrateAsync(dataSource, ViewsSet, schema, ct);
    }

    /// <summary>Brings <paramref name="schema"/> up to date with the script set; returns the scripts applied by this call.
    /// The one runner in Fulfillment.Hosting (same <c>schema_migrations</c> table and script names as before).</summary>
    public static Task<IReadOnlyList<string>> MigrateAsync(NpgsqlDataSource dataSource, string set, string schema, CancellationToken ct) =>
        SqlMigrator.MigrateAsync(dataSource, schema, typeof(SchemaMigrator).Assembly, $"{typeof(SchemaMigrator).Namespace}.Migrations.{set}.", ct);
}
