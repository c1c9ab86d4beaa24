using System.Reflection;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;

namespace Fulfillment.Sinks.Views;

/// <summary>
/// Applies the embedded <c>Migrations/{Set}/*.sql</c> scripts to one schema, in name order, each once, in one transaction
/// under an advisory lock per schema, so a sink, the API and the CLI starting together neither race nor half-apply.
/// Scripts name no schema: they run with <c>search_path</c> set to the target, which is what lets replay build the same
/// views under another name.
/// </summary>
public static partial class SchemaMigrator
{
    /// <summary>Script set of the views (any schema name).</summary>
    public const string ViewsSet = "Views";

    /// <summary>Script set of the durable copies (schema <see cref="DurableSchema"/>).</summary>
    public const string DurableSet = "Durable";

    /// <summary>Schema of the durable copies.</summary>
    public const string DurableSchema = "durable";

    /// <summary>Throws unless <paramref name="schema"/> is a plain lower-case identifier (it is spliced into SQL).</summary>
    public static string CheckSchemaName(string schema)
    {
        if (schema is null || !SchemaName().IsMatch(schema))
        {
            throw new ArgumentException($"'{schema}' is not a valid schema name: use 1-50 characters of [a-z0-9_], starting with a letter or '_'.", nameof(schema));
        }

        return schema;
    }

    /// <summary>Creates and migrates the views schema <paramref name="schema"/> and the durable schema.</summary>
    public static async Task MigrateAllAsync(NpgsqlDataSource dataSource, string schema, CancellationToken ct)
    {
        await MigrateAsync(dataSource, DurableSet, DurableSchema, ct);
        await MigrateAsync(dataSource, ViewsSet, schema, ct);
    }

    /// <summary>Brings <paramref name="schema"/> up to date with the script set; returns the scripts applied by this call.</summary>
    public static async Task<IReadOnlyList<string>> MigrateAsync(NpgsqlDataSource dataSource, string set, string schema, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        CheckSchemaName(schema);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // One lock per schema name: different schemas migrate in parallel, the same one never twice at once.
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(hashtextextended('fulfillment-views-migrations:' || @schema, 0))", new { schema }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(
            $"""
            CREATE SCHEMA IF NOT EXISTS {schema};
            CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                name       text        PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            SET LOCAL search_path TO {schema};
            """, transaction: tx, cancellationToken: ct));

        var applied = (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT name FROM schema_migrations", transaction: tx, cancellationToken: ct))).ToHashSet(StringComparer.Ordinal);
        var appliedNow = new List<string>();
        foreach (var (name, resource) in Scripts(set))
        {
            if (applied.Contains(name))
            {
                continue;
            }

            await connection.ExecuteAsync(new CommandDefinition(ReadScript(resource), transaction: tx, cancellationToken: ct));
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO schema_migrations (name) VALUES (@name)", new { name }, tx, cancellationToken: ct));
            appliedNow.Add(name);
        }

        await tx.CommitAsync(ct);
        return appliedNow;
    }

    /// <summary>(file name, resource name) of a script set, in apply order.</summary>
    public static IReadOnlyList<(string Name, string Resource)> Scripts(string set)
    {
        var prefix = $"{typeof(SchemaMigrator).Namespace}.Migrations.{set}.";
        return typeof(SchemaMigrator).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => (Name: n[prefix.Length..], Resource: n))
            .OrderBy(s => s.Name, StringComparer.Ordinal)
            .ToList();
    }

    private static string ReadScript(string resource)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded migration {resource} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,49}$")]
    private static partial Regex SchemaName();
}
