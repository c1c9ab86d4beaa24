using System.Security.Cryptography;
using System.Text;
using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Dapper;
using Fulfillment.Schemas.Common;
using Npgsql;

namespace Fulfillment.Api;

/// <summary>Result of accepting a command.</summary>
/// <param name="CommandId">Id to follow (<c>GET /commands/{id}</c>); also the event id.</param>
/// <param name="Replayed">True when the idempotency key was seen before with the same request.</param>
/// <param name="Conflict">True when the idempotency key was seen before with a different request.</param>
public sealed record Accepted(string CommandId, bool Replayed, bool Conflict);

/// <summary>
/// Turns a validated command into an event: stores it durably first (<c>durable.operator_commands</c> for idempotency
/// and follow-up, <c>durable.topic_archive</c> with the exact record bytes so an empty development broker can be
/// re-seeded), then produces it keyed by pool. Ids are deterministic: with an <c>Idempotency-Key</c> (the client's, or
/// one derived from the command's own id such as a receipt or shipment id) the id is a hash of tenant and key, so a
/// retried request gets the same id and produces nothing new.
/// A command reaches the topic once even when the API dies mid-request: producing takes a row lock on the command (a
/// retry arriving meanwhile waits and then finds it produced), and a command found unproduced by anyone but the
/// request that stored it (a retry after a crash, the startup relay) is first looked for on the topic, since the
/// broker may have acknowledged it just before the crash.
/// </summary>
public sealed partial class CommandPublisher(
    NpgsqlDataSource dataSource, IProducer<string, byte[]> producer, ISchemaRegistryClient registry, TopicRecordFinder finder,
    TimeProvider clock, ILogger<CommandPublisher> logger)
{
    private readonly Dictionary<Type, object> _serializers = [];
    private readonly Lock _gate = new();

    public DateTime Now => clock.GetUtcNow().UtcDateTime;

    /// <summary>The command id for a request: from the idempotency key when there is one, else fresh.</summary>
    public static string CommandId(string tenant, string? idempotencyKey) =>
        idempotencyKey is { Length: > 0 }
            ? "cmd-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{tenant}\n{idempotencyKey}")))[..32]
            : "cmd-" + Guid.NewGuid().ToString("N");

    public static EventMetadata Metadata(string commandId, string pool, string correlation, DateTime now) => new()
    {
        event_id = commandId,
        pool_id = pool,
        correlation_id = correlation,
        causation_id = commandId,
        source_system = "operator",
        source_id = commandId,
        occurred_at = now,
        recorded_at = now,
    };

    public async Task<Accepted> PublishAsync<T>(
        Tenant tenant, string? idempotencyKey, string requestHash, string commandId, string kind, string topic, string pool, T value,
        CancellationToken ct)
        where T : ISpecificRecord
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var existing = await connection.QuerySingleOrDefaultAsync<(string RequestHash, DateTime? ProducedAt)?>(new CommandDefinition(
            "SELECT request_hash, produced_at FROM durable.operator_commands WHERE command_id = @commandId", new { commandId }, cancellationToken: ct));
        if (existing is { } seen)
        {
            if (seen.RequestHash != requestHash)
            {
                return new Accepted(commandId, Replayed: true, Conflict: true);
            }

            if (seen.ProducedAt is null)
            {
                await ProduceOnceAsync(commandId, mayBeOnTopic: true, ct);
            }

            return new Accepted(commandId, Replayed: true, Conflict: false);
        }

        var bytes = await SerializerFor<T>().SerializeAsync(value, new SerializationContext(MessageComponentType.Value, topic));
        var now = Now;
        await using (var tx = await connection.BeginTransactionAsync(ct))
        {
            var inserted = await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO durable.operator_commands (command_id, tenant, idempotency_key, request_hash, kind, topic, pool_id, event_id)
                VALUES (@commandId, @tenant, @idempotencyKey, @requestHash, @kind, @topic, @pool, @commandId)
                ON CONFLICT DO NOTHING
                """, new { commandId, tenant = tenant.Name, idempotencyKey, requestHash, kind, topic, pool }, tx, cancellationToken: ct));
            if (inserted == 0)
            {
                // A concurrent request with the same key won the race; answer as for a retry.
                await tx.RollbackAsync(ct);
                return await PublishAsync(tenant, idempotencyKey, requestHash, commandId, kind, topic, pool, value, ct);
            }

            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO durable.topic_archive (topic, event_id, pool_id, key, value, timestamp_ms)
                VALUES (@topic, @commandId, @pool, @key, @bytes, @ms) ON CONFLICT DO NOTHING
                """, new { topic, commandId, pool, key = Encoding.UTF8.GetBytes(pool), bytes, ms = new DateTimeOffset(now).ToUnixTimeMilliseconds() },
                tx, cancellationToken: ct));
            await tx.CommitAsync(ct);
        }

        await ProduceOnceAsync(commandId, mayBeOnTopic: false, ct);
        return new Accepted(commandId, Replayed: false, Conflict: false);
    }

    /// <summary>Produces every stored command that has not reached the broker yet (after a failed produce or a crash
    /// between store and produce); called at startup.</summary>
    public async Task<int> RelayPendingAsync(CancellationToken ct)
    {
        List<string> pending;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
        {
            pending = (await connection.QueryAsync<string>(new CommandDefinition(
                "SELECT command_id FROM durable.operator_commands WHERE produced_at IS NULL ORDER BY created_at", cancellationToken: ct))).ToList();
        }

        var produced = 0;
        foreach (var id in pending)
        {
            produced += await ProduceOnceAsync(id, mayBeOnTopic: true, ct) ? 1 : 0;
        }

        return produced;
    }

    /// <summary>Produces a stored command unless it is produced already; true when this call produced it.</summary>
    /// <param name="commandId">The stored command.</param>
    /// <param name="mayBeOnTopic">False only for the request that stored it a moment ago: nobody else can have
    /// produced it without holding the row lock and marking it. Otherwise a process that died after the broker's
    /// acknowledgement may have left it on the topic unmarked, so the topic is searched first.</param>
    /// <param name="ct">Cancellation.</param>
    private async Task<bool> ProduceOnceAsync(string commandId, bool mayBeOnTopic, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // The lock serializes producers of one command (a retry racing the request it retries, the startup relay, a
        // second API instance); a crash rolls the transaction back and frees it.
        var record = await connection.QuerySingleAsync<(string Topic, string Pool, byte[] Value, long Ms, DateTime? ProducedAt)>(new CommandDefinition(
            """
            SELECT c.topic, c.pool_id, a.value, a.timestamp_ms, c.produced_at FROM durable.operator_commands c
            JOIN durable.topic_archive a ON a.topic = c.topic AND a.event_id = c.event_id
            WHERE c.command_id = @commandId
            FOR UPDATE OF c
            """, new { commandId }, tx, cancellationToken: ct));
        if (record.ProducedAt is not null)
        {
            await tx.CommitAsync(ct);
            return false;
        }

        var produce = !mayBeOnTopic || !await Task.Run(() => finder.Contains(record.Topic, record.Value, record.Ms, ct), ct);
        if (produce)
        {
            await producer.ProduceAsync(record.Topic, new Message<string, byte[]>
            {
                Key = record.Pool,
                Value = record.Value,
                Timestamp = new Timestamp(record.Ms, TimestampType.CreateTime),
            }, ct);
            LogProduced(logger, commandId, record.Topic, record.Pool);
        }
        else
        {
            LogFoundOnTopic(logger, commandId, record.Topic);
        }

        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE durable.operator_commands SET produced_at = now() WHERE command_id = @commandId", new { commandId }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return produce;
    }

    private AvroSerializer<T> SerializerFor<T>()
        where T : ISpecificRecord
    {
        lock (_gate)
        {
            if (!_serializers.TryGetValue(typeof(T), out var serializer))
            {
                serializer = new AvroSerializer<T>(registry, new AvroSerializerConfig { AutoRegisterSchemas = true });
                _serializers[typeof(T)] = serializer;
            }

            return (AvroSerializer<T>)serializer;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Command {CommandId} produced to {Topic} (pool {Pool})")]
    private static partial void LogProduced(ILogger logger, string commandId, string topic, string pool);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Command {CommandId} was already on {Topic} though not marked produced (the API stopped right after producing it); marked, not produced again")]
    private static partial void LogFoundOnTopic(ILogger logger, string commandId, string topic);
}
