using System.Reflection;
using System.Text.RegularExpressions;
using Npgsql;

namespace Fulfillment.Hosting;

/// <summary>One migration script: its stable name (what is recorded as applied) and its SQL.</summary>
public sealed record SqlScript(string Name, string Sql);

/// <summary>
/// The one way hub components migrate their Postgres schemas. Scripts apply in ordinal name order, each once (recorded in
/// <c>&lt;schema&gt;.schema_migrations</c>), all in one transaction under an advisory lock per schema: several processes
/// starting against one database (a sink, the API and the CLI; replicas of a worker) neither race nor half-apply, and a
/// failing script leaves the schema as it was. Scripts name no schema: they run with <c>search_path</c> set to the target,
/// so the same scripts can build a second copy under another name (replay does).
/// </summary>
public static partial class SqlMigrator
{
    /// <summary>The embedded resources of <paramref name="assembly"/> whose names start with <paramref name="resourcePrefix"/>
    /// (e.g. <c>Fulfillment.SchemaRegistry.Migrations.</c>) and end with <c>.sql</c>, named by the rest of the resource name
    /// (<c>001_registry.sql</c>), in apply order.</summary>
    public static IReadOnlyList<SqlScript> EmbeddedScripts(Assembly assembly, string resourcePrefix)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentException.ThrowIfNullOrEmpty(resourcePrefix);
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(resourcePrefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => new SqlScript(n[resourcePrefix.Length..], Read(assembly, n)))
            .ToList();
    }

    /// <summary>Migrates <paramref name="schema"/> with the embedded scripts under <paramref name="resourcePrefix"/>.</summary>
    public static Task<IReadOnlyList<string>> MigrateAsync(
        NpgsqlDataSource dataSource, string schema, Assembly assembly, string resourcePrefix, CancellationToken cancellationToken) =>
        MigrateAsync(dataSource, schema, EmbeddedScripts(assembly, resourcePrefix), cancellationToken);

    /// <summary>Creates <paramref name="schema"/> if needed and applies the scripts not applied yet, in name order;
    /// returns the names applied by this call (empty when it was up to date).</summary>
    public static async Task<IReadOnlyList<string>> MigrateAsync(
        NpgsqlDataSource dataSource, string schema, IReadOnlyList<SqlScript> scripts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(scripts);
        CheckSchemaName(schema);
        var duplicate = scripts.GroupBy(s => s.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Two migration scripts are named {duplicate.Key}.", nameof(scripts));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // Transaction-scoped: released on commit or rollback, even when the process dies mid-migration.
        await ExecuteAsync(connection, tx, "SELECT pg_advisory_xact_lock(hashtextextended('fulfillment-migrations:' || @schema, 0))",
            cancellationToken, ("schema", schema));
        await ExecuteAsync(connection, tx, $"""
            CREATE SCHEMA IF NOT EXISTS {schema};
            CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                name       text        PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            SET LOCAL search_path TO {schema};
            """, cancellationToken);

        var applied = new HashSet<string>(StringComparer.Ordinal);
        await using (var select = new NpgsqlCommand($"SELECT name FROM {schema}.schema_migrations", connection, tx))
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(reader.GetString(0));
            }
        }

        var appliedNow = new List<string>();
        foreach (var script in scripts.OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            if (applied.Contains(script.Name))
            {
                continue;
            }

            try
            {
                await ExecuteAsync(connection, tx, script.Sql, cancellationToken);
            }
            catch (PostgresException e)
            {
                throw new InvalidOperationException($"Migration {script.Name} of schema {schema} failed; nothing was applied: {e.MessageText}", e);
            }

            await ExecuteAsync(connection, tx, $"INSERT INTO {schema}.schema_migrations (name) VALUES (@name)", cancellationToken, ("name", script.Name));
            appliedNow.Add(script.Name);
        }

        await tx.CommitAsync(cancellationToken);
        return appliedNow;
    }

    /// <summary>Throws unless <paramref name="schema"/> is a plain lower-case identifier (it is spliced into SQL).</summary>
    public static string CheckSchemaName(string schema)
    {
        if (schema is null || !SchemaName().IsMatch(schema))
        {
            throw new ArgumentException($"'{schema}' is not a valid schema name: use 1-50 characters of [a-z0-9_], starting with a letter or '_'.", nameof(schema));
        }

        return schema;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sql, CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection, tx);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded migration {resource} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,49}$")]
    private static partial Regex SchemaName();
}
