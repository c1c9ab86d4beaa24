using System.Collections.Concurrent;
using Avro;
using Dapper;
using Fulfillment.Schemas.Compatibility;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fulfillment.SchemaRegistry;

/// <summary>A schema as stored: global id, type, canonical text.</summary>
public sealed record StoredSchema(int Id, string SchemaType, string SchemaText);

/// <summary>One version of one subject.</summary>
public sealed record SubjectVersion(string Subject, int Version, int SchemaId, bool Deleted);

/// <summary>A version selector from a URL: a number, or latest (also spelled -1).</summary>
public readonly record struct VersionSpec(int? Number)
{
    public bool IsLatest => Number is null;

    public static VersionSpec Parse(string text)
    {
        if (string.Equals(text, "latest", StringComparison.OrdinalIgnoreCase) || text == "-1")
        {
            return new VersionSpec(null);
        }

        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0
            ? new VersionSpec(n)
            : throw Errors.InvalidVersion(text);
    }
}

/// <summary>Postgres-backed registry state. Schema ids are immutable, so schemas by id are cached in memory for good.</summary>
public sealed class RegistryStore
{
    // Registrations are rare and ids are global across subjects, so one lock for all of them keeps
    // "same schema → same id" and "one version per schema per subject" true under any race.
    private const long RegisterLockKey = 0x46_52_45_47_52_45_47;
    private const string GlobalConfig = "";

    private readonly NpgsqlDataSource _dataSource;
    private readonly CompatibilityLevel _defaultLevel;
    private readonly ConcurrentDictionary<int, StoredSchema> _byId = new();
    private readonly ConcurrentDictionary<int, Schema> _parsedById = new();

    public RegistryStore(NpgsqlDataSource dataSource, IOptions<RegistryOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource;
        _defaultLevel = options.Value.DefaultLevel;
    }

    public async Task<StoredSchema> GetSchemaAsync(int id, CancellationToken ct)
    {
        if (_byId.TryGetValue(id, out var cached))
        {
            return cached;
        }

        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<StoredSchema>(new CommandDefinition(
            "SELECT id AS Id, schema_type AS SchemaType, schema_text AS SchemaText FROM registry.schemas WHERE id = @id",
            new { id }, cancellationToken: ct)) ?? throw Errors.SchemaIdNotFound(id);
        _byId[id] = row;
        return row;
    }

