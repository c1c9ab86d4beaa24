using Fulfillment.Hosting;
using Npgsql;
using NpgsqlTypes;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>A source record channel sync has finished with: its topic and its (deterministic) event id.</summary>
public readonly record struct HandledRecord(string Topic, string EventId);

/// <summary>
/// Which source records channel sync has finished with, kept where a broker restart cannot lose it. Offsets cannot serve:
/// after a development broker restart the topics are re-seeded and re-derived at offsets of their own, and the consumer
/// group's commits are gone. Event ids can: they are deterministic, so a re-derived shipment or stock-level event carries
/// the id it had before, and a record found here is completed without calling the channel again.
/// </summary>
public interface IHandledLedger
{
    /// <summary>Whether the ledger survives a restart (false: in memory only, no Postgres configured).</summary>
    bool Durable { get; }

    /// <summary>Everything recorded so far.</summary>
    Task<IReadOnlyCollection<HandledRecord>> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Records <paramref name="records"/> (idempotent).</summary>
    Task AddAsync(IReadOnlyCollection<HandledRecord> records, CancellationToken cancellationToken);
}

/// <summary>No durable ledger (no <c>Postgres:ConnectionString</c>): Kafka's committed offsets are the only memory, which is
/// enough on a broker that keeps them.</summary>
public sealed class InMemoryHandledLedger : IHandledLedger
{
    public bool Durable => false;

    public Task<IReadOnlyCollection<HandledRecord>> LoadAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyCollection<HandledRecord>>([]);

    public Task AddAsync(IReadOnlyCollection<HandledRecord> records, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The ledger in Postgres (schema <see cref="ChannelSyncOptions.LedgerSchema"/>, table <c>handled_records</c>),
/// migrated with Hosting's <see cref="SqlMigrator"/> on first use.</summary>
public sealed class PostgresHandledLedger(NpgsqlDataSource dataSource, string schema) : IHandledLedger
{
    private readonly string _schema = SqlMigrator.CheckSchemaName(schema);
    private readonly SemaphoreSlim _migrated = new(1, 1);
    private bool _ready;

    public bool Durable => true;

    public async Task<IReadOnlyCollection<HandledRecord>> LoadAsync(CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"SELECT topic, event_id FROM {_schema}.handled_records", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var records = new List<HandledRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(new HandledRecord(reader.GetString(0), reader.GetString(1)));
        }

        return records;
    }

    public async Task AddAsync(IReadOnlyCollection<HandledRecord> records, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return;
        }

        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            $"INSERT INTO {_schema}.handled_records (topic, event_id) SELECT * FROM unnest(@topics, @ids) ON CONFLICT DO NOTHING", connection);
        command.Parameters.Add(new NpgsqlParameter("topics", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = records.Select(r => r.Topic).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = records.Select(r => r.EventId).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        if (_ready)
        {
            return;
        }

        await _migrated.WaitAsync(cancellationToken);
        try
        {
            if (!_ready)
            {
                await SqlMigrator.MigrateAsync(dataSource, _schema, typeof(PostgresHandledLedger).Assembly,
                    "Fulfillment.Sinks.ChannelSync.Migrations.", cancellationToken);
                _ready = true;
            }
        }
        finally
        {
            _migrated.Release();
        }
    }
}
