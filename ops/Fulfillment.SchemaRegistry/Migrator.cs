using System.Reflection;
using Dapper;
using Npgsql;

namespace Fulfillment.SchemaRegistry;

/// <summary>
/// Applies the embedded <c>Migrations/*.sql</c> scripts in name order, each once, all in one transaction under an
/// advisory lock, so several registry processes starting against one database neither race nor half-apply.
/// </summary>
public static class Migrator
{
    // Arbitrary constant shared by every registry process: "fulfillment registry migrations".
    private const long LockKey = 0x46_52_45_47_4D_49_47;

    /// <summary>Names of the embedded scripts, in the order they apply.</summary>
    public static IReadOnlyList<string> ScriptNames { get; } = typeof(Migrator).Assembly.GetManifestResourceNames()
        .Where(n => n.EndsWith(".sql", StringComparison.Ordinal))
        .Order(StringComparer.Ordinal)
        .ToList();

    /// <summary>Brings the <c>registry</c> schema up to date; returns the scripts applied by this call.</summary>
    public static async Task<IReadOnlyList<string>> MigrateAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@LockKey)", new { LockKey }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            CREATE SCHEMA IF NOT EXISTS registry;
            CREATE TABLE IF NOT EXISTS registry.schema_migrations (
                name       text        PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            """, transaction: tx, cancellationToken: ct));

        var applied = (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT name FROM registry.schema_migrations", transaction: tx, cancellationToken: ct))).ToHashSet(StringComparer.Ordinal);
        var appliedNow = new List<string>();
        foreach (var resource in ScriptNames)
        {
            var name = ShortName(resource);
            if (applied.Contains(name))
            {
                continue;
            }

            await connection.ExecuteAsync(new CommandDefinition(ReadScript(resource), transaction: tx, cancellationToken: ct));
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO registry.schema_migrations (name) VALUES (@name)", new { name }, tx, cancellationToken: ct));
            appliedNow.Add(name);
        }

        await tx.CommitAsync(ct);
        return appliedNow;
    }

    // Resource names are "<root namespace>.Migrations.001_registry.sql"; the file name is the stable identity.
    private static string ShortName(string resource)
    {
        var withoutExtension = resource[..^".sql".Length];
        return withoutExtension[(withoutExtension.LastIndexOf('.') + 1)..] + ".sql";
    }

    private static string ReadScript(string resource)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded migration {resource} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