    public async Task<IReadOnlyList<SubjectVersion>> GetVersionsOfSchemaAsync(int id, bool includeDeleted, CancellationToken ct)
    {
        await GetSchemaAsync(id, ct);
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<SubjectVersion>(new CommandDefinition(
            """
            SELECT subject AS Subject, version AS Version, schema_id AS SchemaId, deleted AS Deleted
            FROM registry.subject_versions WHERE schema_id = @id AND (@includeDeleted OR NOT deleted)
            ORDER BY subject, version
            """, new { id, includeDeleted }, cancellationToken: ct))).ToList();
    }

    public async Task<IReadOnlyList<string>> GetSubjectsAsync(bool includeDeleted, string prefix, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<string>(new CommandDefinition(
            """
            SELECT DISTINCT subject FROM registry.subject_versions
            WHERE (@includeDeleted OR NOT deleted) AND starts_with(subject, @prefix)
            ORDER BY subject
            """, new { includeDeleted, prefix }, cancellationToken: ct))).ToList();
    }

    /// <summary>The subject's versions, oldest first; 40401 when it has none (counting soft-deleted ones only if asked).</summary>
    public async Task<IReadOnlyList<SubjectVersion>> GetSubjectVersionsAsync(string subject, bool includeDeleted, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        var rows = await LoadVersionsAsync(connection, null, subject, includeDeleted, ct);
        return rows.Count == 0 ? throw Errors.SubjectNotFound(subject) : rows;
    }

    public async Task<SubjectVersion> GetVersionAsync(string subject, VersionSpec spec, bool includeDeleted, CancellationToken ct)
    {
        var rows = await GetSubjectVersionsAsync(subject, includeDeleted, ct);
        return Select(subject, rows, spec);
    }

    /// <summary>Registers <paramref name="schema"/> under <paramref name="subject"/> (or finds it there) and returns its global id.</summary>
    public async Task<int> RegisterAsync(string subject, ParsedSchema schema, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(schema);
        await using var connection = await _dataSource.OpenConnectionAsync(ct);

        // Re-registration of a live schema is the common case (every producer start): answer it without the lock.
        var known = await FindLiveIdInSubjectAsync(connection, null, subject, schema.Fingerprint, ct);
        if (known is { } knownId)
        {
            return knownId;
        }

        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@RegisterLockKey)", new { RegisterLockKey }, tx, cancellationToken: ct));

        known = await FindLiveIdInSubjectAsync(connection, tx, subject, schema.Fingerprint, ct);
        if (known is { } raced)
        {
            await tx.CommitAsync(ct);
            return raced;
        }

        var live = await LoadVersionsAsync(connection, tx, subject, includeDeleted: false, ct);
        var level = await GetEffectiveLevelAsync(connection, tx, subject, ct);
        var previous = new List<Schema>(live.Count);
        foreach (var v in live)
        {
            previous.Add(await GetParsedAsync(v.SchemaId, ct));
        }

        var problems = SchemaCompatibility.FindIncompatibilities(level, schema.Avro, previous);
        if (problems.Count > 0)
        {
            throw Errors.Incompatible(
                $"Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{string.Join("; ", problems)}] (compatibility {level.ToConfluentName()})");
        }

        var id = await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
            "SELECT id FROM registry.schemas WHERE fingerprint = @Fingerprint", new { schema.Fingerprint }, tx, cancellationToken: ct));
        id ??= await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            """
            INSERT INTO registry.schemas (id, schema_type, schema_text, fingerprint)
            SELECT COALESCE(MAX(id), 0) + 1, @SchemaType, @Canonical, @Fingerprint FROM registry.schemas
            RETURNING id
            """, new { schema.SchemaType, schema.Canonical, schema.Fingerprint }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO registry.subject_versions (subject, version, schema_id)
            SELECT @subject, COALESCE(MAX(version), 0) + 1, @id FROM registry.subject_versions WHERE subject = @subject
            """, new { subject, id }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        RegistryMetrics.Registered.Inc();
        return id.Value;
    }

    /// <summary>The version of <paramref name="subject"/> holding <paramref name="schema"/> (40401 / 40403 when absent).</summary>
    public async Task<SubjectVersion> LookupAsync(string subject, ParsedSchema schema, bool includeDeleted, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var rows = await GetSubjectVersionsAsync(subject, includeDeleted, ct);
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        var id = await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
            "SELECT id FROM registry.schemas WHERE fingerprint = @Fingerprint", new { schema.Fingerprint }, cancellationToken: ct));
        return rows.Where(r => r.SchemaId == id).OrderBy(r => r.Deleted).ThenByDescending(r => r.Version).FirstOrDefault()
            ?? throw Errors.SchemaNotFound();
    }

    /// <summary>
    /// Problems with <paramref name="schema"/> following the subject under its compatibility level: against the given
    /// version only, or against the live versions (as the level says) when <paramref name="spec"/> is latest or absent.
    /// </summary>
    public async Task<IReadOnlyList<string>> CheckCompatibilityAsync(string subject, VersionSpec? spec, ParsedSchema schema, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(schema);
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        var live = await LoadVersionsAsync(connection, null, subject, includeDeleted: false, ct);
        var level = await GetEffectiveLevelAsync(connection, null, subject, ct);
        IReadOnlyList<SubjectVersion> against;
        if (spec is null || spec.Value.IsLatest)
        {
            against = live;
        }
        else
        {
            if (live.Count == 0)
            {
                throw Errors.SubjectNotFound(subject);
            }

            against = [Select(subject, live, spec.Value)];
        }

        var previous = new List<Schema>(against.Count);
        foreach (var v in against)
        {
            previous.Add(await GetParsedAsync(v.SchemaId, ct));
        }

        return SchemaCompatibility.FindIncompatibilities(level, schema.Avro, previous);
    }

    public async Task<IReadOnlyList<int>> DeleteSubjectAsync(string subject, bool permanent, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@RegisterLockKey)", new { RegisterLockKey }, tx, cancellationToken: ct));
        var all = await LoadVersionsAsync(connection, tx, subject, includeDeleted: true, ct);
        if (all.Count == 0)
        {
            throw Errors.SubjectNotFound(subject);
        }

        var live = all.Where(v => !v.Deleted).Select(v => v.Version).ToList();
        if (permanent)
        {
            if (live.Count > 0)
            {
                throw Errors.SubjectNotSoftDeleted(subject);
            }

            await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM registry.subject_versions WHERE subject = @subject; DELETE FROM registry.config WHERE subject = @subject",
                new { subject }, tx, cancellationToken: ct));
            await tx.CommitAsync(ct);
            return all.Select(v => v.Version).ToList();
        }

        if (live.Count == 0)
        {
            throw Errors.SubjectSoftDeleted(subject);
        }

        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE registry.subject_versions SET deleted = true WHERE subject = @subject AND NOT deleted", new { subject }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return live;
    }

    public async Task<int> DeleteVersionAsync(string subject, VersionSpec spec, bool permanent, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@RegisterLockKey)", new { RegisterLockKey }, tx, cancellationToken: ct));
        var all = await LoadVersionsAsync(connection, tx, subject, includeDeleted: true, ct);
        if (all.Count == 0)
        {
            throw Errors.SubjectNotFound(subject);
        }

        // "latest" means the latest live version for a soft delete, and the latest of any kind for a permanent one.
        var target = Select(subject, permanent || !spec.IsLatest ? all : all.Where(v => !v.Deleted).ToList(), spec);
        if (permanent && !target.Deleted)
        {
            throw Errors.VersionNotSoftDeleted(subject, target.Version);
        }

        if (!permanent && target.Deleted)
        {
            throw Errors.VersionSoftDeleted(subject, target.Version);
        }

        await connection.ExecuteAsync(new CommandDefinition(
            permanent
                ? "DELETE FROM registry.subject_versions WHERE subject = @subject AND version = @Version"
                : "UPDATE registry.subject_versions SET deleted = true WHERE subject = @subject AND version = @Version",
            new { subject, target.Version }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return target.Version;
    }

    public async Task<CompatibilityLevel> GetGlobalLevelAsync(CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return await GetConfiguredLevelAsync(connection, null, GlobalConfig, ct) ?? _defaultLevel;
    }

    /// <summary>The subject's own level; null when it has none.</summary>
    public async Task<CompatibilityLevel?> GetSubjectLevelAsync(string subject, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return await GetConfiguredLevelAsync(connection, null, subject, ct);
    }

    /// <summary>Sets the global level (<paramref name="subject"/> null) or a subject's.</summary>
    public async Task SetLevelAsync(string? subject, CompatibilityLevel level, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO registry.config (subject, compatibility) VALUES (@subject, @level)
            ON CONFLICT (subject) DO UPDATE SET compatibility = excluded.compatibility, updated_at = now()
            """, new { subject = subject ?? GlobalConfig, level = level.ToConfluentName() }, cancellationToken: ct));
    }

    /// <summary>Removes a subject's level and returns the one it had (40401 when the subject has neither versions nor a level).</summary>
    public async Task<CompatibilityLevel> DeleteSubjectLevelAsync(string subject, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        var removed = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "DELETE FROM registry.config WHERE subject = @subject RETURNING compatibility", new { subject }, cancellationToken: ct));
        if (removed is not null && SchemaCompatibility.TryParse(removed, out var level))
        {
            return level.Value;
        }

        var versions = await LoadVersionsAsync(connection, null, subject, includeDeleted: true, ct);
        return versions.Count == 0
            ? throw Errors.SubjectNotFound(subject)
            : await GetConfiguredLevelAsync(connection, null, GlobalConfig, ct) ?? _defaultLevel;
    }

    private static SubjectVersion Select(string subject, IReadOnlyList<SubjectVersion> rows, VersionSpec spec)
    {
        if (rows.Count == 0)
        {
            throw Errors.SubjectNotFound(subject);
        }

        if (spec.IsLatest)
        {
            return rows[^1];
        }

        return rows.FirstOrDefault(r => r.Version == spec.Number) ?? throw Errors.VersionNotFound(subject, spec.Number!.Value);
    }

    private async Task<Schema> GetParsedAsync(int id, CancellationToken ct)
    {
        if (_parsedById.TryGetValue(id, out var parsed))
        {
            return parsed;
        }

        var stored = await GetSchemaAsync(id, ct);
        return _parsedById.GetOrAdd(id, SchemaText.ParseStored(stored.SchemaText));
    }

    private async Task<CompatibilityLevel> GetEffectiveLevelAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string subject, CancellationToken ct) =>
        await GetConfiguredLevelAsync(connection, tx, subject, ct)
        ?? await GetConfiguredLevelAsync(connection, tx, GlobalConfig, ct)
        ?? _defaultLevel;

    private static async Task<CompatibilityLevel?> GetConfiguredLevelAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string subject, CancellationToken ct)
    {
        var text = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT compatibility FROM registry.config WHERE subject = @subject", new { subject }, tx, cancellationToken: ct));
        return SchemaCompatibility.TryParse(text, out var level) ? level : null;
    }

    private static async Task<IReadOnlyList<SubjectVersion>> LoadVersionsAsync(
        NpgsqlConnection connection, NpgsqlTransaction? tx, string subject, bool includeDeleted, CancellationToken ct) =>
        (await connection.QueryAsync<SubjectVersion>(new CommandDefinition(
            """
            SELECT subject AS Subject, version AS Version, schema_id AS SchemaId, deleted AS Deleted
            FROM registry.subject_versions WHERE subject = @subject AND (@includeDeleted OR NOT deleted)
            ORDER BY version
            """, new { subject, includeDeleted }, tx, cancellationToken: ct))).ToList();

    private static Task<int?> FindLiveIdInSubjectAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string subject, byte[] fingerprint, CancellationToken ct) =>
        connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
            """
            SELECT s.id FROM registry.schemas s
            JOIN registry.subject_versions v ON v.schema_id = s.id
            WHERE s.fingerprint = @fingerprint AND v.subject = @subject AND NOT v.deleted
            LIMIT 1
            """, new { fingerprint, subject }, tx, cancellationToken: ct));
}
